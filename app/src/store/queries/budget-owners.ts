/**
 * What the API needs of budget owners beyond budgets.ts: whether an agent or API key exists (the
 * budgets table does not reference them), and an owner's limits alone, without the period's spend.
 */
import type { BudgetPeriod } from "../../domain/budget";
import type { Db } from "../db";

/** An agent or API key (revoked keys included) with this id; `id` must be a UUID. */
export async function budgetOwnerExists(db: Db, scope: "agent" | "api_key", id: string): Promise<boolean> {
  const table = scope === "agent" ? "agents" : "api_keys";
  const r = await db.query(`SELECT 1 FROM ${table} WHERE id = $1`, [id]);
  return r.rowCount > 0;
}

export interface OwnerBudgetLimit {
  readonly period: BudgetPeriod;
  readonly limitMicroUsd: number | null;
  readonly limitTokens: number | null;
}

/** An owner's limits by period: one indexed lookup, where budgetStates would also sum the period's usage. */
export async function ownerBudgetLimits(db: Db, scope: "agent" | "api_key", id: string): Promise<OwnerBudgetLimit[]> {
  const r = await db.query<{ period: BudgetPeriod; limit_micro_usd: string | null; limit_tokens: string | null }>(
    "SELECT period, limit_micro_usd::text, limit_tokens::text FROM budgets WHERE scope = $1 AND scope_id = $2",
    [scope, id],
  );
  return r.rows.map((row) => ({
    period: row.period,
    limitMicroUsd: row.limit_micro_usd === null ? null : Number(row.limit_micro_usd),
    limitTokens: row.limit_tokens === null ? null : Number(row.limit_tokens),
  }));
}
