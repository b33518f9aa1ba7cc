/**
 * One timed run of a variant on one store. Each caller owns a DAG of `callsPerCaller` LLM tasks,
 * all claimed up front through the engine's claimTasks (lease taken, attempt running, so
 * beginCall's fence passes), then makes its calls one after the other as the engine's paid-once
 * step does, minus the provider: beginCall (reserve + in-flight record) and, when it was sent,
 * recordAnswer (answer + usage + settlement). Only those two calls are timed. After the run the
 * bookkeeping is checked: a run whose reservations did not hold fails the bench.
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { createInProcessEventBus } from "../../app/src/coord/in-process";
import { engineContext } from "../../app/src/engine/context";
import { claimTasks, type ClaimedTask } from "../../app/src/engine/lifecycle";
import { idempotencyKey, taskCallNumber } from "../../app/src/engine/paid-once";
import type { Db } from "../../app/src/store/db";
import { replaceBudgets } from "../../app/src/store/queries/budgets";
import { insertDag } from "../../app/src/store/queries/dags";
import { beginCall, recordAnswer, type StoredAnswer } from "../../app/src/store/queries/llm-calls";
import type { LockWaitSampler } from "./lock-waits";
import { answerUsage, worstCase, type Variant, type VariantName } from "./variants";

const provider = "openai";
const model = "openai/gpt-4o-mini";
const answer: StoredAnswer = { text: "ok", responseModel: "gpt-4o-mini-2024-07-18", finishReasons: ["stop"] };
const workerId = "budget-bench";
/** Longer than any run: no lease may expire while its calls are made. */
const leaseMs = 600_000;

export interface RunSize {
  readonly callers: number;
  readonly callsPerCaller: number;
}

export interface RunResult {
  readonly variant: VariantName;
  readonly calls: number;
  readonly sent: number;
  /** Refusals by decision (fail, wait_settle, wait_reset). */
  readonly refusedBy: Readonly<Record<string, number>>;
  readonly refused: number;
  readonly seconds: number;
  readonly callsPerSecond: number;
  /** beginCall latencies (ms) of the calls it let out, and of those it refused. */
  readonly sentBeginMs: readonly number[];
  readonly refusedBeginMs: readonly number[];
  readonly recordAnswerMs: readonly number[];
  /** Postgres: the average number of connections waiting on a lock during the calls (undefined: not sampled). */
  readonly lockWaiting?: number;
}

/** Names of what runs create: clearEarlierRuns removes them, and nothing else (the recorded usage history stays). */
const runPrefix = "budget-bench-";

/**
 * Records `rows` usage rows of this month (one per paid call) for another agent's DAG, as a live
 * deployment's usage table holds them: the spend a budget window starts from is read from there.
 */
export async function recordUsageHistory(db: Db, rows: number): Promise<void> {
  if (rows === 0) return;
  const agent = await db.query<{ id: string }>("INSERT INTO agents (name) VALUES ('usage-history') RETURNING id");
  const agentId = agent.rows[0]!.id;
  const dagId = randomUUID();
  await insertDag(db, {
    id: dagId,
    agentId,
    name: "usage-history",
    input: {},
    submittedBy: "usage-history-key",
    traceContext: null,
    tasks: [{ id: "history", kind: "llm", spec: { id: "history", kind: "llm", model, prompt: "Say ok." }, depends_on: [], max_attempts: 1, timeout_ms: leaseMs, position: 0, trace_context: null }],
  });
  // Its calls were made long ago: the task is done and never claimed by a run.
  await db.query("UPDATE tasks SET status = 'succeeded', finished_at = now() WHERE dag_id = $1", [dagId]);
  await db.query("UPDATE dags SET status = 'succeeded', finished_at = now(), open_tasks = 0 WHERE id = $1", [dagId]);
  await db.query(
    `INSERT INTO usage (dag_id, task_id, agent_id, attempt, llm_call, provider, model, response_model, input_tokens, output_tokens, cost_usd, price_version, created_at)
     SELECT $1, 'history', $2, 1, n, $3, $4, $5, $6, $7, $8, 'budget-bench', date_trunc('month', now()) + (now() - date_trunc('month', now())) * n / ($9 + 1)
       FROM generate_series(1, $9::integer) AS n`,
    [dagId, agentId, provider, model, answer.responseModel, answerUsage.inputTokens, answerUsage.outputTokens, answerUsage.costMicroUsd / 1e6, rows],
  );
}

