/**
 * The budgets that apply to a DAG's LLM calls (its own, set at submission; its agent's; its
 * submitting key's) and what the DAG does when a periodic one runs out. Every call reserves its
 * worst case against all of them before it goes out.
 */
import type { Budget, DagBudget } from "../../api/types";
import { BudgetTable } from "../budgets/BudgetTable";

const onExhaustedText: Record<DagBudget["on_exhausted"], string> = {
  fail: "A call that does not fit fails its task with budget_exceeded (no retry).",
  wait_for_reset:
    "A call that does not fit an hourly, daily or monthly budget waits for the period's reset; one that does not fit a total budget fails its task with budget_exceeded.",
};

export function DagBudgetSection({ budget, agentName }: { budget: DagBudget; agentName?: string }) {
  const ownerOf = (b: Budget) =>
    b.scope === "dag" ? "This DAG" : b.scope === "agent" ? `Agent ${agentName ?? b.scope_id}` : `API key ${b.scope_id} (submitted it)`;
  return (
    <section aria-labelledby="budget-heading">
      <h2 id="budget-heading">Budget</h2>
      {budget.budgets.length === 0 ? (
        <p className="hint">No budget applies to this DAG: neither it, its agent nor the key that submitted it has one.</p>
      ) : (
        <>
          <p className="hint">
            Each LLM call reserves its worst case (prompt plus max_tokens, at the model's prices) against every budget below before it is sent.{" "}
            {onExhaustedText[budget.on_exhausted]}
          </p>
          <BudgetTable caption="Budgets that apply to this DAG" budgets={budget.budgets} ownerOf={ownerOf} />
        </>
      )}
    </section>
  );
}
