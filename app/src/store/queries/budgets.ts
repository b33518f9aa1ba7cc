/**
 * Budgets as the API and the gauges see them (migration 0010): setting an agent's or a key's
 * limits, and reading each budget in its current window (spent, reserved, when it resets). The
 * reservation and settlement themselves are in llm-calls.ts (apex_begin_llm_call and friends).
 */
import type { BudgetExhaustedAction, BudgetLimit, BudgetPeriod, BudgetScope, BudgetState } from "../../domain/budget";
import type { Db } from "../db";

/**
 * Replaces the budgets of an agent or an API key: the periods in `limits` are set (their spend so
 * far is kept), the others removed. One statement. A new total budget gets its window at once,
 * from the spend recorded so far, so reads never have to add up its whole history.
 */
export async function replaceBudgets(
  db: Db,
  scope: Exclude<BudgetScope, "dag">,
  scopeId: string,
  limits: Partial<Record<BudgetPeriod, BudgetLimit>>,
  updatedBy: string,
): Promise<void> {
  const rows = Object.entries(limits).map(([period, l]) => ({ period, micro: l.microUsd ?? null, tokens: l.tokens ?? null }));
  await db.query(
    `WITH wanted AS (
       SELECT * FROM jsonb_to_recordset($3::jsonb) AS x(period text, micro bigint, tokens bigint)
     ), removed AS (
       DELETE FROM budgets WHERE scope = $1 AND scope_id = $2 AND period NOT IN (SELECT period FROM wanted)
     ), upserted AS (
       INSERT INTO budgets (scope, scope_id, period, limit_micro_usd, limit_tokens, updated_by)
       SELECT $1, $2, period, micro, tokens, $4 FROM wanted
       ON CONFLICT (scope, scope_id, period) DO UPDATE
          SET limit_micro_usd = EXCLUDED.limit_micro_usd, limit_tokens = EXCLUDED.limit_tokens,
              updated_by = EXCLUDED.updated_by, updated_at = now()
       RETURNING *
     )
     INSERT INTO budget_windows (budget_id, starts_at, spent_micro_usd, spent_tokens)
     SELECT b.id, '-infinity', r.micro_usd, r.tokens
       FROM upserted b CROSS JOIN LATERAL apex_budget_recorded_spend(b.scope, b.scope_id, '-infinity', NULL) r
      WHERE b.period = 'total'
     ON CONFLICT (budget_id, starts_at) DO NOTHING`,
    [scope, scopeId, JSON.stringify(rows), updatedBy],
  );
}

interface StateRow {
  scope: BudgetScope;
  scope_id: string;
  period: BudgetPeriod;
  limit_micro_usd: string | null;
  limit_tokens: string | null;
  spent_micro_usd: string;
  spent_tokens: string;
  reserved_micro_usd: string;
  reserved_tokens: string;
  resets_at: Date | null;
}

/**
 * Each budget in its window at `now`: the window's counters when a call already used it, else what
 * the window will start from (apex_budget_window_seed: usage rows are summed only for a period the
 * budget was created in).
 */
const stateSelect = `
  SELECT b.scope, b.scope_id, b.period, b.limit_micro_usd::text, b.limit_tokens::text,
         coalesce(w.spent_micro_usd, r.micro_usd)::text AS spent_micro_usd,
         coalesce(w.spent_tokens, r.tokens)::text AS spent_tokens,
         coalesce(w.reserved_micro_usd, 0)::text AS reserved_micro_usd,
         coalesce(w.reserved_tokens, 0)::text AS reserved_tokens,
         apex_budget_window_end(b.period, s.starts_at) AS resets_at
    FROM budgets b
   CROSS JOIN LATERAL (SELECT apex_budget_window_start(b.period, $1::timestamptz) AS starts_at) s
    LEFT JOIN budget_windows w ON w.budget_id = b.id AND w.starts_at = s.starts_at
    LEFT JOIN LATERAL (SELECT * FROM apex_budget_window_seed(b, s.starts_at) WHERE w.id IS NULL) r ON true`;

const periodOrder = "array_position(ARRAY['total','month','day','hour'], b.period)";

function toState(r: StateRow): BudgetState {
  return {
    scope: r.scope,
    scopeId: r.scope_id,
    period: r.period,
    limitMicroUsd: r.limit_micro_usd === null ? null : Number(r.limit_micro_usd),
    limitTokens: r.limit_tokens === null ? null : Number(r.limit_tokens),
    spentMicroUsd: Number(r.spent_micro_usd),
    spentTokens: Number(r.spent_tokens),
    reservedMicroUsd: Number(r.reserved_micro_usd),
    reservedTokens: Number(r.reserved_tokens),
    resetsAt: r.resets_at,
  };
}

/** The budgets of one agent or key, in period order (total, month, day, hour). */
export async function budgetStates(db: Db, scope: BudgetScope, scopeId: string, now: Date): Promise<BudgetState[]> {
  const r = await db.query<StateRow>(`${stateSelect} WHERE b.scope = $2 AND b.scope_id = $3 ORDER BY ${periodOrder}`, [now, scope, scopeId]);
  return r.rows.map(toState);
}

/** Every budget that applies to a DAG's calls (its own, its agent's, its key's): dag first, then agent, then key. */
export async function dagBudgetStates(db: Db, dagId: string, now: Date): Promise<BudgetState[]> {
  const r = await db.query<StateRow>(
    `${stateSelect}
      WHERE b.id IN (SELECT id FROM apex_dag_budgets($2))
      ORDER BY array_position(ARRAY['dag','agent','api_key'], b.scope), ${periodOrder}`,
    [now, dagId],
  );
  return r.rows.map(toState);
}

/** Every agent and API key budget (for the cluster gauges). */
export async function allOwnerBudgetStates(db: Db, now: Date): Promise<BudgetState[]> {
  const r = await db.query<StateRow>(`${stateSelect} WHERE b.scope <> 'dag' ORDER BY b.scope, b.scope_id, ${periodOrder}`, [now]);
  return r.rows.map(toState);
}

/** What a DAG does when a periodic budget refuses a call. */
export async function dagBudgetAction(db: Db, dagId: string): Promise<BudgetExhaustedAction | undefined> {
  const r = await db.query<{ budget_on_exhausted: BudgetExhaustedAction }>("SELECT budget_on_exhausted FROM dags WHERE id = $1", [dagId]);
  return r.rows[0]?.budget_on_exhausted;
}
