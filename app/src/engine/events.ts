/**
 * How the engine signals. Two different things:
 *
 * - Worker wake-ups and cancels stay on Postgres NOTIFY (`channels`), sent inside the transaction
 *   that made the change: that is the queue's own signal, seen only once the change is committed;
 *   it works the same on PGlite.
 * - DAG events for streaming clients (SSE, gRPC WatchDag) go through an `EventBus` (coord/): Redis
 *   pub/sub, Postgres LISTEN/NOTIFY or in-process, chosen once at start. The bus travels with the
 *   store handle (`withDagEvents`), so engine code that only has a transaction can publish, and
 *   every event is published from the transaction's after-commit hook: a rolled-back change is
 *   never announced.
 */
import { z } from "zod";
import { createInProcessEventBus } from "../coord/in-process";
import type { EventBus } from "../coord/types";
import { onCommit, type Db } from "../store/db";
import type { DagEvent } from "../service/types";
import { finishDagTrace } from "../telemetry/dag-trace";
import { logger } from "../telemetry/logger";
import { recordTaskStatuses } from "../telemetry/record";

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

/** A DagEvent from the bus, or undefined when it is not one (never trusted blindly: it crossed a network). */
export function parseDagEvent(raw: unknown): DagEvent | undefined {
  const r = dagEventSchema.safeParse(raw);
  return r.success ? r.data : undefined;
}

const busSlot = Symbol("apex.dagEventBus");
type WithBus = Db & { readonly [busSlot]?: EventBus };

/**
 * Events of a process whose store carries no bus (the engine wired by hand in one process, as
 * tests do): they stay in this process. The runtime always attaches its chosen bus.
 */
const processLocalBus = createInProcessEventBus();

/**
 * The same store, carrying `bus` to every transaction handle it opens, so `emitTaskStatus(tx, …)`
 * publishes on it. Every other property is the store's own.
 */
export function withDagEvents(db: Db, bus: EventBus): Db {
  const wrap = (target: Db): Db => {
    const proxy: Db = new Proxy(target, {
      get(t, property) {
        if (property === busSlot) return bus;
        if (property === "transaction") {
          return <T>(fn: (tx: Db) => Promise<T>) => t.transaction((tx) => fn(tx === t ? proxy : wrap(tx)));
        }
        const value: unknown = Reflect.get(t, property, t);
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(t) : value;
      },
    });
    return proxy;
  };
  return wrap(db);
}

/** The bus a store handle carries, else this process's local one. */
export function dagEventBusOf(db: Db): EventBus {
  return (db as WithBus)[busSlot] ?? processLocalBus;
}

/** Publishes once `tx` commits (at once on an autocommit handle); a failed publish is logged, not thrown. */
function publishAfterCommit(tx: Db, events: readonly DagEvent[]): void {
  const bus = dagEventBusOf(tx);
  onCommit(tx, () => {
    for (const event of events) {
      bus.publish(dagEventChannel(event.dagId), event).catch((err: unknown) =>
        logger.warn({ dagId: event.dagId, bus: bus.kind, err: (err as Error).message }, "could not publish a DAG event; its watchers miss it"),
      );
    }
  });
}

export async function notifyTasksReady(tx: Db): Promise<void> {
  await tx.query("SELECT pg_notify($1, '')", [channels.tasksReady]);
}

export async function emitTaskStatus(tx: Db, dagId: string, taskIds: readonly string[], status: string): Promise<void> {
  // Every task status change passes here, in the process that made it: apex_tasks_total counts
  // terminal ones, once committed (a rolled-back change never happened).
  onCommit(tx, () => recordTaskStatuses(status, taskIds.length));
  const at = new Date().toISOString();
  publishAfterCommit(
    tx,
    taskIds.map((taskId): DagEvent => ({ dagId, type: "task_status", taskId, status, at })),
  );
}

export async function emitDagStatus(tx: Db, dagId: string, status: string): Promise<void> {
  // A terminal status ends the DAG's root span (stored at submission) in this process.
  await finishDagTrace(tx, dagId, status);
  publishAfterCommit(tx, [{ dagId, type: "dag_status", status, at: new Date().toISOString() }]);
}
