/**
 * A task's life on the queue, one function per step:
 *   claim -> (parkForApproval | startAttempt -> finishAttempt) ; reclaimExpiredLeases for crashed workers.
 * Every write after the claim is fenced on (status = 'running', lease_owner = this worker), so a
 * worker that lost its lease (expired, cancelled) can never overwrite what happened since.
 */
import { onCommit, type Db } from "../store/db";
import { reportLostAttempt } from "../telemetry/attempt";
import type { TraceCarrier } from "../telemetry/spans";
import type { TaskSpec } from "../service/dag-schema";
import type { TaskErrorType } from "../telemetry/record";
import { emitTaskStatus, notifyTasksReady } from "./events";
import { lockDag, promoteDependents, settleDag, skipDependents, type DagRow } from "./dag-state";

export interface ClaimedTask {
  readonly dagId: string;
  readonly taskId: string;
  readonly kind: "llm" | "tool";
  readonly spec: TaskSpec;
  readonly dependsOn: readonly string[];
  /** Attempts spent before this claim. */
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly timeoutMs: number;
  readonly agentId: string;
  readonly input: unknown;
  /** W3C carrier of the task (falls back to the DAG's): one DAG, one trace. */
  readonly traceContext: Record<string, string> | null;
  readonly workerId: string;
}

interface ClaimRow {
  dag_id: string;
  id: string;
  kind: "llm" | "tool";
  spec: TaskSpec;
  depends_on: string[];
  attempts: number;
  max_attempts: number;
  timeout_ms: number;
  agent_id: string;
  input: unknown;
  trace_context: Record<string, string> | null;
  dag_trace_context: Record<string, string> | null;
}

/** Claims up to `limit` due ready tasks with FOR UPDATE SKIP LOCKED and a lease of `leaseMs`. */
export async function claimTasks(db: Db, workerId: string, limit: number, leaseMs: number): Promise<ClaimedTask[]> {
  if (limit <= 0) return [];
  const r = await db.query<ClaimRow>(
    `WITH picked AS (
       SELECT dag_id, id FROM tasks
        WHERE status = 'ready' AND next_run_at <= now()
        ORDER BY next_run_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED
     )
     UPDATE tasks t
        SET status = 'running', lease_owner = $1,
            lease_expires_at = now() + $3 * interval '1 millisecond', updated_at = now()
       FROM picked, dags d
      WHERE t.dag_id = picked.dag_id AND t.id = picked.id AND d.id = t.dag_id
      RETURNING t.dag_id, t.id, t.kind, t.spec, t.depends_on, t.attempts, t.max_attempts, t.timeout_ms,
                d.agent_id, d.input, t.trace_context, d.trace_context AS dag_trace_context`,
    [workerId, limit, leaseMs],
  );
  return r.rows.map((row) => ({
    dagId: row.dag_id,
    taskId: row.id,
    kind: row.kind,
    spec: row.spec,
    dependsOn: row.depends_on,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    timeoutMs: row.timeout_ms,
    agentId: row.agent_id,
    input: row.input,
    traceContext: row.trace_context ?? row.dag_trace_context,
    workerId,
  }));
}

/**
 * Renews this worker's leases on the given tasks (only those it is still working on: a task it
 * dropped by mistake must expire and be reclaimed); returns the keys (`dag/task`) it still holds.
 */
export async function heartbeat(db: Db, workerId: string, leaseMs: number, tasks: readonly ClaimedTask[]): Promise<Set<string>> {
  if (tasks.length === 0) return new Set();
  // Rows are locked in (dag_id, id) order, as cancelDagTasks does, so the two never deadlock.
  const r = await db.query<{ dag_id: string; id: string }>(
    `WITH mine AS (
       SELECT dag_id, id FROM tasks
        WHERE lease_owner = $1 AND status = 'running'
          AND (dag_id, id) IN (SELECT * FROM unnest($3::uuid[], $4::text[]))
        ORDER BY dag_id, id
        FOR UPDATE
     )
     UPDATE tasks t SET lease_expires_at = now() + $2 * interval '1 millisecond'
       FROM mine WHERE t.dag_id = mine.dag_id AND t.id = mine.id
      RETURNING t.dag_id, t.id`,
    [workerId, leaseMs, tasks.map((t) => t.dagId), tasks.map((t) => t.taskId)],
  );
  return new Set(r.rows.map((x) => taskKey(x.dag_id, x.id)));
}

export const taskKey = (dagId: string, taskId: string) => `${dagId}/${taskId}`;

/**
 * Spends an attempt and records it (with its span's carrier, see planAttemptSpan); undefined when
 * the lease was lost meanwhile.
 */
