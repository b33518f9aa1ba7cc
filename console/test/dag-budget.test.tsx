import "./react-flow-env";
import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Dag, DagBudget } from "../src/api/types";
import { DagPage } from "../src/pages/DagPage";
import { agentId, agents, budget, dag, dagId, task } from "./dag-fixtures";
import { fakeApi, renderScreen } from "./render";

const keyId = "55555555-5555-4555-8555-555555555555";
const refusal = `dag ${dagId} budget: worst case $0.001604 does not fit: $0.000016 spent + $0.000000 reserved of $0.001000 (lower max_tokens or raise the budget)`;

function withBudget(d: Dag, budget: DagBudget): Dag {
  return { ...d, budget };
}

const open = (body: Dag) =>
  renderScreen(<DagPage />, {
    route: "/dags/:id",
    path: `/dags/${dagId}`,
    fetch: fakeApi({ "GET /v1/agents": () => agents, [`GET /v1/dags/${dagId}`]: () => body }),
  });

const stoppedByBudget = () =>
  dag({
    name: "budget-capped",
    status: "failed",
    finished_at: "2026-03-01T10:00:05Z",
    tasks: [
      task("outline", { status: "succeeded", usage: { input_tokens: 26, output_tokens: 26, cached_tokens: 0, cost_usd: 0.000013 } }),
      task("draft", {
        status: "failed",
        depends_on: ["outline"],
        error: `budget_exceeded: ${refusal}`,
        attempts: [{ number: 1, status: "failed", worker_id: "worker-a", started_at: "2026-03-01T10:00:02Z", finished_at: "2026-03-01T10:00:02Z", error: `budget_exceeded: ${refusal}` }],
      }),
      task("polish", { status: "skipped", depends_on: ["draft"] }),
    ],
  });

describe("DAG page: budgets", () => {
  it("lists every budget that applies with its exact limit, spend, reservation, remainder and reset", async () => {
    open(
      withBudget(stoppedByBudget(), {
        on_exhausted: "fail",
        budgets: [
          budget(),
          budget({
            scope: "agent",
            scope_id: agentId,
            period: "day",
            limit_usd: 5,
            limit_tokens: 100_000,
            spent_usd: 1.234567,
            spent_tokens: 41_000,
            reserved_usd: 0.0016,
            reserved_tokens: 4_010,
            remaining_usd: 3.763833,
            remaining_tokens: 54_990,
            resets_at: "2026-03-02T00:00:00Z",
          }),
          budget({ scope: "api_key", scope_id: keyId, period: "month", limit_usd: null, limit_tokens: 1_000, spent_tokens: 1_000, remaining_usd: null, remaining_tokens: 0, resets_at: "2026-04-01T00:00:00Z" }),
        ],
      }),
    );

    const section = await screen.findByRole("region", { name: "Budget" });
    expect(section).toHaveTextContent("A call that does not fit fails its task with budget_exceeded (no retry).");
    const table = within(section).getByRole("table", { name: "Budgets that apply to this DAG" });
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((r) => within(r).getByRole("rowheader").textContent)).toEqual(["This DAG", "Agent researcher", `API key ${keyId} (submitted it)`]);
    const cells = (row: HTMLElement) => within(row).getAllByRole("cell").map((c) => c.textContent);
    // Period, limit, spent, reserved, remaining, resets: dollars to the micro-dollar, tokens in full.
    expect(cells(rows[0]!)).toEqual(["Total (never resets)", "$0.0010", "$0.000016", "$0.0000", "$0.000984", "never"]);
    expect(cells(rows[1]!).slice(0, 5)).toEqual([
      "Today (UTC)",
      "$5.0000 and 100,000 tokens",
      "$1.234567 and 41,000 tokens",
      "$0.0016 and 4,010 tokens",
      "$3.763833 and 54,990 tokens",
    ]);
    expect(cells(rows[1]!)[5]).not.toBe("never");
    // A token-only budget shows tokens only, and says when nothing is left.
    expect(cells(rows[2]!).slice(0, 5)).toEqual(["This month (UTC)", "1,000 tokens", "1,000 tokens", "0 tokens", "0 tokens (used up)"]);
  });

  it("makes a budget_exceeded failure readable in the table, the graph and the task's panel", async () => {
    const user = userEvent.setup();
    open(withBudget(stoppedByBudget(), { on_exhausted: "fail", budgets: [budget()] }));

    const table = await screen.findByRole("table", { name: "Tasks" });
    const draft = within(table).getByRole("rowheader", { name: "draft" }).closest("tr")!;
    expect(draft).toHaveTextContent("failed budget exceeded");
    expect(within(table).getByRole("rowheader", { name: "polish" }).closest("tr")).toHaveTextContent("skipped");
    expect(screen.getByRole("button", { name: "Task draft, llm, failed, budget exceeded" })).toBeInTheDocument();

    await user.click(within(draft).getByRole("button", { name: "Show task draft" }));
    const panel = screen.getByRole("region", { name: "Task draft" });
    expect(within(panel).getByRole("heading", { name: "Stopped by a budget" })).toBeInTheDocument();
    expect(panel).toHaveTextContent("The LLM call was refused before it was sent (nothing was spent on it), and the task failed without a retry.");
    expect(panel).toHaveTextContent(refusal);
    expect(within(panel).queryByRole("heading", { name: "Error" })).not.toBeInTheDocument();
  });

  it("shows a task waiting for a budget in the table, the graph and its panel", async () => {
    const user = userEvent.setup();
    const waiting = dag({
      tasks: [
        task("outline", { status: "succeeded" }),
        task("draft", { status: "ready", depends_on: ["outline"], waiting_for: "budget" }),
      ],
    });
    renderScreen(<DagPage />, {
      route: "/dags/:id",
      path: `/dags/${dagId}`,
      fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
        // The DAG is running: keep its event stream open and quiet.
        if (String(input).endsWith("/events")) return new Response(new ReadableStream(), { status: 200, headers: { "content-type": "text/event-stream" } });
        return fakeApi({ "GET /v1/agents": () => agents, [`GET /v1/dags/${dagId}`]: () => withBudget(waiting, { on_exhausted: "wait_for_reset", budgets: [budget()] }) })(input, init);
      }) as typeof fetch,
    });

    const table = await screen.findByRole("table", { name: "Tasks" });
    expect(within(table).getByRole("rowheader", { name: "draft" }).closest("tr")).toHaveTextContent("ready waiting for budget");
    expect(screen.getByRole("button", { name: "Task draft, llm, ready, waiting for budget" })).toBeInTheDocument();
    expect(screen.getByRole("region", { name: "Budget" })).toHaveTextContent("waits for the period's reset");

    await user.click(screen.getByRole("button", { name: "Show task draft" }));
    expect(screen.getByRole("region", { name: "Task draft" })).toHaveTextContent(
      "Waiting for budget: its next LLM call's worst case does not fit a budget yet.",
    );
  });

  it("says when no budget applies, and shows no Budget section when the API reports none", async () => {
    const first = open(withBudget(stoppedByBudget(), { on_exhausted: "fail", budgets: [] }));
    expect(await screen.findByRole("region", { name: "Budget" })).toHaveTextContent(
      "No budget applies to this DAG: neither it, its agent nor the key that submitted it has one.",
    );
    expect(screen.queryByRole("table", { name: "Budgets that apply to this DAG" })).not.toBeInTheDocument();
    first.unmount();

    open(stoppedByBudget());
    await screen.findByRole("table", { name: "Tasks" });
    expect(screen.queryByRole("region", { name: "Budget" })).not.toBeInTheDocument();
  });
});
