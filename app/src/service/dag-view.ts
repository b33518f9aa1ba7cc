/**
 * Reads one DAG with its tasks, attempts, LLM usage and budgets into the DagView the API returns. Outputs
 * and error text are stored escaped by the engine and decoded here; the input (validated at
 * submission) is stored as sent. See store/storable-text.ts.
 */
import type { BudgetExhaustedAction } from "../domain/budget";
import type { Db } from "../store/db";
import { dagBudgetStates } from "../store/queries/budgets";
import { decodeJson, decodeText } from "../store/storable-text";
import type { AttemptView, DagStatus, DagView, TaskStatus, TaskUsage, TaskView } from "./types";

interface DagRowFull {
  id: string;
  agent_id: string;
  name: string;
  status: DagStatus;
  input: unknown;
  trace_context: Record<string, string> | null;
  created_at: Date;
  finished_at: Date | null;
  budget_on_exhausted: BudgetExhaustedAction;
}

interface TaskRow {
  id: string;
  kind: "llm" | "tool";
  status: TaskStatus;
  depends_on: string[];
  output: unknown;
  error: string | null;
  /** Only while ready (migration 0006). */
  waiting_for: "provider" | "budget" | null;
}

interface AttemptRow {
  task_id: string;
  number: number;
  status: AttemptView["status"];
  worker_id: string;
  spent: boolean;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
}

/** The columns `usageSums` selects. */
export interface UsageSumsRow {
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  cost_usd: number;
}

interface UsageRow extends UsageSumsRow {
  task_id: string | null;
}

export const zeroUsage: TaskUsage = { inputTokens: 0, outputTokens: 0, cachedTokens: 0, costUsd: 0 };

export const usageSums = `coalesce(sum(input_tokens), 0)::int AS input_tokens, coalesce(sum(output_tokens), 0)::int AS output_tokens,
  coalesce(sum(cached_tokens), 0)::int AS cached_tokens, coalesce(sum(cost_usd), 0)::float8 AS cost_usd`;

export const toUsage = (u: UsageSumsRow | undefined): TaskUsage =>
  u ? { inputTokens: u.input_tokens, outputTokens: u.output_tokens, cachedTokens: u.cached_tokens, costUsd: u.cost_usd } : zeroUsage;

/** traceparent = version-traceid-spanid-flags. */
export function traceIdOf(carrier: Record<string, string> | null): string | undefined {
  return carrier?.traceparent?.split("-")[1];
}

export async function readDagView(db: Db, id: string): Promise<DagView | undefined> {
  const dag = (
    await db.query<DagRowFull>(
      "SELECT id, agent_id, name, status, input, trace_context, created_at, finished_at, budget_on_exhausted FROM dags WHERE id = $1",
      [id],
    )
  ).rows[0];
  if (!dag) return undefined;
  const [tasks, attempts, usage, agentUsage, budgets] = await Promise.all([
    db.query<TaskRow>(
      "SELECT id, kind, status, depends_on, output, error, CASE WHEN status = 'ready' THEN waiting_for END AS waiting_for FROM tasks WHERE dag_id = $1 ORDER BY position, id",
      [id],
    ),
    db.query<AttemptRow>(
      "SELECT task_id, number, status, worker_id, spent, error, started_at, finished_at FROM attempts WHERE dag_id = $1 ORDER BY task_id, number",
      [id],
    ),
    db.query<UsageRow>(`SELECT task_id, ${usageSums} FROM usage WHERE dag_id = $1 GROUP BY ROLLUP (task_id)`, [id]),
    db.query<UsageRow>(`SELECT NULL AS task_id, ${usageSums} FROM usage WHERE agent_id = $1`, [dag.agent_id]),
    dagBudgetStates(db, id, new Date()),
  ]);
  const attemptsByTask = new Map<string, AttemptView[]>();
  for (const a of attempts.rows) {
    const list = attemptsByTask.get(a.task_id) ?? [];
    list.push({
      number: a.number,
      status: a.status,
      workerId: a.worker_id,
      spent: a.spent,
      startedAt: new Date(a.started_at).toISOString(),
      finishedAt: a.finished_at ? new Date(a.finished_at).toISOString() : undefined,
      error: a.error === null ? undefined : decodeText(a.error),
    });
    attemptsByTask.set(a.task_id, list);
  }
  const usageByTask = new Map(usage.rows.filter((u) => u.task_id !== null).map((u) => [u.task_id!, u]));
  const total = usage.rows.find((u) => u.task_id === null);
  const taskViews: TaskView[] = tasks.rows.map((t) => ({
    id: t.id,
    kind: t.kind,
    status: t.status,
    dependsOn: t.depends_on,
    output: t.output === null ? undefined : decodeJson(t.output),
    error: t.error === null ? undefined : decodeText(t.error),
    ...(t.waiting_for ? { waitingFor: t.waiting_for } : {}),
    attempts: attemptsByTask.get(t.id) ?? [],
    usage: toUsage(usageByTask.get(t.id)),
  }));
  return {
    id: dag.id,
    agentId: dag.agent_id,
    name: dag.name,
    status: dag.status,
    input: dag.input,
    tasks: taskViews,
    totals: toUsage(total),
    agentTotals: toUsage(agentUsage.rows[0]),
    traceId: traceIdOf(dag.trace_context),
    createdAt: new Date(dag.created_at).toISOString(),
    finishedAt: dag.finished_at ? new Date(dag.finished_at).toISOString() : undefined,
    budget: { onExhausted: dag.budget_on_exhausted, budgets },
  };
}