export async function startAttempt(db: Db, task: ClaimedTask, spanCarrier: TraceCarrier | null = null): Promise<number | undefined> {
  return db.transaction(async (tx) => {
    const r = await tx.query<{ attempts: number }>(
      // A worker may claim a task again after its own stale claim expired and was reclaimed: the
      // stale claim passes the owner check, so it must also find no attempt already running.
      `UPDATE tasks SET attempts = attempts + 1, error = NULL, updated_at = now()
        WHERE dag_id = $1 AND id = $2 AND status = 'running' AND lease_owner = $3
          AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.dag_id = $1 AND a.task_id = $2 AND a.status = 'running')
        RETURNING attempts`,
      [task.dagId, task.taskId, task.workerId],
    );
    if (r.rowCount === 0) return undefined;
    const a = await tx.query<{ number: number }>(
      `INSERT INTO attempts (dag_id, task_id, number, worker_id, status, trace_context)
       SELECT $1, $2, coalesce(max(number), 0) + 1, $3, 'running', $4::jsonb FROM attempts WHERE dag_id = $1 AND task_id = $2
       RETURNING number`,
      [task.dagId, task.taskId, task.workerId, spanCarrier === null ? null : JSON.stringify(spanCarrier)],
    );
    await emitTaskStatus(tx, task.dagId, [task.taskId], "running");
    return a.rows[0]!.number;
  });
}

export interface LlmCallUsage {
  readonly provider: string;
  readonly model: string;
  readonly responseModel: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedTokens: number;
  readonly costUsd: number;
  readonly priceVersion: string;
  readonly latencyMs: number;
}

export type AttemptOutcome =
  | { readonly kind: "succeeded"; readonly output: unknown; readonly usage?: readonly LlmCallUsage[] }
  /**
   * `retryDelayMs` undefined: not retryable. A retry happens only while attempts remain.
   * `errorType` is decided where the error is caught (from its class), never parsed back from `error`.
   */
  | {
      readonly kind: "failed";
      readonly error: string;
      readonly errorType: TaskErrorType;
      readonly retryDelayMs?: number;
      /** The lease was lost: the worker that reclaimed the task already counted this attempt. */
      readonly reportedByReclaimer?: boolean;
    }
  /**
   * Back to ready after `delayMs` without spending the attempt (breaker open, rate limited, shutdown).
   * `errorType` undefined: not a failure of the task (a worker shutting down hands it back).
   */
  | { readonly kind: "rescheduled"; readonly reason: string; readonly delayMs: number; readonly errorType?: TaskErrorType };

export type FinishResult = "succeeded" | "retrying" | "failed" | "rescheduled" | "lease_lost";

/** Records an attempt's outcome and moves the task, its dependents and the DAG along. */
export async function finishAttempt(db: Db, task: ClaimedTask, attempt: number, outcome: AttemptOutcome): Promise<FinishResult> {
  return db.transaction(async (tx) => {
    const dag = await lockDag(tx, task.dagId);
    // Fenced on the attempt too, not only on the owner: after a reclaim the same worker may hold
    // the task again under a newer attempt, and this (superseded) attempt must not write.
    const held = await tx.query<{ attempts: number; max_attempts: number }>(
      `SELECT attempts, max_attempts FROM tasks t
        WHERE dag_id = $1 AND id = $2 AND status = 'running' AND lease_owner = $3
          AND EXISTS (SELECT 1 FROM attempts a WHERE a.dag_id = $1 AND a.task_id = $2 AND a.number = $4 AND a.status = 'running')
        FOR UPDATE OF t`,
      [task.dagId, task.taskId, task.workerId, attempt],
    );
    const row = held.rows[0];
    if (!dag) return "lease_lost";
    if (!row) {
      // The lease was lost (cancelled, reclaimed) but the provider was paid: the tokens and cost are
      // still the DAG's and the agent's. Once only: a retry after a lost COMMIT reply finds them.
      if (outcome.kind === "succeeded" && outcome.usage?.length) {
        const recorded = await tx.query("SELECT 1 FROM usage WHERE dag_id = $1 AND task_id = $2 AND attempt = $3 LIMIT 1", [
          task.dagId,
          task.taskId,
          attempt,
        ]);
        if (recorded.rowCount === 0) for (const u of outcome.usage) await insertUsage(tx, task, attempt, u);
      }
      return "lease_lost";
    }

    switch (outcome.kind) {
      case "succeeded": {
        await endAttempt(tx, task, attempt, "succeeded", null, true);
        await tx.query(
          `UPDATE tasks SET status = 'succeeded', output = $3::jsonb, error = NULL, lease_owner = NULL,
                  lease_expires_at = NULL, finished_at = now(), updated_at = now()
            WHERE dag_id = $1 AND id = $2`,
          [task.dagId, task.taskId, JSON.stringify(outcome.output ?? null)],
        );
        for (const u of outcome.usage ?? []) await insertUsage(tx, task, attempt, u);
        await emitTaskStatus(tx, task.dagId, [task.taskId], "succeeded");
        await promoteDependents(tx, task.dagId, task.taskId);
        await settleDag(tx, dag);
        return "succeeded";
      }
      case "failed": {
        await endAttempt(tx, task, attempt, "failed", outcome.error, true);
        if (outcome.retryDelayMs !== undefined && row.attempts < row.max_attempts) {
          await backToReady(tx, task, outcome.error, outcome.retryDelayMs, false);
          return "retrying";
        }
        await failTask(tx, dag, task.dagId, task.taskId, outcome.error);
        return "failed";
      }
      case "rescheduled": {
        await endAttempt(tx, task, attempt, "failed", `rescheduled: ${outcome.reason}`, false);
        await backToReady(tx, task, outcome.reason, outcome.delayMs, true);
        return "rescheduled";
      }
    }
  });
}

