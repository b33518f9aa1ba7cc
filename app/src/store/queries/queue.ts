/**
 * The queue's SQL: claim-and-start, heartbeat, finish (apex_finish_attempts, migration 0005),
 * release, park, reclaim and wake times. Each function is one round trip unless it says otherwise;
 * the engine (engine/lifecycle.ts) decides what to call and turns rows into domain values.
 */
import type { Db } from "../db";
import type { ChangeRow } from "./changes";

export interface ClaimRow {
  dag_id: string;
  id: string;
  kind: "llm" | "tool";
  spec: unknown;
  depends_on: string[];
  attempts: number;
  max_attempts: number;
  timeout_ms: number;
  agent_id: string;
  input: unknown;
  trace_context: Record<string, string> | null;
  dag_trace_context: Record<string, string> | null;
  /** The started attempt's number; null when the task waits for an approval (no attempt started). */
  attempt: number | null;
  span_id: string | null;
  /** Outputs of the task's dependencies by id (all succeeded). */
  dep_outputs: Record<string, unknown> | null;
  /** The approval an approval-gated task started under (its id and args digest); null otherwise. */
  approval_id: string | null;
  approval_digest: string | null;
}

export interface ClaimParams {
  readonly workerId: string;
  readonly limit: number;
  readonly leaseMs: number;
  /** Tools that need an operator's approval: their tasks are claimed without starting an attempt until approved. */
  readonly approvalTools: readonly string[];
  /** One planned span id per possible claim (see telemetry/attempt-spans.ts). */
  readonly spanIds: readonly string[];
  /** Providers whose breaker is open: their LLM tasks are not claimed (they wait without attempts). */
  readonly blockedProviders?: readonly string[];
}

/**
 * Claims up to `limit` due ready tasks (FOR UPDATE SKIP LOCKED), leases them, spends an attempt and
 * records it, and returns each with its DAG's input and its dependencies' outputs: one statement.
 */
export async function claimAndStart(db: Db, p: ClaimParams): Promise<ClaimRow[]> {
  const r = await db.query<ClaimRow>(
    `WITH picked AS (
       SELECT t.dag_id, t.id,
              t.kind = 'tool' AND t.spec->>'tool' = ANY ($4::text[])
              AND NOT EXISTS (SELECT 1 FROM approvals ap WHERE ap.dag_id = t.dag_id AND ap.task_id = t.id AND ap.status = 'approved'
                                 AND ap.expires_at > now()) AS gated
         FROM tasks t
        WHERE t.status = 'ready' AND t.next_run_at <= now()
          AND NOT (t.kind = 'llm' AND split_part(t.spec->>'model', '/', 1) = ANY ($6::text[]))
        ORDER BY t.next_run_at
        LIMIT $2
        FOR UPDATE OF t SKIP LOCKED
     ), claimed AS (
       UPDATE tasks t
          SET status = 'running', lease_owner = $1, lease_expires_at = now() + $3 * interval '1 millisecond', updated_at = now(), waiting_for = NULL,
              attempts = t.attempts + CASE WHEN picked.gated THEN 0 ELSE 1 END,
              error = CASE WHEN picked.gated THEN t.error END
         FROM picked
        WHERE t.dag_id = picked.dag_id AND t.id = picked.id
        RETURNING t.dag_id, t.id, t.kind, t.spec, t.depends_on, t.attempts, t.max_attempts, t.timeout_ms, t.trace_context, picked.gated
     ), started AS (
       INSERT INTO attempts (dag_id, task_id, number, worker_id, status, span_id)
       SELECT c.dag_id, c.id,
              (SELECT coalesce(max(a.number), 0) + 1 FROM attempts a WHERE a.dag_id = c.dag_id AND a.task_id = c.id),
              $1, 'running', ($5::text[])[row_number() OVER ()]
         FROM claimed c WHERE NOT c.gated
       RETURNING dag_id, task_id, number, span_id
     )
     SELECT c.dag_id, c.id, c.kind, c.spec, c.depends_on, c.attempts, c.max_attempts, c.timeout_ms, c.trace_context,
            d.agent_id, d.input, d.trace_context AS dag_trace_context, s.number AS attempt, s.span_id,
            CASE WHEN cardinality(c.depends_on) > 0 THEN
              (SELECT jsonb_object_agg(p.id, p.output) FROM tasks p WHERE p.dag_id = c.dag_id AND p.id = ANY (c.depends_on))
            END AS dep_outputs,
            ap.id AS approval_id, ap.args_digest AS approval_digest
       FROM claimed c
       JOIN dags d ON d.id = c.dag_id
       LEFT JOIN started s ON s.dag_id = c.dag_id AND s.task_id = c.id
       LEFT JOIN LATERAL (
         SELECT ap.id, ap.args_digest FROM approvals ap
          WHERE NOT c.gated AND ap.dag_id = c.dag_id AND ap.task_id = c.id AND ap.status = 'approved' AND ap.expires_at > now()
          ORDER BY ap.decided_at DESC LIMIT 1
       ) ap ON true`,
    [p.workerId, p.limit, p.leaseMs, p.approvalTools, p.spanIds, p.blockedProviders ?? []],
  );
  return r.rows;
}

