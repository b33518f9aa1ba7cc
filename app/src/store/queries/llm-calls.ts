/**
 * The journal of LLM calls (migration 0006): a call is recorded in flight before it goes out, and
 * its answer with its usage the moment it arrives, each in its own transaction, so a later attempt
 * of the task reuses a paid answer instead of paying again. One round trip per function unless it
 * says otherwise; the engine (engine/llm-journal.ts) decides when to call what.
 */
import type { LlmCallUsage } from "../../domain/attempt";
import type { BudgetPeriod, BudgetRefusal, BudgetScope, CallWorstCase } from "../../domain/budget";
import type { Db } from "../db";
import { encodeText } from "../storable-text";

export interface CallRef {
  readonly dagId: string;
  readonly taskId: string;
  /** The call's number within its task (an LLM task makes call 1). */
  readonly call: number;
}

/**
 * What a later attempt needs to stand in for the provider. Stored as JSON text: JSON.stringify
 * escapes NUL and lone surrogates as \u sequences, so any answer is stored and read back exactly.
 */
export interface StoredAnswer {
  readonly text: string;
  readonly responseModel: string;
  readonly finishReasons: readonly string[];
  readonly responseId?: string;
}

export type CallState =
  | { readonly kind: "answered"; readonly answer: StoredAnswer }
  /** Send the call as try `try` (the same try as an unknown one, the next after a failed one). */
  | { readonly kind: "send"; readonly try: number };

/**
 * Where a call stands for `attempt`: answered (reuse it), or which try to send. A row left in
 * flight by an earlier attempt (its worker died and no reclaim has settled it yet) becomes unknown
 * here, with its unknown-usage row (a second round trip, only then). No lock: only the attempt
 * holding the task's lease gets here, and settling matches that earlier attempt's row only.
 */
export async function callState(db: Db, ref: CallRef, attempt: number): Promise<CallState> {
  const r = await db.query<{ status: string; try: number; attempt: number; answer: string | null }>(
    "SELECT status, try, attempt, answer FROM llm_calls WHERE dag_id = $1 AND task_id = $2 AND call = $3",
    [ref.dagId, ref.taskId, ref.call],
  );
  const row = r.rows[0];
  if (!row) return { kind: "send", try: 1 };
  if (row.status === "answered") return { kind: "answered", answer: JSON.parse(row.answer!) as StoredAnswer };
  if (row.status === "in_flight" && row.attempt !== attempt) {
    await db.query("SELECT apex_llm_calls_unknown($1, $2, $3::int[])", [ref.dagId, ref.taskId, [row.attempt]]);
  }
  return { kind: "send", try: row.status === "failed" ? row.try + 1 : row.try };
}

export interface SendingCall extends CallRef {
  readonly try: number;
  readonly attempt: number;
  readonly workerId: string;
  readonly idempotencyKey: string;
  readonly provider: string;
  readonly model: string;
  /** The call's worst case, reserved against every budget of the DAG before it goes out. */
  readonly worstCase: CallWorstCase;
  /** The budgets' clock: which hour, day and month the reservation counts in. */
  readonly now: Date;
}

export type BeginCallResult =
  | { readonly status: "sent"; readonly reserved: boolean }
  /** The attempt no longer holds its task (or the call has an answer): the call must not go out. */
  | { readonly status: "fenced" }
  | ({ readonly status: "refused" } & BudgetRefusal);

/**
 * Reserves the call's worst case against every budget of its DAG and records the call in flight,
 * all or nothing and fenced on the attempt's lease (apex_begin_llm_call, migration 0010). One round
 * trip whether or not budgets apply.
 */
