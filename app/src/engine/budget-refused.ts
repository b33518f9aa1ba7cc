/**
 * A budget refused an LLM call's reservation: nothing was sent. The executor turns it into the
 * task's outcome (fail with budget_exceeded, or wait for a reset or for calls in flight to settle).
 */
import type { BudgetRefusal } from "../domain/budget";
import { formatBudgetRefusal } from "../domain/budget-message";

export class BudgetRefusedError extends Error {
  override readonly name = "BudgetRefusedError";
  /** What the llm_call span records as error.type. */
  readonly errorType = "budget_exceeded";
  constructor(readonly refusal: BudgetRefusal) {
    super(formatBudgetRefusal(refusal));
  }
}