/**
 * Renews `workerId`'s leases on the given tasks (only those still running under its lease);
 * returns the ones it still holds. Rows are locked in (dag_id, id) order, as everywhere.
 */
export async function renewLeases(
  db: Db,
  workerId: string,
  leaseMs: number,
  tasks: readonly { dagId: string; taskId: string }[],
): Promise<{ dag_id: string; id: string }[]> {
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
  return r.rows;
}

/** One attempt's outcome as apex_finish_attempts reads it. */
export interface OutcomeRow {
  readonly dag_id: string;
  readonly task_id: string;
  readonly attempt: number;
  /** defer: the attempt never began (breaker open): its row is deleted and it is refunded (migration 0006). */
  readonly outcome: "succeeded" | "retry" | "fail" | "reschedule" | "defer";
  readonly output?: unknown;
  readonly error?: string;
  readonly delay_ms?: number;
  readonly end_reason?: "cancelled" | "lease_expired";
  /** With defer: what the ready task waits for. */
  readonly waiting_for?: "provider" | "budget";
  /** Ignored since migration 0006: usage is written when an LLM call's answer arrives. */
  readonly usage?: readonly UsageRow[];
}

export interface UsageRow {
  readonly provider: string;
  readonly model: string;
  readonly response_model: string;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cached_tokens: number;
  readonly cost_usd: number;
  readonly price_version: string;
  readonly latency_ms: number;
}

/** Records a batch of finished attempts in one statement (one transaction); returns results and changes. */
export async function finishAttempts(db: Db, workerId: string, outcomes: readonly OutcomeRow[]): Promise<ChangeRow[]> {
  const r = await db.query<ChangeRow>("SELECT * FROM apex_finish_attempts($1, $2::jsonb)", [workerId, JSON.stringify(outcomes)]);
  return r.rows;
}

/** Gives back a claim on which no attempt started (an approval-gated task), and wakes the other workers. */
export async function releaseClaim(db: Db, workerId: string, dagId: string, taskId: string): Promise<boolean> {
  const r = await db.query(
    `WITH released AS (
       UPDATE tasks SET status = 'ready', next_run_at = now(), lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
        WHERE dag_id = $1 AND id = $2 AND status = 'running' AND lease_owner = $3
          AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.dag_id = $1 AND a.task_id = $2 AND a.status = 'running')
        RETURNING 1
     )
     SELECT pg_notify('apex_tasks_ready', '') FROM released`,
    [dagId, taskId, workerId],
  );
  return r.rowCount > 0;
}

export interface ParkParams {
  readonly workerId: string;
  readonly dagId: string;
  readonly taskId: string;
  readonly tool: string;
  readonly args: unknown;
  /** SHA-256 of the canonical JSON of `args` (engine/approval-digest.ts). */
  readonly argsDigest: string;
  /** How long the new approval may be decided and then used. */
  readonly ttlMs: number;
  /** The attempt the claim started under an approval that no longer covers the call: taken back, not spent. */
  readonly unstartAttempt?: number;
}

