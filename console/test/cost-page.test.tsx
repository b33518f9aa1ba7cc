import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { UsageReport } from "../src/api/types";
import { CostPage } from "../src/pages/CostPage";
import { fakeApi, renderScreen } from "./render";

const janitor = "00000000-0000-4000-8000-000000000301";
const planner = "00000000-0000-4000-8000-000000000302";
const hourMs = 3_600_000;

function report(since: string, until: string): UsageReport {
  return {
    since,
    until,
    totals: { input_tokens: 1_234_567, output_tokens: 89_012, cached_tokens: 1_000, cost_usd: 1.2345678, calls: 42 },
    by_agent: [
      { agent_id: janitor, agent_name: "janitor", input_tokens: 1_000_000, output_tokens: 80_000, cached_tokens: 1_000, cost_usd: 1.2, calls: 40 },
      { agent_id: planner, agent_name: "planner", input_tokens: 234_567, output_tokens: 9_012, cached_tokens: 0, cost_usd: 0.0345678, calls: 2 },
    ],
    by_model: [
      { model: "openai/gpt-4o", input_tokens: 1_200_000, output_tokens: 88_000, cached_tokens: 1_000, cost_usd: 1.23, calls: 41 },
      { model: "anthropic/claude-haiku", input_tokens: 34_567, output_tokens: 1_012, cached_tokens: 0, cost_usd: 0.0045678, calls: 1 },
    ],
    bucket: "hour",
    series: [
      { start: "2026-11-26T10:00:00Z", cost_usd: 0.0000042, input_tokens: 10, output_tokens: 2 },
      { start: "2026-11-26T11:00:00Z", cost_usd: 1.2345636, input_tokens: 1_234_557, output_tokens: 89_010 },
    ],
  };
}

const empty = (since: string, until: string): UsageReport => ({
  since,
  until,
  totals: { input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 0, calls: 0 },
  by_agent: [],
  by_model: [],
  bucket: "day",
  series: [],
});

function api(answer: (since: string, until: string) => UsageReport = report) {
  return fakeApi({
    "GET /v1/agents": () => ({
      agents: [
        { id: janitor, name: "janitor", created_at: "2026-01-01T00:00:00Z" },
        { id: planner, name: "planner", created_at: "2026-01-01T00:00:00Z" },
      ],
    }),
    "GET /v1/usage": ({ url }) => answer(url.searchParams.get("since") ?? "", url.searchParams.get("until") ?? ""),
  });
}

const usageCalls = (f: ReturnType<typeof api>) => f.calls.filter((c) => c.url.pathname === "/v1/usage");
const spanMs = (url: URL) => Date.parse(url.searchParams.get("until") ?? "") - Date.parse(url.searchParams.get("since") ?? "");

describe("CostPage", () => {
  it("reports the last 24 hours by default: totals, and exact values in each chart's table", async () => {
    const fetch = api();
    renderScreen(<CostPage />, { role: "viewer", fetch });

    const dl = await screen.findByLabelText("Totals");
    expect(dl).toHaveTextContent("Cost$1.234568");
    expect(dl).toHaveTextContent("Input tokens1,234,567");
    expect(dl).toHaveTextContent("Output tokens89,012");
    expect(dl).toHaveTextContent("LLM calls42");
    expect(spanMs(usageCalls(fetch)[0]!.url)).toBe(24 * hourMs);
    expect(usageCalls(fetch)[0]!.url.searchParams.has("agent_id")).toBe(false);

    const byAgent = screen.getByRole("region", { name: "Cost by agent" });
    const planner = within(byAgent).getByRole("row", { name: /planner/ });
    expect(within(planner).getAllByRole("cell").map((c) => c.textContent)).toEqual(["$0.034568", "2.8%", "234,567", "9,012", "2"]);
    expect(within(byAgent).getByRole("figure")).toHaveTextContent("Most expensive: janitor $1.2000 (97.2%), planner $0.034568 (2.8%). 2 agents in all.");

    const byModel = screen.getByRole("region", { name: "Cost by model" });
    expect(screen.getByRole("heading", { name: "Cost by model" })).toBeInTheDocument();
    expect(within(within(byModel).getByRole("row", { name: /openai\/gpt-4o/ })).getAllByRole("cell")[0]).toHaveTextContent("$1.2300");

    const overTime = screen.getByRole("region", { name: "Cost over time" });
    const rows = within(overTime).getAllByRole("row").slice(1);
    expect(rows.map((r) => within(r).getAllByRole("cell")[0]?.textContent)).toEqual(["$0.000004", "$1.234564"]);
    // The picture is drawn too, hidden from screen readers (the table carries the numbers).
    expect(byAgent.querySelector(".chart svg")).not.toBeNull();
    expect(byAgent.querySelector(".chart")).toHaveAttribute("aria-hidden", "true");
  });

  it("asks for the chosen preset, a custom range and an agent", async () => {
    const user = userEvent.setup();
    const fetch = api();
    renderScreen(<CostPage />, { role: "operator", fetch });
    await screen.findByLabelText("Totals");

    await user.selectOptions(screen.getByRole("combobox", { name: "Period" }), "7d");
    await waitFor(() => expect(usageCalls(fetch)).toHaveLength(2));
    expect(spanMs(usageCalls(fetch)[1]!.url)).toBe(7 * 24 * hourMs);

    await user.selectOptions(screen.getByRole("combobox", { name: "Agent" }), "planner");
    await waitFor(() => expect(usageCalls(fetch)).toHaveLength(3));
    expect(usageCalls(fetch)[2]!.url.searchParams.get("agent_id")).toBe(planner);

    await user.selectOptions(screen.getByRole("combobox", { name: "Period" }), "custom");
    const from = screen.getByLabelText("From");
    const to = screen.getByLabelText("To");
    await user.clear(from);
    await user.type(from, "2026-11-01T08:00");
    await user.clear(to);
    await user.type(to, "2026-11-01T07:00");
    await user.click(screen.getByRole("button", { name: "Show" }));
    expect(screen.getByRole("alert")).toHaveTextContent("To: must be after From");
    expect(to).toHaveFocus();
    expect(usageCalls(fetch)).toHaveLength(3);

    await user.clear(to);
    await user.type(to, "2026-11-03T08:00");
    await user.click(screen.getByRole("button", { name: "Show" }));
    await waitFor(() => expect(usageCalls(fetch)).toHaveLength(4));
    const url = usageCalls(fetch)[3]!.url;
    expect(url.searchParams.get("since")).toBe(new Date("2026-11-01T08:00").toISOString());
    expect(url.searchParams.get("until")).toBe(new Date("2026-11-03T08:00").toISOString());
    expect(url.searchParams.get("agent_id")).toBe(planner);
  });

  it("says when nothing was spent in the period", async () => {
    renderScreen(<CostPage />, { role: "viewer", fetch: api(empty) });
    expect(await screen.findByText("No LLM usage in this period")).toBeInTheDocument();
    expect(screen.queryByLabelText("Totals")).not.toBeInTheDocument();
  });

  it("shows the API's refusal in words", async () => {
    const fetch = fakeApi({
      "GET /v1/agents": () => ({ agents: [] }),
      "GET /v1/usage": () =>
        new Response(JSON.stringify({ error: { code: "invalid_argument", message: "must be after since", field: "until" } }), { status: 400 }),
    });
    renderScreen(<CostPage />, { role: "viewer", fetch });
    expect(await screen.findByRole("alert")).toHaveTextContent("until: must be after since");
  });
});
