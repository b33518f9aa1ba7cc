/** How a budget refusal reads in a task's error, the log and the API. */
import { budgetPeriodWords, type BudgetRefusal } from "./budget";

const usd = (micro: number) => `$${(micro / 1e6).toFixed(6)}`;

export function formatBudgetRefusal(r: BudgetRefusal): string {
  const b = r.budget;
  const owner = b.scope === "api_key" ? `API key ${b.scopeId}` : `${b.scope} ${b.scopeId}`;
  const name = b.period === "total" ? `${owner} budget` : `${owner} ${budgetPeriodWords[b.period]} budget`;
  const parts: string[] = [];
  if (b.limitMicroUsd !== null && b.spentMicroUsd + b.reservedMicroUsd + r.worstCase.microUsd > b.limitMicroUsd) {
    parts.push(
      `worst case ${usd(r.worstCase.microUsd)} does not fit: ${usd(b.spentMicroUsd)} spent + ${usd(b.reservedMicroUsd)} reserved of ${usd(b.limitMicroUsd)}`,
    );
  }
  if (b.limitTokens !== null && b.spentTokens + b.reservedTokens + r.worstCase.tokens > b.limitTokens) {
    parts.push(`worst case ${r.worstCase.tokens} tokens does not fit: ${b.spentTokens} spent + ${b.reservedTokens} reserved of ${b.limitTokens}`);
  }
  const then =
    r.decision === "wait_settle"
      ? "waiting for calls in flight to settle"
      : r.decision === "wait_reset"
        ? `waiting for the reset at ${r.waitUntil?.toISOString()}`
        : b.resetsAt
          ? `resets at ${b.resetsAt.toISOString()}`
          : "lower max_tokens or raise the budget";
  return `${name}: ${parts.join("; ")} (${then})`;
}