/**
 * Parks a claimed tool task for an operator: awaiting_approval with a pending approvals row (the
 * rendered args the operator sees, their digest, its expiry), the claim given back without
 * spending an attempt (one the claim started is deleted and its count given back). A task's
 * earlier approved approval is closed as expired (past its time) or superseded (arguments
 * changed). One transaction; undefined when the lease was lost meanwhile.
 */
export async function parkForApproval(db: Db, p: ParkParams): Promise<{ approvalId: string; changes: ChangeRow[] } | undefined> {
  return db.transaction(async (tx) => {
    const a = await tx.query<{ id: string }>(
      `WITH parked AS (
         UPDATE tasks SET status = 'awaiting_approval', lease_owner = NULL, lease_expires_at = NULL, updated_at = now(),
                attempts = attempts - CASE WHEN $6::integer IS NULL THEN 0 ELSE 1 END
          WHERE dag_id = $1 AND id = $2 AND status = 'running' AND lease_owner = $3
            AND ($6::integer IS NULL OR EXISTS (SELECT 1 FROM attempts a WHERE a.dag_id = $1 AND a.task_id = $2 AND a.number = $6
                                                   AND a.worker_id = $3 AND a.status = 'running'))
          RETURNING dag_id, id
       ), unstarted AS (
         DELETE FROM attempts a USING parked
          WHERE a.dag_id = parked.dag_id AND a.task_id = parked.id AND a.number = $6 AND a.status = 'running'
       ), closed AS (
         UPDATE approvals ap SET status = CASE WHEN ap.expires_at <= now() THEN 'expired' ELSE 'superseded' END, ended_at = now()
           FROM parked WHERE ap.dag_id = parked.dag_id AND ap.task_id = parked.id AND ap.status = 'approved'
       )
       INSERT INTO approvals (dag_id, task_id, tool, args, args_digest, expires_at)
       SELECT dag_id, id, $4, $5::jsonb, $7, now() + $8 * interval '1 millisecond' FROM parked RETURNING id`,
      [p.dagId, p.taskId, p.workerId, p.tool, JSON.stringify(p.args ?? null), p.unstartAttempt ?? null, p.argsDigest, p.ttlMs],
    );
    const approvalId = a.rows[0]?.id;
    if (!approvalId) return undefined;
    const d = await tx.query<ChangeRow>("SELECT * FROM apex_adjust_dag($1, 0, 0, 1, 0)", [p.dagId]);
    return { approvalId, changes: [{ kind: "task", dag_id: p.dagId, task_id: p.taskId, status: "awaiting_approval", detail: null }, ...d.rows] };
  });
}

export interface ExpiredLease {
  readonly dag_id: string;
  readonly id: string;
}

export async function expiredLeases(db: Db, limit: number): Promise<ExpiredLease[]> {
  const r = await db.query<ExpiredLease>(
    `SELECT dag_id, id FROM tasks WHERE status = 'running' AND lease_expires_at < now()
      ORDER BY lease_expires_at LIMIT $1`,
    [limit],
  );
  return r.rows;
}

export interface LostAttemptRow {
  number: number;
  worker_id: string;
  started_at: Date | string;
  span_id: string | null;
  trace_context: Record<string, string> | null;
}

export interface ReclaimResult {
  readonly agentId: string;
  readonly kind: "llm" | "tool";
  readonly leaseOwner: string;
  readonly taskTraceContext: Record<string, string> | null;
  readonly lost: LostAttemptRow[];
  readonly changes: ChangeRow[];
}

/**
 * Takes one expired lease back: its running attempt ends as lease_expired and the task is ready
 * at once, or fails for good when no attempt is left. One transaction; undefined when the lease
 * was renewed or the task moved on meanwhile.
 */
