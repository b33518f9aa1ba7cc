/** How the budget screens say a period, and an amount a budget counts in dollars, tokens or both. */
import type { Budget, BudgetPeriod } from "../../api/types";
import { formatCount, formatUsdExact } from "../format";

export const budgetPeriods: readonly BudgetPeriod[] = ["total", "hour", "day", "month"];

/** For a form's labels: "Total", "Per hour", ... */
export const periodLabels: Readonly<Record<BudgetPeriod, string>> = {
  total: "Total",
  hour: "Per hour",
  day: "Per day",
  month: "Per month",
};

/** For a budget in its current period: calendar periods in UTC, as the API counts them. */
const currentPeriodText: Readonly<Record<BudgetPeriod, string>> = {
  total: "Total (never resets)",
  hour: "This hour (UTC)",
  day: "Today (UTC)",
  month: "This month (UTC)",
};

export function periodText(period: BudgetPeriod): string {
  return currentPeriodText[period];
}

/**
 * An amount in the units the budget limits: "$0.0010", "1,200 tokens", or both. Budgets are kept
 * in whole micro-dollars, so dollars are exact (formatUsdExact) rather than rounded.
 */
export function budgetAmount(budget: Budget, usd: number | null, tokens: number | null): string {
  const parts: string[] = [];
  if (budget.limit_usd !== null && usd !== null) parts.push(formatUsdExact(usd));
  if (budget.limit_tokens !== null && tokens !== null) parts.push(`${formatCount(tokens)} tokens`);
  return parts.join(" and ") || "—";
}
