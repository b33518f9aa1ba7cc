/**
 * Set or remove an agent's budgets: a USD and a token limit for each period (total, per hour, day,
 * month). Saving sends the whole set (PUT replaces it), so a period left empty has no budget
 * afterwards. Mistakes are named by the API's field (`day.usd`) before anything is sent, and a
 * refusal from the API marks and focuses the field it names.
 */
import { useState, type FormEvent } from "react";
import type { Budget, BudgetPeriod, OwnerBudgets } from "../../api/types";
import { ApiRequestError } from "../../api/client";
import { useSession } from "../../session";
import { describeError } from "../states";
import { budgetPeriods, periodLabels } from "./format";

type Unit = "usd" | "tokens";
type Values = Record<BudgetPeriod, Record<Unit, string>>;
interface Problem {
  /** The API's name for it, e.g. "day.usd"; undefined when the refusal names no field. */
  readonly field?: string;
  readonly message: string;
}

const inputId = (period: BudgetPeriod, unit: Unit) => `budget-${period}-${unit}`;

/** The two limits of a period, in the order the form shows them. */
const limitInputs: readonly { unit: Unit; label: string; inputMode: "decimal" | "numeric" }[] = [
  { unit: "usd", label: "USD limit", inputMode: "decimal" },
  { unit: "tokens", label: "Token limit", inputMode: "numeric" },
];
const fieldName = (period: BudgetPeriod, unit: Unit) => `${period}.${unit}`;

function initialValues(budgets: readonly Budget[]): Values {
  const values = Object.fromEntries(budgetPeriods.map((p) => [p, { usd: "", tokens: "" }])) as Values;
  for (const b of budgets) {
    values[b.period] = { usd: b.limit_usd === null ? "" : String(b.limit_usd), tokens: b.limit_tokens === null ? "" : String(b.limit_tokens) };
  }
  return values;
}

/** The PUT body, or the first field that is not a limit. */
function toBody(values: Values): { body: OwnerBudgets } | { problem: Problem } {
  const body: Partial<Record<BudgetPeriod, { usd?: number; tokens?: number }>> = {};
  for (const period of budgetPeriods) {
    const usd = values[period].usd.trim();
    const tokens = values[period].tokens.trim();
    if (usd !== "" && !/^\d+(\.\d{1,6})?$/.test(usd)) {
      return { problem: { field: fieldName(period, "usd"), message: `${fieldName(period, "usd")}: enter dollars as a number such as 5 or 0.25, with at most 6 decimals` } };
    }
    if (tokens !== "" && !/^\d+$/.test(tokens)) {
      return { problem: { field: fieldName(period, "tokens"), message: `${fieldName(period, "tokens")}: enter a whole number of tokens` } };
    }
    if (usd !== "" || tokens !== "") body[period] = { ...(usd !== "" ? { usd: Number(usd) } : {}), ...(tokens !== "" ? { tokens: Number(tokens) } : {}) };
  }
  return { body };
}

export function BudgetForm({
  agentId,
  agentName,
  budgets,
  onSaved,
}: {
  agentId: string;
  agentName: string;
  budgets: readonly Budget[];
  onSaved(saved: readonly Budget[]): void;
}) {
  const { client } = useSession();
  const [values, setValues] = useState<Values>(() => initialValues(budgets));
  const [problem, setProblem] = useState<Problem>();
  const [busy, setBusy] = useState(false);

  const focusField = (field: string | undefined) => {
    const [period, unit] = (field ?? "").split(".") as [BudgetPeriod, Unit];
    document.getElementById(inputId(period, unit))?.focus();
  };

  async function submit(event: FormEvent) {
    event.preventDefault();
    const result = toBody(values);
    if ("problem" in result) {
      setProblem(result.problem);
      focusField(result.problem.field);
      return;
    }
    setProblem(undefined);
    setBusy(true);
    try {
      const saved = await client.setAgentBudgets(agentId, result.body);
      onSaved(saved.budgets);
    } catch (error) {
      const field = error instanceof ApiRequestError ? error.field : undefined;
      setProblem({ field, message: `Could not save the budgets: ${describeError(error)}` });
      focusField(field);
    } finally {
      setBusy(false);
    }
  }

  const set = (period: BudgetPeriod, unit: Unit, value: string) => setValues((prev) => ({ ...prev, [period]: { ...prev[period], [unit]: value } }));
  const invalidProps = (period: BudgetPeriod, unit: Unit) =>
    problem?.field === fieldName(period, unit) ? { "aria-invalid": true as const, "aria-describedby": "budget-form-error" } : {};
  return (
    <form className="budget-form" onSubmit={submit} noValidate aria-labelledby="budget-form-heading">
      <h2 id="budget-form-heading">Set the budgets of {agentName}</h2>
      <p className="hint">
        Limits in US dollars (whole micro-dollars: at most 6 decimals), tokens (input plus output), or both. Hours, days and months are calendar
        periods in UTC. Leave both fields of a period empty to remove its budget.
      </p>
      {budgetPeriods.map((period) => (
        <fieldset key={period}>
          <legend>{periodLabels[period]}</legend>
          {limitInputs.map(({ unit, label, inputMode }) => (
            <div key={unit}>
              <label htmlFor={inputId(period, unit)}>{label}</label>
              <input
                id={inputId(period, unit)}
                inputMode={inputMode}
                autoComplete="off"
                value={values[period][unit]}
                onChange={(e) => set(period, unit, e.target.value)}
                {...invalidProps(period, unit)}
              />
            </div>
          ))}
        </fieldset>
      ))}
      {problem ? (
        <p id="budget-form-error" className="field-error" role="alert">
          {problem.message}
        </p>
      ) : null}
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Saving…" : "Save budgets"}
        </button>
        <button type="button" onClick={() => setValues(initialValues([]))}>
          Clear all fields
        </button>
      </div>
    </form>
  );
}
