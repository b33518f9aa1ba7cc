/**
 * Budgets in their current period as a table with the exact numbers: limit, spent, reserved by
 * LLM calls in flight, what remains, and when the period resets. With `ownerOf`, a first column
 * says whose budget each row is (a DAG's page lists its own, its agent's and its key's).
 */
import type { Budget } from "../../api/types";
import { formatDateTime } from "../format";
import { budgetAmount, periodText } from "./format";

export function BudgetTable({ caption, budgets, ownerOf }: { caption: string; budgets: readonly Budget[]; ownerOf?: (budget: Budget) => string }) {
  return (
    <div className="table-scroll">
      <table className="budget-table">
        <caption>{caption}</caption>
        <thead>
          <tr>
            {ownerOf ? <th scope="col">Budget of</th> : null}
            <th scope="col">Period</th>
            <th scope="col">Limit</th>
            <th scope="col">Spent</th>
            <th scope="col">Reserved</th>
            <th scope="col">Remaining</th>
            <th scope="col">Resets</th>
          </tr>
        </thead>
        <tbody>
          {budgets.map((b) => (
            <tr key={`${b.scope}:${b.scope_id}:${b.period}`} className={exhausted(b) ? "exhausted" : undefined}>
              {ownerOf ? <th scope="row">{ownerOf(b)}</th> : null}
              {ownerOf ? <td>{periodText(b.period)}</td> : <th scope="row">{periodText(b.period)}</th>}
              <td className="num">{budgetAmount(b, b.limit_usd, b.limit_tokens)}</td>
              <td className="num">{budgetAmount(b, b.spent_usd, b.spent_tokens)}</td>
              <td className="num">{budgetAmount(b, b.reserved_usd, b.reserved_tokens)}</td>
              <td className="num">
                {budgetAmount(b, b.remaining_usd, b.remaining_tokens)}
                {exhausted(b) ? <span className="exhausted-note"> (used up)</span> : null}
              </td>
              <td>{b.resets_at ? formatDateTime(b.resets_at) : "never"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Nothing left in a limited unit: no LLM call fits until the period resets (or the limit is raised). */
function exhausted(b: Budget): boolean {
  return (b.remaining_usd !== null && b.remaining_usd <= 0) || (b.remaining_tokens !== null && b.remaining_tokens <= 0);
}
