/**
 * The journal of LLM calls (migration 0006): a call is recorded in flight before it goes out, and
 * its answer with its usage the moment it arrives, each in its own transaction, so a later attempt
 * of the task reuses a paid answer instead of paying again. One round trip per function unless it
 * says otherwise; the engine (engine/llm-journal.ts) decides when to call what.
 */
import type { LlmCallUsage } from "../../domain/attempt";
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
}

/**
 * Records the call in flight, fenced: only while `attempt` is running under `workerId`'s lease and
 * the call has no answer yet. False when the fence fails: the call must not go out.
 */
export async function markInFlight(db: Db, c: SendingCall): Promise<boolean> {
  const r = await db.query(
    `INSERT INTO llm_calls (dag_id, task_id, call, try, attempt, worker_id, status, idempotency_key, provider, model)
     SELECT $1, $2, $3, $4, $5, $6, 'in_flight', $7, $8, $9
      WHERE EXISTS (SELECT 1 FROM tasks t JOIN attempts a ON a.dag_id = t.dag_id AND a.task_id = t.id
                     WHERE t.dag_id = $1 AND t.id = $2 AND t.status = 'running' AND t.lease_owner = $6
                       AND a.number = $5 AND a.status = 'running')
     ON CONFLICT (dag_id, task_id, call) DO UPDATE
        SET try = EXCLUDED.try, attempt = EXCLUDED.attempt, worker_id = EXCLUDED.worker_id, status = 'in_flight',
            idempotency_key = EXCLUDED.idempotency_key, provider = EXCLUDED.provider, model = EXCLUDED.model,
            error = NULL, sent_at = now()
      WHERE llm_calls.status <> 'answered'
     RETURNING 1`,
    [c.dagId, c.taskId, c.call, c.try, c.attempt, c.workerId, c.idempotencyKey, c.provider, c.model],
  );
  return r.rowCount > 0;
}

/** One paid call's usage, as the usage table stores it (`model` is `provider/model` as requested). */
export interface PaidUsage extends LlmCallUsage {
  readonly agentId: string;
}

/**
 * The answer and its usage, in one statement (one transaction), unfenced: a paid answer is kept
 * whoever holds the task now. The first answer is the one later attempts reuse; the usage row is
 * this attempt's (replacing an unknown one a reclaim wrote for it meanwhile).
 */
export async function recordAnswer(db: Db, ref: CallRef, attempt: number, answer: StoredAnswer, usage: PaidUsage): Promise<void> {
  await db.query(
    `WITH answered AS (
       UPDATE llm_calls SET status = 'answered', answer = $15, response_model = $8, attempt = $5, error = NULL, answered_at = now()
        WHERE dag_id = $1 AND task_id = $2 AND call = $3 AND status <> 'answered'
     )
     INSERT INTO usage (dag_id, task_id, agent_id, attempt, llm_call, provider, model, response_model, input_tokens,
                        output_tokens, cached_tokens, cost_usd, price_version, latency_ms)
     VALUES ($1, $2, $4, $5, $3, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT (dag_id, task_id, llm_call, attempt) WHERE llm_call IS NOT NULL DO UPDATE
        SET unknown = false, provider = EXCLUDED.provider, model = EXCLUDED.model, response_model = EXCLUDED.response_model,
            input_tokens = EXCLUDED.input_tokens, output_tokens = EXCLUDED.output_tokens, cached_tokens = EXCLUDED.cached_tokens,
            cost_usd = EXCLUDED.cost_usd, price_version = EXCLUDED.price_version, latency_ms = EXCLUDED.latency_ms
      WHERE usage.unknown`,
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
    ],
  );
}

/**
 * The call of `attempt` ended without an answer. `unknown`: the request may have reached the
 * provider (timeout, abort): an unknown-usage row, and the next try reuses the key. Otherwise the
 * provider answered with an error: failed, nothing paid, the next try gets a new key.
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
  await db.query(
    `UPDATE llm_calls SET status = 'failed', error = $5
      WHERE dag_id = $1 AND task_id = $2 AND call = $3 AND attempt = $4 AND status = 'in_flight'`,
    [ref.dagId, ref.taskId, ref.call, attempt, encodeText(error)],
  );
}
