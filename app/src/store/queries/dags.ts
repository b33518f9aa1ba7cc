/**
 * The DAG's SQL: submission (one statement for the whole DAG), cancel, and approval decisions.
 * Locks follow the order of migration 0005: task rows in (dag_id, id) order, approvals, DAG rows.
 */
import type { BudgetExhaustedAction, BudgetLimit } from "../../domain/budget";
import type { Db } from "../db";
import type { ChangeRow } from "./changes";

export interface NewTaskRow {
  readonly id: string;
  readonly kind: "llm" | "tool";
  readonly spec: unknown;
  readonly depends_on: readonly string[];
  readonly max_attempts: number;
  readonly timeout_ms: number;
  readonly position: number;
  readonly trace_context: Record<string, string> | null;
}

export interface NewDagRow {
  readonly id: string;
  readonly agentId: string;
  readonly name: string;
  readonly input: unknown;
  readonly submittedBy: string;
  readonly traceContext: Record<string, string> | null;
  readonly tasks: readonly NewTaskRow[];
  /** The DAG's own budget (a `dag` scope budget, period total) and what to do when a periodic one refuses. */
  readonly budget?: { readonly limit?: BudgetLimit; readonly onExhausted: BudgetExhaustedAction };
}

/**
 * Inserts the DAG, its budget, its tasks and their edges and wakes the workers: one statement,
 * whatever the DAG's size. An unknown agent fails the agents foreign key (23503).
 */
export async function insertDag(db: Db, dag: NewDagRow): Promise<void> {
  const waiting = dag.tasks.filter((t) => t.depends_on.length > 0).length;
  await db.query(
    `WITH d AS (
       INSERT INTO dags (id, agent_id, name, input, submitted_by, trace_context, open_tasks, pending_tasks, budget_on_exhausted)
       VALUES ($1, $2, $3, $4::jsonb, $5, $6::jsonb, $7, $8, $12)
       RETURNING id
     ), b AS (
       INSERT INTO budgets (scope, scope_id, period, limit_micro_usd, limit_tokens, updated_by)
       SELECT 'dag', d.id::text, 'total', $10, $11, $5 FROM d WHERE $10::bigint IS NOT NULL OR $11::bigint IS NOT NULL
     ), new_tasks AS (
       SELECT * FROM jsonb_to_recordset($9::jsonb) AS x(id text, kind text, spec jsonb, depends_on text[], max_attempts integer,
                                                      timeout_ms integer, position integer, trace_context jsonb)
     ), t AS (
       INSERT INTO tasks (dag_id, id, kind, spec, depends_on, status, pending_deps, max_attempts, timeout_ms, position, trace_context)
       SELECT d.id, x.id, x.kind, x.spec, x.depends_on, CASE WHEN cardinality(x.depends_on) = 0 THEN 'ready' ELSE 'pending' END,
              cardinality(x.depends_on), x.max_attempts, x.timeout_ms, x.position, x.trace_context
         FROM d, new_tasks x
     ), e AS (
       INSERT INTO task_edges (dag_id, parent, child)
       SELECT d.id, p.parent, x.id FROM d, new_tasks x, unnest(x.depends_on) AS p(parent)
     )
     SELECT pg_notify('apex_tasks_ready', '') FROM d`,
    [
      dag.id,
      dag.agentId,
      dag.name,
      JSON.stringify(dag.input),
      dag.submittedBy,
      JSON.stringify(dag.traceContext),
      dag.tasks.length,
      waiting,
      JSON.stringify(dag.tasks),
      dag.budget?.limit?.microUsd ?? null,
      dag.budget?.limit?.tokens ?? null,
      dag.budget?.onExhausted ?? "fail",
    ],
  );
}

export interface DagHead {
  readonly id: string;
  readonly agent_id: string;
  readonly status: string;
}

export async function dagHead(db: Db, dagId: string): Promise<DagHead | undefined> {
  const r = await db.query<DagHead>("SELECT id, agent_id, status FROM dags WHERE id = $1", [dagId]);
  return r.rows[0];
}

/**
 * Cancels every unfinished task (running ones included: their attempts end as cancelled, their
 * LLM calls in flight unknown, and their workers are told through NOTIFY apex_dag_cancelled), rejects pending approvals and ends the DAG.
 * Runs inside `tx`; returns the changes, or undefined when the DAG had already finished.
 */
