/**
 * DAG-level transitions shared by the worker and the service: promote dependents, skip them after a
 * failure, cancel, and settle the DAG's own status. Every function runs inside a transaction that
 * first locked the DAG row (`lockDag`), so concurrent task completions of one DAG are serialised and
 * a dependent can never be missed by two finishing deps.
 */
import type { Db } from "../store/db";
import type { DagStatus, TaskStatus } from "../service/types";
import { channels, emitDagStatus, emitTaskStatus, notifyTasksReady } from "./events";

export interface DagRow {
  readonly id: string;
  readonly agent_id: string;
  readonly status: DagStatus;
}

export const terminalTaskStatuses: readonly TaskStatus[] = ["succeeded", "failed", "cancelled", "skipped"];
export const terminalDagStatuses: readonly DagStatus[] = ["succeeded", "failed", "cancelled"];

/** SELECT ... FOR UPDATE on the DAG; undefined when it does not exist. */
export async function lockDag(tx: Db, dagId: string): Promise<DagRow | undefined> {
  const r = await tx.query<DagRow>("SELECT id, agent_id, status FROM dags WHERE id = $1 FOR UPDATE", [dagId]);
  return r.rows[0];
}

/** Pending tasks whose deps all succeeded become ready; returns their ids (and wakes workers). */
export async function promoteDependents(tx: Db, dagId: string, taskId: string): Promise<string[]> {
  const r = await tx.query<{ id: string }>(
    `UPDATE tasks t SET status = 'ready', next_run_at = now(), updated_at = now()
      WHERE t.dag_id = $1 AND t.status = 'pending' AND $2 = ANY (t.depends_on)
        AND NOT EXISTS (SELECT 1 FROM tasks d
                         WHERE d.dag_id = t.dag_id AND d.id = ANY (t.depends_on) AND d.status <> 'succeeded')
      RETURNING t.id`,
    [dagId, taskId],
  );
  const ids = r.rows.map((x) => x.id);
  if (ids.length > 0) {
    await notifyTasksReady(tx);
    await emitTaskStatus(tx, dagId, ids, "ready");
  }
  return ids;
}

/** Every task downstream of `taskId` (transitively) that has not run is skipped. */
export async function skipDependents(tx: Db, dagId: string, taskId: string): Promise<string[]> {
  const r = await tx.query<{ id: string }>(
    `WITH RECURSIVE downstream (id) AS (
       SELECT t.id FROM tasks t WHERE t.dag_id = $1 AND $2 = ANY (t.depends_on)
       UNION
       SELECT t.id FROM tasks t JOIN downstream d ON d.id = ANY (t.depends_on) WHERE t.dag_id = $1
     )
     UPDATE tasks SET status = 'skipped', error = $3, finished_at = now(), updated_at = now()
      WHERE dag_id = $1 AND id IN (SELECT id FROM downstream) AND status IN ('pending', 'ready')
      RETURNING id`,
    [dagId, taskId, `skipped: upstream task "${taskId}" did not succeed`],
  );
  const ids = r.rows.map((x) => x.id);
  await emitTaskStatus(tx, dagId, ids, "skipped");
  return ids;
}

/** The DAG status implied by its tasks' statuses. */
export function dagStatusFor(counts: Readonly<Partial<Record<TaskStatus, number>>>): DagStatus {
  const n = (s: TaskStatus) => counts[s] ?? 0;
  const open = n("pending") + n("ready") + n("running") + n("awaiting_approval");
  if (open === 0) {
    if (n("failed") > 0) return "failed";
    if (n("cancelled") > 0) return "cancelled";
    return n("skipped") > 0 ? "failed" : "succeeded";
  }
  if (n("awaiting_approval") > 0 && n("ready") + n("running") === 0) return "awaiting_approval";
  return "running";
}

/** Recomputes the DAG's status from its tasks and stores it (finished_at when terminal). */
export async function settleDag(tx: Db, dag: DagRow): Promise<DagStatus> {
  if (terminalDagStatuses.includes(dag.status)) return dag.status;
  const r = await tx.query<{ status: TaskStatus; n: number }>(
    "SELECT status, count(*)::int AS n FROM tasks WHERE dag_id = $1 GROUP BY status",
    [dag.id],
  );
  const next = dagStatusFor(Object.fromEntries(r.rows.map((x) => [x.status, x.n])));
  if (next !== dag.status) {
    const terminal = terminalDagStatuses.includes(next);
    await tx.query(`UPDATE dags SET status = $2, finished_at = ${terminal ? "now()" : "NULL"} WHERE id = $1`, [dag.id, next]);
    await emitDagStatus(tx, dag.id, next);
  }
  return next;
}

/**
 * Cancels every unfinished task (running ones included: their workers are told through
 * NOTIFY apex_dag_cancelled and lose their lease), rejects pending approvals, ends the DAG.
 */
export async function cancelDagTasks(tx: Db, dag: DagRow, by: string): Promise<string[]> {
  // Lock the task rows in id order first (heartbeats lock in the same order): no deadlock.
  await tx.query("SELECT 1 FROM tasks WHERE dag_id = $1 ORDER BY id FOR UPDATE", [dag.id]);
  await tx.query(
    `UPDATE attempts a SET status = 'failed', error = 'cancelled', finished_at = now()
       FROM tasks t
      WHERE a.dag_id = t.dag_id AND a.task_id = t.id AND t.dag_id = $1
        AND t.status = 'running' AND a.status = 'running'`,
    [dag.id],
  );
  const r = await tx.query<{ id: string }>(
    `UPDATE tasks SET status = 'cancelled', error = $2, lease_owner = NULL, lease_expires_at = NULL,
            finished_at = now(), updated_at = now()
      WHERE dag_id = $1 AND status IN ('pending', 'ready', 'running', 'awaiting_approval')
      RETURNING id`,
    [dag.id, `cancelled by ${by}`],
  );
  await tx.query(
    `UPDATE approvals SET status = 'rejected', decided_by = $2, decided_at = now(), reason = 'DAG cancelled'
      WHERE dag_id = $1 AND status = 'pending'`,
    [dag.id, by],
  );
  await tx.query("UPDATE dags SET status = 'cancelled', finished_at = now() WHERE id = $1", [dag.id]);
  await tx.query("SELECT pg_notify($1, $2)", [channels.dagCancelled, dag.id]);
  await emitTaskStatus(tx, dag.id, r.rows.map((x) => x.id), "cancelled");
  await emitDagStatus(tx, dag.id, "cancelled");
  return r.rows.map((x) => x.id);
}
