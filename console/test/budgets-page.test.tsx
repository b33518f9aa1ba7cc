import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Budget, OwnerBudgets } from "../src/api/types";
import { BudgetsPage } from "../src/pages/BudgetsPage";
import { agentId, agents, budget, otherAgentId } from "./dag-fixtures";
import { fakeApi, renderScreen, type RenderOptions } from "./render";

const dayBudget = budget({
  scope: "agent",
  scope_id: agentId,
  period: "day",
  limit_usd: 5,
  limit_tokens: 100_000,
  spent_usd: 1.25,
  spent_tokens: 40_000,
  reserved_usd: 0.000404,
  reserved_tokens: 1_010,
  remaining_usd: 3.749596,
  remaining_tokens: 58_990,
  resets_at: "2026-03-02T00:00:00Z",
});
const totalBudget = budget({ scope: "agent", scope_id: agentId, period: "total", limit_usd: 100, spent_usd: 12.5, remaining_usd: 87.5 });

/** The API for the researcher agent's budgets: PUT replaces them as the API does (limits only, nothing spent here). */
function budgetsApi(initial: Budget[], overrides: Parameters<typeof fakeApi>[0] = {}) {
  let current = initial;
  const api = fakeApi({
    "GET /v1/agents": () => agents,
    [`GET /v1/agents/${agentId}/budget`]: () => ({ budgets: current }),
    [`GET /v1/agents/${otherAgentId}/budget`]: () => ({ budgets: [] }),
    [`PUT /v1/agents/${agentId}/budget`]: ({ body }) => {
      current = Object.entries(body as OwnerBudgets).map(([period, limit]) =>
        budget({
          scope: "agent",
          scope_id: agentId,
          period: period as Budget["period"],
          limit_usd: limit?.usd ?? null,
          limit_tokens: limit?.tokens ?? null,
          spent_usd: 0,
          spent_tokens: 0,
          remaining_usd: limit?.usd ?? null,
          remaining_tokens: limit?.tokens ?? null,
        }),
      );
      return { budgets: current };
    },
    ...overrides,
  });
  return api;
}

const open = (fetchImpl: typeof fetch, options: RenderOptions = {}) =>
  renderScreen(<BudgetsPage />, { route: "/budgets", path: "/budgets", fetch: fetchImpl, ...options });

const field = (period: string, label: "USD limit" | "Token limit") => within(screen.getByRole("group", { name: period })).getByLabelText(label);