export async function cancelDag(tx: Db, dagId: string, by: string): Promise<ChangeRow[] | undefined> {
  await tx.query("SELECT 1 FROM tasks WHERE dag_id = $1 ORDER BY id FOR UPDATE", [dagId]);
  const dag = await tx.query<{ status: string }>("SELECT status FROM dags WHERE id = $1 FOR UPDATE", [dagId]);
  if (["succeeded", "failed", "cancelled"].includes(dag.rows[0]?.status ?? "")) return undefined;
  // An LLM call still out for a cancelled attempt may have been paid: it is settled as unknown now
  // (its budget reservation charged at its worst case), in case its worker never reports.
  await tx.query(
    `WITH ended AS (
       UPDATE attempts a SET status = 'failed', end_reason = 'cancelled', error = 'cancelled', finished_at = now()
         FROM tasks t
        WHERE a.dag_id = t.dag_id AND a.task_id = t.id AND t.dag_id = $1 AND t.status = 'running' AND a.status = 'running'
       RETURNING a.task_id, a.number
     )
     SELECT apex_llm_calls_unknown($1, task_id, array_agg(number)) FROM ended GROUP BY task_id`,
    [dagId],
  );
  const r = await tx.query<{ id: string }>(
    `UPDATE tasks SET status = 'cancelled', error = $2, lease_owner = NULL, lease_expires_at = NULL,
            finished_at = now(), updated_at = now()
      WHERE dag_id = $1 AND status IN ('pending', 'ready', 'running', 'awaiting_approval')
      RETURNING id`,
    [dagId, `cancelled by ${by}`],
  );
  await tx.query(
    `UPDATE approvals SET status = 'rejected', decided_by = $2, decided_at = now(), reason = 'DAG cancelled'
      WHERE dag_id = $1 AND status = 'pending'`,
    [dagId, by],
  );
  const d = await tx.query<{ agent_id: string; name: string; trace_context: unknown; created_at: Date }>(
    `UPDATE dags SET status = 'cancelled', finished_at = now(), open_tasks = 0, pending_tasks = 0, awaiting_tasks = 0
      WHERE id = $1 RETURNING agent_id, name, trace_context, created_at`,
    [dagId],
  );
  await tx.query("SELECT pg_notify('apex_dag_cancelled', $1)", [dagId]);
  const row = d.rows[0]!;
  return [
    ...r.rows.map((x): ChangeRow => ({ kind: "task", dag_id: dagId, task_id: x.id, status: "cancelled", detail: null })),
    { kind: "dag", dag_id: dagId, task_id: null, status: "cancelled", detail: { ...row } },
  ];
}

export interface ApprovalRow {
  id: string;
  dag_id: string;
  task_id: string;
  tool: string;
  args: unknown;
  status: "pending" | "approved" | "rejected" | "superseded" | "expired";
  decided_by: string | null;
  decided_at: Date | null;
  reason: string | null;
  created_at: Date;
  /** SHA-256 of the canonical JSON of `args`; null on approvals from before migration 0007. */
  args_digest: string | null;
  expires_at: Date;
  /** When it was superseded or expired. */
  ended_at: Date | null;
}

/** An approval with what an operator needs to judge it: its DAG, agent and who submitted the DAG. */
export interface ApprovalContextRow extends ApprovalRow {
  dag_name: string | null;
  agent_id: string | null;
  agent_name: string | null;
  /** dags.submitted_by: the API key id the DAG was submitted with. */
  submitted_by: string | null;
  /** That key's name; null when no key has that id (deleted, or not a key). */
  submitted_by_name: string | null;
}

/** The context columns of ApprovalContextRow, given `ap` (approvals), `d` (dags), `ag` (agents), `k` (api_keys). */
const approvalContextColumns = "d.name AS dag_name, d.agent_id, ag.name AS agent_name, d.submitted_by, k.name AS submitted_by_name";
/** dags.submitted_by is text (an API key id as given); compared as text so a non-uuid value joins nothing instead of failing. */
const approvalContextJoins = "JOIN dags d ON d.id = ap.dag_id JOIN agents ag ON ag.id = d.agent_id LEFT JOIN api_keys k ON k.id::text = d.submitted_by";

/** Approvals with their context, oldest first, optionally of one status: one query. */
export async function listApprovals(db: Db, status?: ApprovalRow["status"]): Promise<ApprovalContextRow[]> {
  const { rows } = await db.query<ApprovalContextRow>(
    `SELECT ap.*, ${approvalContextColumns}
       FROM approvals ap ${approvalContextJoins}
      WHERE $1::text IS NULL OR ap.status = $1
      ORDER BY ap.created_at, ap.id`,
    [status ?? null],
  );
  return rows;
}

