/**
 * A task's life on the queue, one function per step:
 *   claimTasks (lease + attempt started, one statement) -> (parkForApproval | finishAttempts) ;
 *   reclaimExpiredLeases for crashed workers.
 * Every write after the claim is fenced on (status = 'running', lease_owner = this worker, this
 * attempt still running), so a worker that lost its lease (expired, cancelled) can never overwrite
 * what happened since. The SQL is in store/queries/queue.ts and migration 0005.
 */
import type { AttemptOutcome, FinishResult } from "../domain/attempt";
import type { TaskSpec } from "../service/dag-schema";
import type { Db } from "../store/db";
import * as queue from "../store/queries/queue";
import { decodeJson, encodeJson, encodeText } from "../store/storable-text";
import { planAttemptSpan } from "../telemetry/attempt-spans";
import { idGenerator } from "../telemetry/tracing";
import type { EngineContext } from "./context";
import { announce } from "./events";
import type { TemplateScope } from "./template";

export type { AttemptOutcome, FinishResult, LlmCallUsage } from "../domain/attempt";

export interface ClaimedTask {
  readonly dagId: string;
  readonly taskId: string;
  readonly kind: "llm" | "tool";
  readonly spec: TaskSpec;
  readonly dependsOn: readonly string[];
  /** Attempts spent, this one included. */
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly timeoutMs: number;
  readonly agentId: string;
  /** The DAG's input and the dependencies' outputs, for templates. */
  readonly scope: TemplateScope;
  /** W3C carrier of the task (falls back to the DAG's): one DAG, one trace. */
  readonly traceContext: Record<string, string> | null;
  readonly workerId: string;
  /** The attempt the claim started; undefined when the task waits for an operator's approval. */
  readonly attempt?: number;
  /** The attempt's planned span id (stored with it: a reclaiming worker ends that very span). */
  readonly spanId?: string;
  /** The approved approval an approval-gated task started under: its args digest must match the call. */
  readonly approval?: { readonly id: string; readonly argsDigest: string | null };
}

export interface ClaimOptions {
  readonly limit: number;
  readonly leaseMs: number;
  /** Tools that need an approval: their tasks are claimed without an attempt until approved. */
  readonly approvalTools?: readonly string[];
  /** Providers whose breaker is open: their LLM tasks are left waiting (no claim, no attempt). */
  readonly blockedProviders?: readonly string[];
}

/** Claims up to `limit` due ready tasks and starts an attempt on each (one statement). */
export async function claimTasks(ctx: EngineContext, workerId: string, options: ClaimOptions): Promise<ClaimedTask[]> {
  if (options.limit <= 0) return [];
  const rows = await queue.claimAndStart(ctx.db, {
    workerId,
    limit: options.limit,
    leaseMs: options.leaseMs,
    approvalTools: options.approvalTools ?? [],
    blockedProviders: options.blockedProviders ?? [],
    spanIds: Array.from({ length: options.limit }, () => idGenerator.generateSpanId()),
  });
  const claimed = rows.map(
    (row): ClaimedTask => ({
      dagId: row.dag_id,
      taskId: row.id,
      kind: row.kind,
      spec: row.spec as TaskSpec,
      dependsOn: row.depends_on,
      attempts: row.attempts,
      maxAttempts: row.max_attempts,
      timeoutMs: row.timeout_ms,
      agentId: row.agent_id,
      // Outputs are stored escaped (store/storable-text.ts); the input was validated and is stored as sent.
      scope: { input: row.input, outputs: decodeJson(row.dep_outputs ?? {}) as Record<string, unknown> },
      traceContext: row.trace_context ?? row.dag_trace_context,
      workerId,
      attempt: row.attempt ?? undefined,
      spanId: row.span_id ?? undefined,
      ...(row.approval_id ? { approval: { id: row.approval_id, argsDigest: row.approval_digest } } : {}),
    }),
  );
  announce(
    ctx,
    claimed.filter((t) => t.attempt !== undefined).map((t) => ({ kind: "task", dag_id: t.dagId, task_id: t.taskId, status: "running", detail: null })),
  );
  return claimed;
}

/**
 * Renews this worker's leases on the given tasks (only those it is still working on: a task it
 * dropped by mistake must expire and be reclaimed); returns the keys (`dag/task`) it still holds.
 */
export async function heartbeat(db: Db, workerId: string, leaseMs: number, tasks: readonly ClaimedTask[]): Promise<Set<string>> {
  if (tasks.length === 0) return new Set();
  const held = await queue.renewLeases(db, workerId, leaseMs, tasks);
  return new Set(held.map((x) => taskKey(x.dag_id, x.id)));
}

export const taskKey = (dagId: string, taskId: string) => `${dagId}/${taskId}`;

export interface FinishedAttempt {
  readonly task: ClaimedTask;
  readonly attempt: number;
  readonly outcome: AttemptOutcome;
}

/**
 * Records attempts' outcomes and moves their tasks, dependents and DAGs along: one statement for
 * the whole batch (apex_finish_attempts). All items must come from the same worker.
 */