/** Gives a claimed task back before any attempt started (shutdown, or nothing to do). */
export async function releaseClaim(db: Db, task: ClaimedTask): Promise<boolean> {
  const r = await db.transaction(async (tx) => {
    const u = await tx.query(
      `UPDATE tasks SET status = 'ready', next_run_at = now(), lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
        WHERE dag_id = $1 AND id = $2 AND status = 'running' AND lease_owner = $3`,
      [task.dagId, task.taskId, task.workerId],
    );
    if (u.rowCount > 0) await notifyTasksReady(tx);
    return u.rowCount;
  });
  return r > 0;
}

/**
 * Tool tasks that need an operator: the task waits in awaiting_approval with a pending approvals
 * row (the rendered args the operator sees). The claim is given back; no attempt was spent.
 */
export async function parkForApproval(db: Db, task: ClaimedTask, tool: string, args: unknown): Promise<string | undefined> {
  return db.transaction(async (tx) => {
    const dag = await lockDag(tx, task.dagId);
    const u = await tx.query(
      `UPDATE tasks SET status = 'awaiting_approval', lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
        WHERE dag_id = $1 AND id = $2 AND status = 'running' AND lease_owner = $3`,
      [task.dagId, task.taskId, task.workerId],
    );
    if (!dag || u.rowCount === 0) return undefined;
    const a = await tx.query<{ id: string }>(
      `INSERT INTO approvals (dag_id, task_id, tool, args) VALUES ($1, $2, $3, $4::jsonb) RETURNING id`,
      [task.dagId, task.taskId, tool, JSON.stringify(args ?? null)],
    );
    await emitTaskStatus(tx, task.dagId, [task.taskId], "awaiting_approval");
    await settleDag(tx, dag);
    return a.rows[0]!.id;
  });
}

/** The latest decision for a task's approval, if any. */
export async function approvalDecision(db: Db, dagId: string, taskId: string): Promise<"pending" | "approved" | "rejected" | undefined> {
  const r = await db.query<{ status: "pending" | "approved" | "rejected" }>(
    "SELECT status FROM approvals WHERE dag_id = $1 AND task_id = $2 ORDER BY created_at DESC LIMIT 1",
    [dagId, taskId],
  );
  return r.rows[0]?.status;
}

/**
 * Tasks whose lease expired (their worker died or hung): the running attempt is failed as
 * "lease expired" and the task is ready again at once, or failed when no attempt is left. The dead
 * worker could not report the attempt: once committed, this worker ends its span and counts it.
 * Locks in the same order as everything else (DAG, then task).
 */
export async function reclaimExpiredLeases(db: Db, limit = 50): Promise<number> {
  const expired = await db.query<{ dag_id: string; id: string }>(
    `SELECT dag_id, id FROM tasks WHERE status = 'running' AND lease_expires_at < now()
      ORDER BY lease_expires_at LIMIT $1`,
    [limit],
  );
  let reclaimed = 0;
  for (const { dag_id: dagId, id: taskId } of expired.rows) {
    const done = await db.transaction(async (tx) => {
      const dag = await lockDag(tx, dagId);
      const r = await tx.query<{ attempts: number; max_attempts: number; lease_owner: string; kind: "llm" | "tool"; trace_context: TraceCarrier | null }>(
        `SELECT attempts, max_attempts, lease_owner, kind, trace_context FROM tasks
          WHERE dag_id = $1 AND id = $2 AND status = 'running' AND lease_expires_at < now() FOR UPDATE`,
        [dagId, taskId],
      );
      const row = r.rows[0];
      if (!dag || !row) return false;
      const error = leaseExpiredError(row.lease_owner);
      const running = await tx.query<{ number: number; worker_id: string; started_at: Date | string; trace_context: TraceCarrier | null }>(
        `UPDATE attempts SET status = 'failed', error = $3, finished_at = now()
          WHERE dag_id = $1 AND task_id = $2 AND status = 'running'
          RETURNING number, worker_id, started_at, trace_context`,
        [dagId, taskId, error],
      );
      for (const a of running.rows) {
        onCommit(tx, () =>
          reportLostAttempt({
            dagId,
            taskId,
            agentId: dag.agent_id,
            kind: row.kind,
            attempt: a.number,
            workerId: a.worker_id,
            startTime: new Date(a.started_at),
            message: error,
            attemptCarrier: a.trace_context,
            taskCarrier: row.trace_context,
          }),
        );
      }
      if (running.rowCount > 0 && row.attempts >= row.max_attempts) {
        await failTask(tx, dag, dagId, taskId, `${error}; no attempts left`);
      } else {
        await tx.query(
          `UPDATE tasks SET status = 'ready', next_run_at = now(), error = $3, lease_owner = NULL,
                  lease_expires_at = NULL, updated_at = now()
            WHERE dag_id = $1 AND id = $2`,
          [dagId, taskId, error],
        );
        await notifyTasksReady(tx);
        await emitTaskStatus(tx, dagId, [taskId], "ready");
      }
      return true;
    });
    if (done) reclaimed++;
  }
  return reclaimed;
}

