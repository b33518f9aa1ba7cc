/**
 * Budgets between the service (micro-dollars, BudgetState) and the wire (USD numbers, snake_case),
 * for both transports: one budget in its period, a DAG's budgets, and a PUT body as limits.
 */
import { budgetPeriods, type BudgetState } from "../domain/budget";
import { microUsdOf } from "../service/dag-schema";
import type { DagBudgetView, OwnerLimits } from "../service/types";
import type { BudgetJson, DagBudgetJson, OwnerBudgetsBody } from "./schemas";

const usd = (microUsd: number): number => microUsd / 1e6;

export function budgetJson(b: BudgetState): BudgetJson {
  return {
    scope: b.scope,
    scope_id: b.scopeId,
    period: b.period,
    limit_usd: b.limitMicroUsd === null ? null : usd(b.limitMicroUsd),
    limit_tokens: b.limitTokens,
    spent_usd: usd(b.spentMicroUsd),
    spent_tokens: b.spentTokens,
    reserved_usd: usd(b.reservedMicroUsd),
    reserved_tokens: b.reservedTokens,
    // In micro-dollars first, so the difference has no floating-point residue.
    remaining_usd: b.limitMicroUsd === null ? null : usd(b.limitMicroUsd - b.spentMicroUsd - b.reservedMicroUsd),
    remaining_tokens: b.limitTokens === null ? null : b.limitTokens - b.spentTokens - b.reservedTokens,
    resets_at: b.resetsAt === null ? null : b.resetsAt.toISOString(),
  };
}

export function dagBudgetJson(b: DagBudgetView): DagBudgetJson {
  return { on_exhausted: b.onExhausted, budgets: b.budgets.map(budgetJson) };
}

/** A PUT body's periods as the service's limits (whole micro-dollars). */
export function ownerLimitsOf(body: OwnerBudgetsBody): OwnerLimits {
  const limits: OwnerLimits = {};
  for (const period of budgetPeriods) {
    const l = body[period];
    if (!l) continue;
    limits[period] = {
      ...(l.usd === undefined ? {} : { microUsd: microUsdOf(l.usd) }),
      ...(l.tokens === undefined ? {} : { tokens: l.tokens }),
    };
  }
  return limits;
}
