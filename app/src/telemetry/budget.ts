/**
 * Budget events as telemetry sees them: a rejected reservation (apex_budget_rejections_total{scope}
 * and a log line with the seed's fields, trace and span from the active llm_call span) and an
 * answer that cost more than its reservation (a warning: the provider went past a bound).
 */
import type { LlmCallUsage } from "../domain/attempt";
import type { BudgetRefusal } from "../domain/budget";
import { formatBudgetRefusal } from "../domain/budget-message";
import { logger } from "./logger";
import { apexMetrics } from "./metrics";

interface CallOwner {
  readonly dagId: string;
  readonly taskId: string;
  readonly agentId: string;
}

/**
 * A refusal that fails the task or parks it until a reset is a rejection: counted and logged as a
 * warning. One that only waits for calls in flight to settle repeats until they do, and is logged
 * at debug only.
 */
export function reportBudgetRefusal(refusal: BudgetRefusal, task: CallOwner, attempt: number): void {
  const b = refusal.budget;
  const fields = {
    dag_id: task.dagId,
    task_id: task.taskId,
    agent_id: task.agentId,
    attempt,
    budget_scope: b.scope,
    budget_scope_id: b.scopeId,
    budget_period: b.period,
    decision: refusal.decision,
    worst_case_usd: refusal.worstCase.microUsd / 1e6,
    worst_case_tokens: refusal.worstCase.tokens,
  };
  const message = `LLM call refused by budget: ${formatBudgetRefusal(refusal)}`;
  if (refusal.decision === "wait_settle") {
    logger.debug(fields, message);
    return;
  }
  apexMetrics.budgetRejectionsTotal.inc({ scope: b.scope });
  logger.warn(fields, message);
}

export function reportBudgetOverrun(overrunMicroUsd: number, usage: LlmCallUsage, task: CallOwner, attempt: number): void {
  logger.warn(
    {
      dag_id: task.dagId,
      task_id: task.taskId,
      agent_id: task.agentId,
      attempt,
      model: usage.model,
      tokens_used: usage.inputTokens + usage.outputTokens,
      cost: usage.costUsd,
      overrun_usd: overrunMicroUsd / 1e6,
    },
    "LLM call cost more than its budget reservation (the provider went past the prompt or output bound); the real cost was charged",
  );
}