/** What a reclaim writes on the attempt it takes from `workerId`. */
export function leaseExpiredError(workerId: string): string {
  return `lease of worker ${workerId} expired`;
}

/** True when another worker's reclaim ended this attempt (and so reported it, span included). */
export async function attemptWasReclaimed(db: Db, task: ClaimedTask, attempt: number): Promise<boolean> {
  const r = await db.query("SELECT 1 FROM attempts WHERE dag_id = $1 AND task_id = $2 AND number = $3 AND error = $4", [
    task.dagId,
    task.taskId,
    attempt,
    leaseExpiredError(task.workerId),
  ]);
  return r.rowCount > 0;
}

/** When the next ready task is due and when the next lease expires. */
export async function nextWakeTimes(db: Db): Promise<{ nextReadyAt?: Date; nextLeaseExpiry?: Date }> {
  const r = await db.query<{ ready: Date | null; lease: Date | null }>(
    `SELECT (SELECT min(next_run_at) FROM tasks WHERE status = 'ready') AS ready,
            (SELECT min(lease_expires_at) FROM tasks WHERE status = 'running') AS lease`,
  );
  const row = r.rows[0];
  return {
    nextReadyAt: row?.ready ? new Date(row.ready) : undefined,
    nextLeaseExpiry: row?.lease ? new Date(row.lease) : undefined,
  };
}

async function endAttempt(tx: Db, task: ClaimedTask, attempt: number, status: "succeeded" | "failed", error: string | null, spent: boolean) {
  await tx.query(
    `UPDATE attempts SET status = $4, error = $5, spent = $6, finished_at = now()
      WHERE dag_id = $1 AND task_id = $2 AND number = $3`,
    [task.dagId, task.taskId, attempt, status, error, spent],
  );
}

async function backToReady(tx: Db, task: ClaimedTask, error: string, delayMs: number, refundAttempt: boolean) {
  await tx.query(
    `UPDATE tasks SET status = 'ready', next_run_at = now() + $3 * interval '1 millisecond', error = $4,
            attempts = attempts - $5, lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
      WHERE dag_id = $1 AND id = $2`,
    [task.dagId, task.taskId, Math.max(0, Math.round(delayMs)), error, refundAttempt ? 1 : 0],
  );
  if (delayMs <= 0) await notifyTasksReady(tx);
  await emitTaskStatus(tx, task.dagId, [task.taskId], "ready");
}

/** The task fails for good: dependents are skipped and the DAG settles (failed once all ended). */
export async function failTask(tx: Db, dag: DagRow, dagId: string, taskId: string, error: string): Promise<void> {
  await tx.query(
    `UPDATE tasks SET status = 'failed', error = $3, lease_owner = NULL, lease_expires_at = NULL,
            finished_at = now(), updated_at = now()
      WHERE dag_id = $1 AND id = $2`,
    [dagId, taskId, error],
  );
  await emitTaskStatus(tx, dagId, [taskId], "failed");
  await skipDependents(tx, dagId, taskId);
  await settleDag(tx, dag);
}

async function insertUsage(tx: Db, task: ClaimedTask, attempt: number, u: LlmCallUsage) {
  await tx.query(
    `INSERT INTO usage (dag_id, task_id, agent_id, attempt, provider, model, response_model, input_tokens,
                        output_tokens, cached_tokens, cost_usd, price_version, latency_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [
      task.dagId,
      task.taskId,
      task.agentId,
      attempt,
      u.provider,
      u.model,
      u.responseModel,
      u.inputTokens,
      u.outputTokens,
      u.cachedTokens,
      u.costUsd,
      u.priceVersion,
      Math.round(u.latencyMs),
    ],
  );
}