export async function beginCall(db: Db, c: SendingCall): Promise<BeginCallResult> {
  const r = await db.query<{ result: BeginCallRow }>(
    "SELECT apex_begin_llm_call($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) AS result",
    [c.dagId, c.taskId, c.call, c.try, c.attempt, c.workerId, c.idempotencyKey, c.provider, c.model, c.worstCase.microUsd, c.worstCase.tokens, c.now],
  );
  const row = r.rows[0]!.result;
  if (row.status !== "refused") return row;
  return {
    status: "refused",
    decision: row.decision,
    budget: {
      scope: row.scope,
      scopeId: row.scope_id,
      period: row.period,
      limitMicroUsd: toNumberOrNull(row.limit_micro_usd),
      limitTokens: toNumberOrNull(row.limit_tokens),
      spentMicroUsd: Number(row.spent_micro_usd),
      spentTokens: Number(row.spent_tokens),
      reservedMicroUsd: Number(row.reserved_micro_usd),
      reservedTokens: Number(row.reserved_tokens),
      resetsAt: row.resets_at === null ? null : new Date(row.resets_at),
    },
    worstCase: c.worstCase,
    waitUntil: row.wait_until === null ? null : new Date(row.wait_until),
  };
}

type BeginCallRow =
  | { status: "sent"; reserved: boolean }
  | { status: "fenced" }
  | {
      status: "refused";
      decision: BudgetRefusal["decision"];
      scope: BudgetScope;
      scope_id: string;
      period: BudgetPeriod;
      limit_micro_usd: number | string | null;
      limit_tokens: number | string | null;
      spent_micro_usd: number | string;
      spent_tokens: number | string;
      reserved_micro_usd: number | string;
      reserved_tokens: number | string;
      resets_at: string | null;
      wait_until: string | null;
    };

const toNumberOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

/** One paid call's usage, as the usage table stores it (`model` is `provider/model` as requested). */
export interface PaidUsage extends LlmCallUsage {
  readonly agentId: string;
  /** The exact cost the budgets are settled with (costUsd is the same, rounded for display). */
  readonly costMicroUsd: number;
}

/**
 * The answer, its usage and the budgets' settlement to the real cost, in one function call (one
 * transaction), unfenced: a paid answer is kept whoever holds the task now. The first answer is
 * the one later attempts reuse; the usage row is this attempt's (replacing an unknown one a
 * reclaim wrote for it meanwhile). Returns by how many micro-dollars the real cost exceeded the
 * call's reservation (0 when it did not, or when no budget applied).
 */
export async function recordAnswer(db: Db, ref: CallRef, attempt: number, answer: StoredAnswer, usage: PaidUsage): Promise<number> {
  const r = await db.query<{ overrun: number | string }>(
    "SELECT apex_record_answer($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) AS overrun",
    [
      ref.dagId,
      ref.taskId,
      ref.call,
      usage.agentId,
      attempt,
      usage.provider,
      usage.model,
      encodeText(usage.responseModel),
      usage.inputTokens,
      usage.outputTokens,
      usage.cachedTokens,
      usage.costUsd,
      usage.priceVersion,
      Math.round(usage.latencyMs),
      JSON.stringify(answer),
      usage.costMicroUsd,
    ],
  );
  return Number(r.rows[0]?.overrun ?? 0);
}

/**
 * The call of `attempt` ended without an answer. `unknown`: the request may have reached the
 * provider (timeout, abort): an unknown-usage row, and the next try reuses the key. Otherwise the
 * provider answered with an error: failed, nothing paid, the next try gets a new key. Either way
 * the call's budget reservation is settled: charged at its worst case, or released.
 */
export async function recordNoAnswer(db: Db, ref: CallRef, attempt: number, unknown: boolean, error: string): Promise<void> {
  if (unknown) {
    await db.transaction(async (tx) => {
      await tx.query("SELECT apex_llm_calls_unknown($1, $2, $3::int[])", [ref.dagId, ref.taskId, [attempt]]);
      await tx.query("UPDATE llm_calls SET error = $4 WHERE dag_id = $1 AND task_id = $2 AND call = $3 AND status = 'unknown'", [
        ref.dagId,
        ref.taskId,
        ref.call,
        encodeText(error),
      ]);
    });
    return;
  }
  await db.query("SELECT apex_llm_call_failed($1, $2, $3, $4, $5)", [ref.dagId, ref.taskId, ref.call, attempt, encodeText(error)]);
}
