/**
 * Postgres NOTIFY channels the engine uses. NOTIFY is transactional, so a wake-up or an event is
 * only seen once the state change that caused it is committed; it works the same on PGlite.
 */
import { onCommit, type Db } from "../store/db";
import type { DagEvent } from "../service/types";
import { finishDagTrace } from "../telemetry/dag-trace";
import { recordTaskStatuses } from "../telemetry/record";

export const channels = {
  /** Payload empty: some task became ready now; idle workers claim. */
  tasksReady: "apex_tasks_ready",
  /** Payload: dag id; workers abort that DAG's running tasks. */
  dagCancelled: "apex_dag_cancelled",
  /** Payload: a DagEvent as JSON; the API fans it out to its streaming clients. */
  dagEvents: "apex_dag_events",
} as const;

export async function notifyTasksReady(tx: Db): Promise<void> {
  await tx.query("SELECT pg_notify($1, '')", [channels.tasksReady]);
}

export async function emitTaskStatus(tx: Db, dagId: string, taskIds: readonly string[], status: string): Promise<void> {
  // Every task status change passes here, in the process that made it: apex_tasks_total counts
  // terminal ones, once committed (a rolled-back change never happened).
  onCommit(tx, () => recordTaskStatuses(status, taskIds.length));
  for (const taskId of taskIds) {
    const event: DagEvent = { dagId, type: "task_status", taskId, status, at: new Date().toISOString() };
    await tx.query("SELECT pg_notify($1, $2)", [channels.dagEvents, JSON.stringify(event)]);
  }
}

export async function emitDagStatus(tx: Db, dagId: string, status: string): Promise<void> {
  // A terminal status ends the DAG's root span (stored at submission) in this process.
  await finishDagTrace(tx, dagId, status);
  const event: DagEvent = { dagId, type: "dag_status", status, at: new Date().toISOString() };
  await tx.query("SELECT pg_notify($1, $2)", [channels.dagEvents, JSON.stringify(event)]);
}
