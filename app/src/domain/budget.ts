/**
 * Spend budgets (migration 0010): a limit in micro-dollars and/or tokens on a DAG, an agent or an
 * API key, per period. Every LLM call reserves its worst case against all budgets that apply
 * before it goes out; see docs/budgets.md.
 */
export const budgetScopes = ["dag", "agent", "api_key"] as const;
export type BudgetScope = (typeof budgetScopes)[number];

/** `total` never resets; the others are calendar periods in UTC. DAG budgets are `total` only. */
export const budgetPeriods = ["total", "hour", "day", "month"] as const;
export type BudgetPeriod = (typeof budgetPeriods)[number];

/** How a period reads in messages: "the agent's daily budget". */
export const budgetPeriodWords: Readonly<Record<BudgetPeriod, string>> = { total: "total", hour: "hourly", day: "daily", month: "monthly" };

/** At least one of the two is set. */
export interface BudgetLimit {
  readonly microUsd?: number;
  readonly tokens?: number;
}

/** What a DAG does when a periodic agent or key budget refuses a call. */
export const budgetExhaustedActions = ["fail", "wait_for_reset"] as const;
export type BudgetExhaustedAction = (typeof budgetExhaustedActions)[number];

/** An LLM call's most it can cost: prompt tokens (bound) plus its output limit, at the model's prices. */
export interface CallWorstCase {
  readonly microUsd: number;
  readonly tokens: number;
}

/** One budget in its current window. */
export interface BudgetState {
  readonly scope: BudgetScope;
  readonly scopeId: string;
  readonly period: BudgetPeriod;
  readonly limitMicroUsd: number | null;
  readonly limitTokens: number | null;
  /** Settled spend in the window, unknown calls at their worst case. */
  readonly spentMicroUsd: number;
  readonly spentTokens: number;
  /** Held by calls in flight. */
  readonly reservedMicroUsd: number;
  readonly reservedTokens: number;
  /** Null for `total`. */
  readonly resetsAt: Date | null;
}

/** Why a reservation did not fit, and what the task does about it. */
export interface BudgetRefusal {
  /**
   * fail: it cannot fit (spent + worst case over the limit, or over it alone).
   * wait_reset: the DAG asked to wait, and every refusing budget resets at `waitUntil`.
   * wait_settle: it fits once the calls in flight settle: try again soon.
   */
  readonly decision: "fail" | "wait_reset" | "wait_settle";
  /** The refusing budget (the one furthest from fitting when several refuse). */
  readonly budget: Omit<BudgetState, "resetsAt"> & { readonly resetsAt: Date | null };
  readonly worstCase: CallWorstCase;
  readonly waitUntil: Date | null;
}
