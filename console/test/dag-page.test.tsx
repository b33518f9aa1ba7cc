import "./react-flow-env";
import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Dag } from "../src/api/types";
import { DagPage } from "../src/pages/DagPage";
import { agents, dag, dagId, eventStream, task, traceId } from "./dag-fixtures";
import { fakeApi, meFor, renderScreen } from "./render";

const links = {
  trace_url_template: "http://jaeger.test/trace/{trace_id}",
  logs_url_template: "http://grafana.test/explore?dag={dag_id}&task={task_id}&trace={trace_id}",
};

/** The API for one DAG: GET answers `current()`, the event stream is `stream` (a new one per connection). */
function dagApi(current: () => Dag | Response, onEvents?: (signal: AbortSignal | null | undefined) => Response, extra: Parameters<typeof fakeApi>[0] = {}) {
  const api = fakeApi({ "GET /v1/agents": () => agents, [`GET /v1/dags/${dagId}`]: () => current(), ...extra });
  const streams: Array<ReturnType<typeof eventStream>> = [];
  const impl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    if (String(input).endsWith(`/v1/dags/${dagId}/events`)) {
      api.calls.push({ method: "GET", url: new URL(String(input), "http://console.test"), body: undefined });
      if (onEvents) return onEvents(init?.signal);
      const stream = eventStream(init?.signal);
      streams.push(stream);
      return stream.response;
    }
    return api(input, init);
  }) as typeof fetch;
  return { fetch: impl, calls: api.calls, streams };
}

const open = (fetchImpl: typeof fetch, role: Parameters<typeof meFor>[0] = "admin", withLinks = true) =>
  renderScreen(<DagPage />, { route: "/dags/:id", path: `/dags/${dagId}`, me: meFor(role, withLinks ? links : {}), fetch: fetchImpl });

