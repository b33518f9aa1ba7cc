/**
 * An LLM task's call as a step paid once. Before the request goes out the call is recorded in
 * flight (fenced on this attempt's lease); the answer and its usage are written the moment they
 * arrive, each in its own transaction (store/queries/llm-calls.ts). A later attempt of the task
 * finds the answer and reuses it: no provider call, no second usage row. A call whose worker died
 * in flight is settled as unknown usage (by the reclaim, or here at the next attempt) and sent again
 * under the same idempotency key. Recording the call in flight also reserves its worst case against
 * the DAG's budgets, and recording the answer settles them to its real cost (docs/budgets.md).
 */
import { createHash } from "node:crypto";
import type { LlmCallUsage } from "../domain/attempt";
import { LlmError, type LlmGateway, type LlmRequest, type LlmResult } from "../llm/types";
import type { Db } from "../store/db";
import { isDatabaseUnavailable } from "../store/db-errors";
import * as calls from "../store/queries/llm-calls";
import { reportBudgetOverrun, reportBudgetRefusal } from "../telemetry/budget";
import { logger } from "../telemetry/logger";
import { withLlmCallSpan } from "../telemetry/spans";
import { BudgetRefusedError } from "./budget-refused";
import type { ClaimedTask } from "./lifecycle";

/** An LLM task makes one call; the journal is keyed by call number so a task could make more. */
export const taskCallNumber = 1;

export interface CallAnswer {
  readonly text: string;
  /** This attempt's paid call; undefined when a stored answer was reused (nothing paid now). */
  readonly usage?: LlmCallUsage;
}

/** The same for every try of one call that may have reached the provider; a new one after a try it answered with an error. */
export function idempotencyKey(dagId: string, taskId: string, call: number, tryNumber: number): string {
  return `apex-${createHash("sha256").update(JSON.stringify([dagId, taskId, call, tryNumber])).digest("hex")}`;
}

/** The fence failed: this attempt no longer holds its task, so the call must not go out. */
export class CallNotSentError extends Error {
  override readonly name = "CallNotSentError";
}

/**
 * How long a paid answer keeps trying to reach the store while it is unavailable (a restart, a
 * failover): dropping it would pay the call again on the next attempt.
 */
export const answerWriteRetryMs = 60_000;

/**
 * Writes a paid answer: retried every 250 ms while the store is unavailable (up to
 * answerWriteRetryMs), a few times on any other error. Meanwhile the lease may be lost; the write
 * is unfenced, and the sooner it lands the likelier the next attempt finds the answer.
 */
async function writeAnswer(write: () => Promise<void>): Promise<void> {
  const giveUpAt = Date.now() + answerWriteRetryMs;
  for (let i = 1; ; i++) {
    try {
      return await write();
    } catch (err) {
      if (isDatabaseUnavailable(err) ? Date.now() >= giveUpAt : i >= 3) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * True when the request may have been processed (and paid) without an answer reaching us: a
 * timeout, an abort, a dropped connection, a body we could not read. False when the provider
 * answered with an HTTP error.
 */
function mayHaveBeenPaid(err: unknown): boolean {
  return !(err instanceof LlmError && err.options.httpStatus !== undefined && err.options.httpStatus >= 400);
}

/**
 * Makes the task's call once: reuses a stored answer, or reserves the call's worst case against
 * the DAG's budgets (`now` is the budgets' clock), sends it and records the answer with its real
 * cost. Throws BudgetRefusedError when a budget refuses the reservation (nothing is sent).
 */
export async function callOnce(
  db: Db,
  llm: LlmGateway,
  task: ClaimedTask,
  attempt: number,
  req: Omit<LlmRequest, "idempotencyKey" | "beforeSend">,
  now: () => number = Date.now,
): Promise<CallAnswer> {
  const ref: calls.CallRef = { dagId: task.dagId, taskId: task.taskId, call: taskCallNumber };
  const state = await calls.callState(db, ref, attempt);
  if (state.kind === "answered") {
    logger.info({ dag_id: task.dagId, task_id: task.taskId, attempt, worker_id: task.workerId }, "LLM call already answered and paid: reusing the stored answer");
    return { text: state.answer.text };
  }

  const key = idempotencyKey(task.dagId, task.taskId, taskCallNumber, state.try);
  let sent = false;
  let result: LlmResult;
  try {
    result = await withLlmCallSpan({ model: req.model, maxTokens: req.maxTokens, temperature: req.temperature }, () =>
      llm.complete({
        ...req,
        idempotencyKey: key,
        beforeSend: async (worstCase) => {
          const provider = req.model.split("/")[0] ?? req.model;
          const begun = await calls.beginCall(db, {
            ...ref,
            try: state.try,
            attempt,
            workerId: task.workerId,
            idempotencyKey: key,
            provider,
            model: req.model,
            worstCase,
            now: new Date(now()),
          });
          if (begun.status === "fenced") throw new CallNotSentError(`attempt ${attempt} no longer holds task ${task.taskId}; the call was not sent`);
          if (begun.status === "refused") {
            reportBudgetRefusal(begun, task, attempt);
            throw new BudgetRefusedError(begun);
          }
          sent = true;
        },
      }),
    );
  } catch (err) {
    if (sent) {
      const message = err instanceof Error ? err.message : String(err);
      await calls.recordNoAnswer(db, ref, attempt, mayHaveBeenPaid(err), message).catch(() => undefined);
    }
    throw err;
  }

  const usage: LlmCallUsage = {
    provider: result.provider,
    model: result.requestModel,
    responseModel: result.responseModel,
    inputTokens: result.usage.inputTokens,
    outputTokens: result.usage.outputTokens,
    cachedTokens: result.usage.cachedTokens,
    costUsd: result.costUsd,
    priceVersion: result.priceVersion,
    latencyMs: result.latencyMs,
  };
  const answer: calls.StoredAnswer = {
    text: result.text,
    responseModel: result.responseModel,
    finishReasons: result.finishReasons,
    ...(result.responseId !== undefined ? { responseId: result.responseId } : {}),
  };
  // If this never commits, the call stays in flight and the next attempt records it as unknown usage.
  const costMicroUsd = result.costMicroUsd ?? Math.round(result.costUsd * 1e6);
  let overrunMicroUsd = 0;
  await writeAnswer(async () => {
    overrunMicroUsd = await calls.recordAnswer(db, ref, attempt, answer, { ...usage, agentId: task.agentId, costMicroUsd });
  });
  if (overrunMicroUsd > 0) reportBudgetOverrun(overrunMicroUsd, usage, task, attempt);
  return { text: result.text, usage };
}