/** Empties what earlier runs left, so every run starts from the same state. */
async function clearEarlierRuns(db: Db): Promise<void> {
  // Tasks, attempts, llm_calls, usage and reservations go with their DAG; windows with their budget.
  await db.query("DELETE FROM budgets");
  await db.query("DELETE FROM dags WHERE name LIKE $1", [`${runPrefix}%`]);
  await db.query("DELETE FROM agents WHERE name LIKE $1", [`${runPrefix}%`]);
  await db.query("VACUUM ANALYZE agents, dags, tasks, attempts, task_edges, llm_calls, usage, budgets, budget_windows, budget_reservations");
}

/** The run's agent, one DAG and one API key per caller, their budgets, and every task claimed. */
async function prepare(db: Db, variant: Variant, size: RunSize): Promise<{ agentId: string; perCaller: ClaimedTask[][] }> {
  const total = size.callers * size.callsPerCaller;
  const budgets = variant.budgets(total);
  const agent = await db.query<{ id: string }>("INSERT INTO agents (name) VALUES ($1) RETURNING id", [`${runPrefix}agent-${randomUUID()}`]);
  const agentId = agent.rows[0]!.id;
  if (budgets.agentDay) await replaceBudgets(db, "agent", agentId, { day: budgets.agentDay }, workerId);

  const dagIds: string[] = [];
  for (let c = 0; c < size.callers; c++) {
    const dagId = randomUUID();
    const keyId = `${runPrefix}key-${c}`;
    dagIds.push(dagId);
    if (budgets.keyMonth) await replaceBudgets(db, "api_key", keyId, { month: budgets.keyMonth }, workerId);
    await insertDag(db, {
      id: dagId,
      agentId,
      name: `${runPrefix}caller-${c}`,
      input: {},
      submittedBy: keyId,
      traceContext: null,
      ...(budgets.dag ? { budget: { limit: budgets.dag, onExhausted: "fail" as const } } : {}),
      tasks: Array.from({ length: size.callsPerCaller }, (_, i) => ({
        id: `call-${i}`,
        kind: "llm" as const,
        spec: { id: `call-${i}`, kind: "llm", model, prompt: "Say ok.", depends_on: [], max_attempts: 1 },
        depends_on: [],
        max_attempts: 1,
        timeout_ms: leaseMs,
        position: i,
        trace_context: null,
      })),
    });
  }

  const ctx = engineContext(db, createInProcessEventBus());
  const claimed = await claimTasks(ctx, workerId, { limit: total, leaseMs });
  if (claimed.length !== total || claimed.some((t) => t.attempt === undefined)) {
    throw new Error(`claimTasks: expected ${total} tasks started, got ${claimed.filter((t) => t.attempt !== undefined).length}`);
  }
  const perCaller = dagIds.map((id) => claimed.filter((t) => t.dagId === id));
  return { agentId, perCaller };
}

interface CallerLog {
  sent: number;
  refusedBy: Record<string, number>;
  sentBeginMs: number[];
  refusedBeginMs: number[];
  recordAnswerMs: number[];
  /** What beginCall said about `reserved` for the calls it sent. */
  reservedAnswers: Set<boolean>;
}

async function makeCalls(db: Db, agentId: string, tasks: readonly ClaimedTask[], log: CallerLog): Promise<void> {
  for (const task of tasks) {
    const attempt = task.attempt!;
    const ref = { dagId: task.dagId, taskId: task.taskId, call: taskCallNumber };
    const key = idempotencyKey(task.dagId, task.taskId, taskCallNumber, 1);
    const t0 = performance.now();
    const begun = await beginCall(db, { ...ref, try: 1, attempt, workerId, idempotencyKey: key, provider, model, worstCase, now: new Date() });
    const t1 = performance.now();
    if (begun.status === "fenced") throw new Error(`beginCall: task ${task.taskId} of DAG ${task.dagId} was fenced (its claim was lost)`);
    if (begun.status === "refused") {
      log.refusedBeginMs.push(t1 - t0);
      log.refusedBy[begun.decision] = (log.refusedBy[begun.decision] ?? 0) + 1;
      continue;
    }
    log.sentBeginMs.push(t1 - t0);
    log.reservedAnswers.add(begun.reserved);
    await recordAnswer(db, ref, attempt, answer, {
      provider,
      model,
      responseModel: answer.responseModel,
      inputTokens: answerUsage.inputTokens,
      outputTokens: answerUsage.outputTokens,
      cachedTokens: 0,
      costUsd: answerUsage.costMicroUsd / 1e6,
      priceVersion: "budget-bench",
      latencyMs: 0,
      agentId,
      costMicroUsd: answerUsage.costMicroUsd,
    });
    log.recordAnswerMs.push(performance.now() - t1);
    log.sent++;
  }
}