describe("DAG page", () => {
  it("shows the DAG's header, its graph nodes and the Tasks table", async () => {
    const api = dagApi(() =>
      dag({ status: "succeeded", finished_at: "2026-03-01T10:01:00Z", totals: { input_tokens: 1500, output_tokens: 500, cached_tokens: 100, cost_usd: 0.0099 } }),
    );
    open(api.fetch);

    expect(await screen.findByRole("heading", { level: 1, name: "research-brief" })).toBeInTheDocument();
    expect(screen.getByRole("status")).toHaveTextContent("Finished");
    expect(screen.getByText(traceId)).toBeInTheDocument();
    expect(screen.getByText("$0.0099")).toBeInTheDocument();
    expect(screen.getByText("1,500 in, 500 out (100 cached)")).toBeInTheDocument();
    await waitFor(() => expect(screen.getByText("researcher")).toBeInTheDocument());

    // Graph: a node (a button) per task, saying id, kind and status in words.
    expect(await screen.findByRole("button", { name: "Task plan, llm, succeeded" })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Task stats, tool, awaiting approval" })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Task report, llm, pending" })).toBeInTheDocument();

    const table = screen.getByRole("table", { name: "Tasks" });
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((r) => within(r).getByRole("rowheader").textContent)).toEqual(["plan", "stats", "report"]);
    expect(rows[0]).toHaveTextContent("2,000");
    expect(rows[2]).toHaveTextContent("plan, stats");
    expect(within(rows[1]!).getByRole("link", { name: "Review in Approvals" })).toHaveAttribute("href", "/approvals");
    // A finished DAG is not followed: no event stream was opened.
    expect(api.calls.some((c) => c.url.pathname.endsWith("/events"))).toBe(false);
  });

  it("shows a task's output, attempts, usage and logs link when it is chosen in the table or the graph", async () => {
    const user = userEvent.setup();
    const api = dagApi(() => dag({ status: "succeeded" }));
    open(api.fetch);

    await user.click(await screen.findByRole("button", { name: "Show task plan" }));
    const panel = screen.getByRole("region", { name: "Task plan" });
    expect(within(panel).getByRole("heading", { name: "Task plan" })).toHaveFocus();
    expect(within(panel).getByLabelText("Output of plan")).toHaveTextContent(/"outline": \[\s*"claiming",\s*"failures"\s*\]/);
    const attempts = within(panel).getByRole("table", { name: "Attempts of task plan" });
    expect(within(attempts).getAllByRole("row")).toHaveLength(3);
    expect(attempts).toHaveTextContent("worker-a");
    expect(attempts).toHaveTextContent("provider timeout");
    const usage = within(panel).getByRole("table", { name: "Usage of task plan" });
    expect(usage).toHaveTextContent("1,500");
    expect(usage).toHaveTextContent("100");
    expect(usage).toHaveTextContent("$0.0042");
    expect(within(panel).getByRole("link", { name: /Task logs in Grafana/ })).toHaveAttribute(
      "href",
      `http://grafana.test/explore?dag=${dagId}&task=plan&trace=${traceId}`,
    );

    // Keyboard: Tab reaches a node, Enter selects it. (A mouse click is the same button's click;
    // user-event's pointer events trip d3-zoom in jsdom, which has no window on the events.)
    screen.getByRole("button", { name: "Task stats, tool, awaiting approval" }).focus();
    await user.keyboard("{Enter}");
    const statsPanel = screen.getByRole("region", { name: "Task stats" });
    expect(statsPanel).toHaveTextContent("No output yet.");
    expect(within(statsPanel).getByRole("link", { name: "review it in Approvals" })).toHaveAttribute("href", "/approvals");
    expect(screen.getByRole("button", { name: "Task stats, tool, awaiting approval" })).toHaveAttribute("aria-pressed", "true");

    fireEvent.click(screen.getByRole("button", { name: "Task report, llm, pending" }));
    expect(await screen.findByRole("region", { name: "Task report" })).toHaveTextContent("No attempt has started yet.");
  });

  it("builds the Jaeger and Grafana links from the templates, and leaves them out without", async () => {
    const api = dagApi(() => dag({ status: "succeeded", trace_id: "a b/c" }));
    const first = open(api.fetch);
    const trace = await screen.findByRole("link", { name: /Trace in Jaeger/ });
    expect(trace).toHaveAttribute("href", "http://jaeger.test/trace/a%20b%2Fc");
    expect(trace).toHaveAttribute("target", "_blank");
    expect(trace).toHaveAttribute("rel", "noopener noreferrer");
    expect(screen.getByRole("link", { name: /Logs in Grafana/ })).toHaveAttribute("href", `http://grafana.test/explore?dag=${dagId}&task=&trace=a%20b%2Fc`);
    first.unmount();

    open(dagApi(() => dag({ status: "succeeded" })).fetch, "admin", false);
    await screen.findByRole("heading", { level: 1, name: "research-brief" });
    expect(screen.queryByRole("link", { name: /Trace in Jaeger/ })).not.toBeInTheDocument();
    expect(screen.queryByRole("link", { name: /Logs in Grafana/ })).not.toBeInTheDocument();
  });

  it("offers no Jaeger link for a DAG without a trace id", async () => {
    const { trace_id: _none, ...untraced } = dag({ status: "succeeded" });
    open(dagApi(() => untraced).fetch);
    await screen.findByRole("heading", { level: 1, name: "research-brief" });
    expect(screen.queryByRole("link", { name: /Trace in Jaeger/ })).not.toBeInTheDocument();
    expect(screen.getByText("none recorded")).toBeInTheDocument();
  });

  it("follows the event stream: each event refetches the DAG, and the stream's end shows Finished", async () => {
    let current = dag();
    const api = dagApi(() => current);
    open(api.fetch);

    await waitFor(() => expect(api.streams).toHaveLength(1));
    const stream = api.streams[0]!;
    act(() => stream.send({ type: "task_status", task_id: "plan", status: "succeeded" }));
    expect(await screen.findByText("Live")).toBeInTheDocument();

    current = dag({ tasks: dag().tasks.map((t) => (t.id === "report" ? task("report", { status: "running", depends_on: ["plan", "stats"] }) : t)) });
    act(() => stream.send({ type: "task_status", task_id: "report", status: "running" }));
    expect(await screen.findByRole("button", { name: "Task report, llm, running" })).toBeInTheDocument();

    current = dag({ status: "succeeded", finished_at: "2026-03-01T10:02:00Z", tasks: dag().tasks.map((t) => ({ ...t, status: "succeeded" as const })) });
    act(() => {
      stream.send({ type: "task_status", task_id: "report", status: "succeeded" });
      stream.send({ type: "dag_status", status: "succeeded" });
      stream.end();
    });
    expect(await screen.findByText("Finished")).toBeInTheDocument();
    const header = screen.getByRole("heading", { level: 1, name: "research-brief" }).parentElement!;
    await waitFor(() => expect(header).toHaveTextContent("succeeded"));
    expect(screen.getByRole("button", { name: "Task report, llm, succeeded" })).toBeInTheDocument();
    // Refetches are throttled: far fewer GETs than events.
    expect(api.calls.filter((c) => c.url.pathname === `/v1/dags/${dagId}`).length).toBeLessThanOrEqual(4);
  });

  it("reconnects when the stream drops before the DAG finished", async () => {
    const api = dagApi(() => dag());
    open(api.fetch);
    await waitFor(() => expect(api.streams).toHaveLength(1));
    act(() => api.streams[0]!.send({ type: "dag_status", status: "running" }));
    expect(await screen.findByText("Live")).toBeInTheDocument();
    act(() => api.streams[0]!.drop());
    expect(await screen.findByText("Reconnecting…")).toBeInTheDocument();
    await waitFor(() => expect(api.streams).toHaveLength(2), { timeout: 3_000 });
    act(() => api.streams[1]!.send({ type: "dag_status", status: "running" }));
    expect(await screen.findByText("Live")).toBeInTheDocument();
  });

  it("lets an operator cancel after confirming, and hides Cancel from a viewer", async () => {
    const user = userEvent.setup();
    let current = dag();
    const api = dagApi(
      () => current,
      () => new Response("", { status: 200, headers: { "content-type": "text/event-stream" } }),
      {
        [`POST /v1/dags/${dagId}/cancel`]: () => {
          current = dag({ status: "cancelled", finished_at: "2026-03-01T10:03:00Z" });
          return { id: dagId, status: "cancelled" };
        },
      },
    );
    const first = open(api.fetch, "operator");
    await user.click(await screen.findByRole("button", { name: "Cancel DAG" }));
    expect(screen.getByRole("button", { name: "Yes, cancel DAG" })).toHaveFocus();
    await user.click(screen.getByRole("button", { name: "Keep it running" }));
    expect(api.calls.some((c) => c.method === "POST")).toBe(false);
    expect(screen.getByRole("button", { name: "Cancel DAG" })).toHaveFocus();

    await user.click(screen.getByRole("button", { name: "Cancel DAG" }));
    await user.click(screen.getByRole("button", { name: "Yes, cancel DAG" }));
    await waitFor(() => expect(screen.getByRole("heading", { level: 1 }).parentElement).toHaveTextContent("cancelled"));
    expect(api.calls.filter((c) => c.method === "POST").map((c) => c.url.pathname)).toEqual([`/v1/dags/${dagId}/cancel`]);
    expect(screen.queryByRole("button", { name: "Cancel DAG" })).not.toBeInTheDocument();
    first.unmount();

    open(dagApi(() => dag(), () => new Response("", { status: 200 })).fetch, "viewer");
    await screen.findByRole("heading", { level: 1, name: "research-brief" });
    expect(screen.queryByRole("button", { name: "Cancel DAG" })).not.toBeInTheDocument();
  });

  it("explains a DAG that cannot be found", async () => {
    const api = dagApi(() => new Response(JSON.stringify({ error: { code: "not_found", message: `no DAG with id ${dagId}`, field: "id" } }), { status: 404 }));
    open(api.fetch);
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Could not load this DAG");
    expect(alert).toHaveTextContent(`Not found: no DAG with id ${dagId}.`);
    expect(screen.getByRole("link", { name: "Back to all DAGs" })).toHaveAttribute("href", "/dags");
  });
});