export async function finishAttempts(ctx: EngineContext, items: readonly FinishedAttempt[]): Promise<FinishResult[]> {
  if (items.length === 0) return [];
  const workerId = items[0]!.task.workerId;
  if (items.some((i) => i.task.workerId !== workerId)) throw new Error("finishAttempts: one worker's attempts per batch");
  const changes = await queue.finishAttempts(ctx.db, workerId, items.map(outcomeRow));
  announce(ctx, changes);
  const results = new Map<string, FinishResult>();
  for (const c of changes) {
    if (c.kind === "result") results.set(`${taskKey(c.dag_id, c.task_id!)}#${(c.detail as { attempt: number }).attempt}`, c.status as FinishResult);
  }
  return items.map((i) => {
    const r = results.get(`${taskKey(i.task.dagId, i.task.taskId)}#${i.attempt}`);
    if (!r) throw new Error(`finishAttempts: no result for ${taskKey(i.task.dagId, i.task.taskId)} attempt ${i.attempt}`);
    return r;
  });
}

/** Records one attempt's outcome (see finishAttempts). */
export async function finishAttempt(ctx: EngineContext, task: ClaimedTask, attempt: number, outcome: AttemptOutcome): Promise<FinishResult> {
  const [result] = await finishAttempts(ctx, [{ task, attempt, outcome }]);
  return result!;
}

/** apex_finish_attempts takes delays as an integer: a provider's huge Retry-After is capped, not a refused batch. */
const maxDelayMs = 2 ** 31 - 1;
const storableDelayMs = (ms: number) => (Number.isFinite(ms) ? Math.min(maxDelayMs, Math.max(0, Math.round(ms))) : 0);

function outcomeRow({ task, attempt, outcome }: FinishedAttempt): queue.OutcomeRow {
  const base = { dag_id: task.dagId, task_id: task.taskId, attempt };
  switch (outcome.kind) {
    case "succeeded":
      // No usage: each LLM call's usage was recorded when its answer arrived (engine/paid-once.ts).
      return { ...base, outcome: "succeeded", output: encodeJson(outcome.output ?? null) };
    case "failed":
      return {
        ...base,
        outcome: outcome.retryDelayMs === undefined ? "fail" : "retry",
        error: encodeText(outcome.error),
        delay_ms: outcome.retryDelayMs === undefined ? undefined : storableDelayMs(outcome.retryDelayMs),
        end_reason: outcome.errorType === "cancelled" ? "cancelled" : undefined,
      };
    case "rescheduled":
      return { ...base, outcome: "reschedule", error: encodeText(outcome.reason), delay_ms: storableDelayMs(outcome.delayMs) };
    case "deferred":
      return { ...base, outcome: "defer", error: encodeText(outcome.reason), delay_ms: storableDelayMs(outcome.delayMs), waiting_for: outcome.waitingFor };
  }
}

/** Gives back a claim on which no attempt started (an approval-gated task at shutdown). */
export async function releaseClaim(ctx: EngineContext, task: ClaimedTask): Promise<boolean> {
  return queue.releaseClaim(ctx.db, task.workerId, task.dagId, task.taskId);
}

/**
 * Tool tasks that need an operator: the task waits in awaiting_approval with a pending approvals
 * row (the rendered args the operator sees, bound by their digest, valid for `ttlMs`). The claim
 * is given back; no attempt is spent: `unstartAttempt`, an attempt the claim started under an
 * approval that no longer covers the call, is taken back.
 */
export async function parkForApproval(
  ctx: EngineContext,
  task: ClaimedTask,
  call: { tool: string; args: unknown; argsDigest: string; ttlMs: number; unstartAttempt?: number },
): Promise<string | undefined> {
  // The args are rendered from upstream outputs: stored escaped like them (store/storable-text.ts).
  const parked = await queue.parkForApproval(ctx.db, { workerId: task.workerId, dagId: task.dagId, taskId: task.taskId, ...call, args: encodeJson(call.args) });
  if (!parked) return undefined;
  announce(ctx, parked.changes);
  return parked.approvalId;
}

/**
 * Tasks whose lease expired (their worker died or hung): the running attempt ends as
 * lease_expired and the task is ready again at once, or failed when no attempt is left. The dead
 * worker could not report the attempt: once committed, this worker reports it (span, metrics, log).
 */
export async function reclaimExpiredLeases(ctx: EngineContext, limit = 50): Promise<number> {
  let reclaimed = 0;
  for (const { dag_id: dagId, id: taskId } of await queue.expiredLeases(ctx.db, limit)) {
    const r = await queue.reclaimLease(ctx.db, dagId, taskId);
    if (!r) continue;
    reclaimed++;
    for (const a of r.lost) {
      ctx.observer.attemptLost({
        dagId,
        taskId,
        agentId: r.agentId,
        kind: r.kind,
        attempt: a.number,
        workerId: a.worker_id,
        startTime: new Date(a.started_at),
        message: `lease of worker ${r.leaseOwner} expired`,
        attemptCarrier: a.trace_context ?? (a.span_id ? planAttemptSpan(r.taskTraceContext, a.span_id).carrier : null),
        taskCarrier: r.taskTraceContext,
      });
    }
    announce(ctx, r.changes);
  }
  return reclaimed;
}

/** True when another worker's reclaim ended this attempt (and so reported it, span included). */
export function attemptWasReclaimed(db: Db, task: ClaimedTask, attempt: number): Promise<boolean> {
  return queue.attemptWasReclaimed(db, { dagId: task.dagId, taskId: task.taskId, attempt, workerId: task.workerId });
}

export const nextWakeTimes = queue.nextWakeTimes;
export const markWaitingForProvider = queue.markWaitingForProvider;