/** The store must show exactly what the callers saw: every sent call answered and settled, nothing held, spend within the limit. */
async function check(db: Db, variant: Variant, agentId: string, total: number, log: CallerLog): Promise<void> {
  const fail = (what: string) => {
    throw new Error(`${variant.name}: ${what}`);
  };
  const calls = await db.query<{ status: string; n: string }>("SELECT status, count(*)::text AS n FROM llm_calls GROUP BY status");
  const answered = Number(calls.rows.find((r) => r.status === "answered")?.n ?? 0);
  if (answered !== log.sent || calls.rows.some((r) => r.status !== "answered")) {
    fail(`llm_calls: expected ${log.sent} answered and nothing else, got ${calls.rows.map((r) => `${r.n} ${r.status}`).join(", ") || "none"}`);
  }
  const held = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM budget_reservations");
  if (Number(held.rows[0]!.n) !== 0) fail(`budget_reservations: ${held.rows[0]!.n} left after every call settled`);

  const budgets = variant.budgets(total);
  const expectReserved = budgets.agentDay !== undefined;
  if (log.reservedAnswers.has(!expectReserved)) fail(`beginCall answered reserved=${!expectReserved} for a sent call`);
  const max = variant.admitsAtMost(total);
  if (max === undefined && log.sent !== total) fail(`expected all ${total} calls sent, ${log.sent} were`);
  if (max !== undefined && log.sent > max) fail(`the budget fits ${max} calls, ${log.sent} were sent`);
  if (!budgets.agentDay) return;
  const window = await db.query<{ spent: string; reserved: string; limit: string | null }>(
    `SELECT w.spent_micro_usd::text AS spent, w.reserved_micro_usd::text AS reserved, b.limit_micro_usd::text AS limit
       FROM budget_windows w JOIN budgets b ON b.id = w.budget_id WHERE b.scope = 'agent' AND b.scope_id = $1`,
    [agentId],
  );
  const w = window.rows[0];
  if (!w) return fail("the agent's day window was never created");
  if (Number(w.spent) !== log.sent * worstCase.microUsd || Number(w.reserved) !== 0) {
    fail(`agent window: expected spent ${log.sent * worstCase.microUsd} µ$ and nothing reserved, got spent ${w.spent}, reserved ${w.reserved}`);
  }
  if (w.limit !== null && Number(w.spent) > Number(w.limit)) fail(`agent window: spent ${w.spent} µ$ over its limit ${w.limit}`);
}

/** `sampleLocks`: where the store can tell, samples its lock waits while the calls are made. */
export async function runVariant(db: Db, variant: Variant, size: RunSize, sampleLocks?: () => Promise<LockWaitSampler>): Promise<RunResult> {
  await clearEarlierRuns(db);
  const { agentId, perCaller } = await prepare(db, variant, size);
  const total = size.callers * size.callsPerCaller;
  const log: CallerLog = { sent: 0, refusedBy: {}, sentBeginMs: [], refusedBeginMs: [], recordAnswerMs: [], reservedAnswers: new Set() };

  const sampler = await sampleLocks?.();
  const started = performance.now();
  await Promise.all(perCaller.map((tasks) => makeCalls(db, agentId, tasks, log)));
  const seconds = (performance.now() - started) / 1000;
  const lockWaiting = await sampler?.stop();

  await check(db, variant, agentId, total, log);
  return {
    variant: variant.name,
    calls: total,
    sent: log.sent,
    refusedBy: log.refusedBy,
    refused: total - log.sent,
    seconds,
    callsPerSecond: total / seconds,
    sentBeginMs: log.sentBeginMs,
    refusedBeginMs: log.refusedBeginMs,
    recordAnswerMs: log.recordAnswerMs,
    ...(lockWaiting !== undefined ? { lockWaiting } : {}),
  };
}