export async function reclaimLease(db: Db, dagId: string, taskId: string): Promise<ReclaimResult | undefined> {
  return db.transaction(async (tx) => {
    const r = await tx.query<{
      attempts: number;
      max_attempts: number;
      lease_owner: string;
      kind: "llm" | "tool";
      trace_context: Record<string, string> | null;
      agent_id: string;
    }>(
      `SELECT t.attempts, t.max_attempts, t.lease_owner, t.kind, t.trace_context, d.agent_id FROM tasks t JOIN dags d ON d.id = t.dag_id
        WHERE t.dag_id = $1 AND t.id = $2 AND t.status = 'running' AND t.lease_expires_at < now() FOR UPDATE OF t`,
      [dagId, taskId],
    );
    const row = r.rows[0];
    if (!row) return undefined;
    const error = `lease of worker ${row.lease_owner} expired`;
    const lost = await tx.query<LostAttemptRow>(
      `UPDATE attempts SET status = 'failed', end_reason = 'lease_expired', error = $3, finished_at = now()
        WHERE dag_id = $1 AND task_id = $2 AND status = 'running'
        RETURNING number, worker_id, started_at, span_id, trace_context`,
      [dagId, taskId, error],
    );
    // LLM calls of the lost attempts (migration 0006): in flight -> unknown usage; already answered -> the attempt is refunded.
    const settled = await tx.query<{ refunded: boolean }>("SELECT apex_settle_lost_attempts($1, $2, $3::int[]) AS refunded", [
      dagId,
      taskId,
      lost.rows.map((a) => a.number),
    ]);
    const spent = row.attempts - (settled.rows[0]?.refunded ? 1 : 0);
    let changes: ChangeRow[];
    if (lost.rowCount > 0 && spent >= row.max_attempts) {
      changes = (await tx.query<ChangeRow>("SELECT * FROM apex_fail_task($1, $2, $3)", [dagId, taskId, `${error}; no attempts left`])).rows;
    } else {
      await tx.query(
        `UPDATE tasks SET status = 'ready', next_run_at = now(), error = $3, lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
          WHERE dag_id = $1 AND id = $2`,
        [dagId, taskId, error],
      );
      await tx.query("SELECT pg_notify('apex_tasks_ready', '')");
      changes = [{ kind: "task", dag_id: dagId, task_id: taskId, status: "ready", detail: null }];
    }
    return { agentId: row.agent_id, kind: row.kind, leaseOwner: row.lease_owner, taskTraceContext: row.trace_context, lost: lost.rows, changes };
  });
}

/** True when a reclaim ended this attempt of `workerId` (and so reported it, span included). */
export async function attemptWasReclaimed(db: Db, p: { dagId: string; taskId: string; attempt: number; workerId: string }): Promise<boolean> {
  const r = await db.query(
    "SELECT 1 FROM attempts WHERE dag_id = $1 AND task_id = $2 AND number = $3 AND worker_id = $4 AND end_reason = 'lease_expired'",
    [p.dagId, p.taskId, p.attempt, p.workerId],
  );
  return r.rowCount > 0;
}

/**
 * Marks the due ready LLM tasks of `providers` (their breaker is open, so no worker claims them) as
 * waiting for their provider, for the API. Only unmarked rows are written: each wait costs one
 * write per task. The mark goes when the task is claimed, retried or reclaimed.
 */
export async function markWaitingForProvider(db: Db, providers: readonly string[]): Promise<void> {
  await db.query(
    `UPDATE tasks SET waiting_for = 'provider'
      WHERE status = 'ready' AND next_run_at <= now() AND waiting_for IS NULL
        AND kind = 'llm' AND split_part(spec->>'model', '/', 1) = ANY ($1::text[])`,
    [providers],
  );
}

/** When the next ready task is due (LLM tasks of `blockedProviders` aside: they are not claimed) and when the next lease expires. */
export async function nextWakeTimes(db: Db, blockedProviders: readonly string[] = []): Promise<{ nextReadyAt?: Date; nextLeaseExpiry?: Date }> {
  const r = await db.query<{ ready: Date | null; lease: Date | null }>(
    `SELECT (SELECT min(next_run_at) FROM tasks WHERE status = 'ready'
               AND NOT (kind = 'llm' AND split_part(spec->>'model', '/', 1) = ANY ($1::text[]))) AS ready,
            (SELECT min(lease_expires_at) FROM tasks WHERE status = 'running') AS lease`,
    [blockedProviders],
  );
  const row = r.rows[0];
  return {
    nextReadyAt: row?.ready ? new Date(row.ready) : undefined,
    nextLeaseExpiry: row?.lease ? new Date(row.lease) : undefined,
  };
}
