/**
 * How the engine signals. Two different things:
 *
 * - Worker wake-ups and cancels stay on Postgres NOTIFY (`channels`), sent by the statement that
 *   made the change (see store/queries): the queue's own signal, seen only once committed; it
 *   works the same on PGlite.
 * - Once a change has committed, `announce` tells the context's observer (metrics, DAG root spans)
 *   and publishes DAG events for streaming clients (SSE, gRPC WatchDag) on the context's bus: one
 *   message per DAG per transaction, carrying all of that DAG's events in order.
 */
import { z } from "zod";
import type { ChangeRow } from "../store/queries/changes";
import type { DagEvent } from "../service/types";
import { logger } from "../telemetry/logger";
import type { EngineContext } from "./context";

export const channels = {
  /** Payload empty: some task became ready now; idle workers claim. */
  tasksReady: "apex_tasks_ready",
  /** Payload: dag id; workers abort that DAG's running tasks. */
  dagCancelled: "apex_dag_cancelled",
} as const;

/** The event bus channel of one DAG's events (ids are compared lower-case, as Postgres prints them). */
export function dagEventChannel(dagId: string): string {
  return `dag:${dagId.toLowerCase()}`;
}

const dagEventSchema = z.object({
  dagId: z.string(),
  type: z.enum(["dag_status", "task_status"]),
  taskId: z.string().optional(),
  status: z.string(),
  at: z.string(),
});

/** The DagEvents of one bus message (one event, or a transaction's batch), or undefined when it is not one: it crossed a network. */
export function parseDagEvents(raw: unknown): DagEvent[] | undefined {
  const r = z.union([dagEventSchema, z.array(dagEventSchema)]).safeParse(raw);
  if (!r.success) return undefined;
  return Array.isArray(r.data) ? r.data : [r.data];
}

const terminalDag = new Set(["succeeded", "failed", "cancelled"]);

/**
 * Reports committed changes: the observer hears each status move, finished DAGs end their trace,
 * and each DAG's events go out as one bus message. A failed publish is logged, not thrown.
 */
export function announce(ctx: Pick<EngineContext, "events" | "observer">, changes: readonly ChangeRow[]): void {
  const at = new Date().toISOString();
  const byDag = new Map<string, DagEvent[]>();
  const counts = new Map<string, number>();
  for (const c of changes) {
    if (c.kind === "result") continue;
    const list = byDag.get(c.dag_id) ?? [];
    byDag.set(c.dag_id, list);
    if (c.kind === "task") {
      list.push({ dagId: c.dag_id, type: "task_status", taskId: c.task_id ?? undefined, status: c.status, at });
      counts.set(c.status, (counts.get(c.status) ?? 0) + 1);
    } else {
      list.push({ dagId: c.dag_id, type: "dag_status", status: c.status, at });
      if (terminalDag.has(c.status) && c.detail) {
        const d = c.detail as { agent_id: string; name: string; trace_context: Record<string, string> | null; created_at: string | Date };
        safely(() =>
          ctx.observer.dagFinished({
            dagId: c.dag_id,
            status: c.status as "succeeded" | "failed" | "cancelled",
            agentId: d.agent_id,
            name: d.name,
            traceContext: d.trace_context,
            createdAt: new Date(d.created_at),
          }),
        );
      }
    }
  }
  for (const [status, n] of counts) safely(() => ctx.observer.taskStatuses(status, n));
  for (const [dagId, events] of byDag) {
    ctx.events.publish(dagEventChannel(dagId), events.length === 1 ? events[0] : events).catch((err: unknown) =>
      logger.warn({ dagId, bus: ctx.events.kind, err: (err as Error).message }, "could not publish DAG events; their watchers miss them"),
    );
  }
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    logger.error({ err: (err as Error).message }, "engine observer failed");
  }
}