describe("Budgets page", () => {
  it("shows a viewer an agent's budgets with the exact numbers, and no form", async () => {
    const api = budgetsApi([totalBudget, dayBudget]);
    open(api, { role: "viewer" });

    const table = await screen.findByRole("table", { name: "Budgets of researcher" });
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((r) => within(r).getByRole("rowheader").textContent)).toEqual(["Total (never resets)", "Today (UTC)"]);
    expect(within(rows[0]!).getAllByRole("cell").map((c) => c.textContent)).toEqual(["$100.0000", "$12.5000", "$0.0000", "$87.5000", "never"]);
    expect(within(rows[1]!).getAllByRole("cell").map((c) => c.textContent).slice(0, 4)).toEqual([
      "$5.0000 and 100,000 tokens",
      "$1.2500 and 40,000 tokens",
      "$0.000404 and 1,010 tokens",
      "$3.749596 and 58,990 tokens",
    ]);
    expect(screen.queryByRole("form", { name: /Set the budgets/ })).not.toBeInTheDocument();
    expect(screen.getByText("Setting budgets needs the admin or operator role; your key's role is viewer.")).toBeInTheDocument();
  });

  it("follows the chosen agent, and says when it has no budget", async () => {
    const user = userEvent.setup();
    const api = budgetsApi([dayBudget]);
    open(api, { role: "viewer", path: `/budgets?agent=${otherAgentId}` });

    expect(await screen.findByText("summariser has no budget")).toBeInTheDocument();
    expect(screen.getByLabelText("Agent")).toHaveValue(otherAgentId);
    await user.selectOptions(screen.getByLabelText("Agent"), "researcher");
    expect(await screen.findByRole("table", { name: "Budgets of researcher" })).toBeInTheDocument();
    expect(api.calls.map((c) => `${c.method} ${c.url.pathname}`)).toEqual([
      "GET /v1/agents",
      `GET /v1/agents/${otherAgentId}/budget`,
      `GET /v1/agents/${agentId}/budget`,
    ]);
  });

  it("lets an operator change, add and remove budgets: the whole set is sent, a period left empty has none", async () => {
    const user = userEvent.setup();
    const api = budgetsApi([totalBudget, dayBudget]);
    open(api, { role: "operator" });

    // The form starts from the limits in force.
    await screen.findByRole("table", { name: "Budgets of researcher" });
    expect(field("Total", "USD limit")).toHaveValue("100");
    expect(field("Per day", "USD limit")).toHaveValue("5");
    expect(field("Per day", "Token limit")).toHaveValue("100000");
    expect(field("Per hour", "USD limit")).toHaveValue("");

    await user.clear(field("Total", "USD limit"));
    await user.clear(field("Per day", "Token limit"));
    await user.clear(field("Per day", "USD limit"));
    await user.type(field("Per day", "USD limit"), "2.5");
    await user.type(field("Per month", "Token limit"), "2000000");
    await user.click(screen.getByRole("button", { name: "Save budgets" }));

    expect(await screen.findByRole("status")).toHaveTextContent("Saved the budgets of researcher.");
    expect(api.calls.filter((c) => c.method === "PUT").map((c) => c.body)).toEqual([{ day: { usd: 2.5 }, month: { tokens: 2_000_000 } }]);
    // The table shows what the API now holds.
    await waitFor(() =>
      expect(within(screen.getByRole("table", { name: "Budgets of researcher" })).getAllByRole("rowheader").map((h) => h.textContent)).toEqual([
        "Today (UTC)",
        "This month (UTC)",
      ]),
    );

    await user.click(screen.getByRole("button", { name: "Clear all fields" }));
    await user.click(screen.getByRole("button", { name: "Save budgets" }));
    expect(await screen.findByText("Removed every budget of researcher.")).toBeInTheDocument();
    expect(api.calls.filter((c) => c.method === "PUT").at(-1)?.body).toEqual({});
    expect(await screen.findByText("researcher has no budget")).toBeInTheDocument();
  });

  it("names the field of a value that is not a limit, before sending anything", async () => {
    const user = userEvent.setup();
    const api = budgetsApi([]);
    open(api, { role: "admin" });

    await user.type(await waitFor(() => field("Total", "USD limit")), "0.0000001");
    await user.click(screen.getByRole("button", { name: "Save budgets" }));
    expect(screen.getByRole("alert")).toHaveTextContent("total.usd: enter dollars as a number such as 5 or 0.25, with at most 6 decimals");
    expect(field("Total", "USD limit")).toHaveFocus();
    expect(field("Total", "USD limit")).toHaveAttribute("aria-invalid", "true");

    await user.clear(field("Total", "USD limit"));
    await user.type(field("Per hour", "Token limit"), "12.5");
    await user.click(screen.getByRole("button", { name: "Save budgets" }));
    expect(screen.getByRole("alert")).toHaveTextContent("hour.tokens: enter a whole number of tokens");
    expect(field("Per hour", "Token limit")).toHaveFocus();
    expect(api.calls.some((c) => c.method === "PUT")).toBe(false);
  });

  it("shows the API's refusal naming the field, and marks and focuses that field", async () => {
    const user = userEvent.setup();
    const api = budgetsApi([], {
      [`PUT /v1/agents/${agentId}/budget`]: () =>
        new Response(JSON.stringify({ error: { code: "invalid_argument", message: "month.usd: Too big: expected number to be <=1000000000", field: "month.usd" } }), {
          status: 400,
        }),
    });
    open(api, { role: "admin" });

    await user.type(await waitFor(() => field("Per month", "USD limit")), "2000000000");
    await user.click(screen.getByRole("button", { name: "Save budgets" }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Could not save the budgets: month.usd: Too big: expected number to be <=1000000000");
    expect(alert.textContent).not.toContain("month.usd: month.usd");
    expect(field("Per month", "USD limit")).toHaveFocus();
    expect(field("Per month", "USD limit")).toHaveAttribute("aria-invalid", "true");
    expect(field("Per month", "USD limit")).toHaveAccessibleDescription(alert.textContent!);
  });
});
