/** DAGs, agents and an event stream as the API would send them, for the DAG screens' tests. */
import type { Budget, Dag, DagEvent, DagSummary, Task } from "../src/api/types";

export const agentId = "11111111-1111-4111-8111-111111111111";
export const otherAgentId = "22222222-2222-4222-8222-222222222222";
export const dagId = "33333333-3333-4333-8333-333333333333";
export const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";

export const agents = {
  agents: [
    { id: agentId, name: "researcher", created_at: "2026-01-01T00:00:00Z" },
    { id: otherAgentId, name: "summariser", created_at: "2026-01-01T00:00:00Z" },
  ],
};

const zero = { input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 0 };

export function summary(n: number, patch: Partial<DagSummary> = {}): DagSummary {
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
    agent_id: agentId,
    name: `dag-${n}`,
    status: "succeeded",
    totals: { input_tokens: 1200, output_tokens: 300, cached_tokens: 0, cost_usd: 0.0123 },
    created_at: "2026-03-01T10:00:00Z",
    finished_at: "2026-03-01T10:00:42Z",
    ...patch,
  };
}

export function task(id: string, patch: Partial<Task> = {}): Task {
  return { id, kind: "llm", status: "pending", depends_on: [], attempts: [], usage: zero, ...patch };
}

export function dag(patch: Partial<Dag> = {}): Dag {
  return {
    id: dagId,
    agent_id: agentId,
    name: "research-brief",
    status: "running",
    input: { topic: "queues" },
    trace_id: traceId,
    created_at: "2026-03-01T10:00:00Z",
    totals: { input_tokens: 1500, output_tokens: 500, cached_tokens: 100, cost_usd: 0.0042 },
    tasks: [
      task("plan", {
        status: "succeeded",
        output: { outline: ["claiming", "failures"] },
        attempts: [
          { number: 1, status: "failed", worker_id: "worker-a", started_at: "2026-03-01T10:00:01Z", finished_at: "2026-03-01T10:00:02Z", error: "provider timeout" },
          { number: 2, status: "succeeded", worker_id: "worker-b", started_at: "2026-03-01T10:00:03Z", finished_at: "2026-03-01T10:00:05Z" },
        ],
        usage: { input_tokens: 1500, output_tokens: 500, cached_tokens: 100, cost_usd: 0.0042 },
      }),
      task("stats", { kind: "tool", status: "awaiting_approval", depends_on: ["plan"] }),
      task("report", { depends_on: ["plan", "stats"] }),
    ],
    ...patch,
  };
}

/** A text/event-stream body the test writes to: events, a clean end, or a dropped connection. */
export function eventStream(signal?: AbortSignal | null) {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  const encoder = new TextEncoder();
  signal?.addEventListener("abort", () => {
    try {
      controller.error(new DOMException("aborted", "AbortError"));
    } catch {
      // Already closed.
    }
  });
  return {
    response: new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } }),
    send(event: Omit<DagEvent, "dag_id" | "at">) {
      const full: DagEvent = { dag_id: dagId, at: new Date().toISOString(), ...event };
      controller.enqueue(encoder.encode(`event: ${full.type}\ndata: ${JSON.stringify(full)}\n\n`));
    },
    end() {
      controller.close();
    },
    drop() {
      controller.error(new TypeError("network error"));
    },
  };
}

/** A budget in its current period as the API reports it: $0.001 total on the DAG unless patched. */
export function budget(patch: Partial<Budget> = {}): Budget {
  return {
    scope: "dag",
    scope_id: dagId,
    period: "total",
    limit_usd: 0.001,
    limit_tokens: null,
    spent_usd: 0.000016,
    spent_tokens: 52,
    reserved_usd: 0,
    reserved_tokens: 0,
    remaining_usd: 0.000984,
    remaining_tokens: null,
    resets_at: null,
    ...patch,
  };
}