export type DecideResult =
  | { readonly kind: "not_found" }
  | { readonly kind: "self_approval"; readonly dagId: string }
  | { readonly kind: "already"; readonly status: ApprovalRow["status"] }
  | { readonly kind: "expired"; readonly expiredAt: Date; readonly changes: ChangeRow[] }
  | { readonly kind: "decided"; readonly approval: ApprovalContextRow; readonly changes: ChangeRow[] };

/**
 * Records an operator's decision on a pending approval. Approved: the task is ready now. Rejected:
 * the task fails for good (its dependents are skipped). One transaction.
 * Refused: approving with the key that submitted the DAG (unless `allowSelfApproval`), and any
 * decision on an approval past its expiry: that one is closed as expired and its task made ready,
 * so a worker renders the call again and asks for a new approval (committed, then reported).
 */
export async function decideApproval(
  db: Db,
  p: { id: string; approve: boolean; decidedBy: string; allowSelfApproval: boolean; reason: string | null; rejectionError: string },
): Promise<DecideResult> {
  const head = await db.query<{ dag_id: string; task_id: string; submitted_by: string | null }>(
    "SELECT ap.dag_id, ap.task_id, d.submitted_by FROM approvals ap JOIN dags d ON d.id = ap.dag_id WHERE ap.id = $1",
    [p.id],
  );
  const target = head.rows[0];
  if (!target) return { kind: "not_found" };
  // submitted_by and decided_by are both API key ids.
  if (p.approve && !p.allowSelfApproval && target.submitted_by !== null && target.submitted_by === p.decidedBy) {
    return { kind: "self_approval", dagId: target.dag_id };
  }
  return db.transaction(async (tx): Promise<DecideResult> => {
    const task = await tx.query<{ status: string }>("SELECT status FROM tasks WHERE dag_id = $1 AND id = $2 FOR UPDATE", [target.dag_id, target.task_id]);
    const a = (await tx.query<ApprovalRow & { expired: boolean }>("SELECT *, expires_at <= now() AS expired FROM approvals WHERE id = $1 FOR UPDATE", [p.id])).rows[0];
    if (!a) return { kind: "not_found" };
    if (a.status !== "pending") return { kind: "already", status: a.status };
    if (a.expired) {
      await tx.query("UPDATE approvals SET status = 'expired', ended_at = now() WHERE id = $1", [p.id]);
      const changes: ChangeRow[] = [];
      if (task.rows[0]?.status === "awaiting_approval") changes.push(...(await makeReady(tx, a.dag_id, a.task_id)));
      return { kind: "expired", expiredAt: a.expires_at, changes };
    }
    // The decided row comes back with its context (as GET /v1/approvals shows it), in this statement.
    const updated = await tx.query<ApprovalContextRow>(
      `UPDATE approvals ap SET status = $2, decided_by = $3, decided_at = now(), reason = $4
         FROM dags d JOIN agents ag ON ag.id = d.agent_id LEFT JOIN api_keys k ON k.id::text = d.submitted_by
        WHERE ap.id = $1 AND d.id = ap.dag_id
        RETURNING ap.*, ${approvalContextColumns}`,
      [p.id, p.approve ? "approved" : "rejected", p.decidedBy, p.reason],
    );
    const changes: ChangeRow[] = [];
    if (task.rows[0]?.status === "awaiting_approval") {
      if (p.approve) {
        changes.push(...(await makeReady(tx, a.dag_id, a.task_id)));
      } else {
        changes.push(...(await tx.query<ChangeRow>("SELECT * FROM apex_fail_task($1, $2, $3)", [a.dag_id, a.task_id, p.rejectionError])).rows);
      }
    }
    return { kind: "decided", approval: updated.rows[0]!, changes };
  });
}

/** An awaiting_approval task made ready for the workers (inside the caller's transaction). */
async function makeReady(tx: Db, dagId: string, taskId: string): Promise<ChangeRow[]> {
  await tx.query(`UPDATE tasks SET status = 'ready', next_run_at = now(), updated_at = now() WHERE dag_id = $1 AND id = $2`, [dagId, taskId]);
  await tx.query("SELECT pg_notify('apex_tasks_ready', '')");
  const dag = await tx.query<ChangeRow>("SELECT * FROM apex_adjust_dag($1, 0, 0, -1, 0)", [dagId]);
  return [{ kind: "task", dag_id: dagId, task_id: taskId, status: "ready", detail: null }, ...dag.rows];
}
