/**
 * What the engine's SQL functions return (type apex_change, migration 0005): a task's or a DAG's
 * status change, or the result of one finished attempt.
 */
export interface ChangeRow {
  kind: "task" | "dag" | "result";
  dag_id: string;
  task_id: string | null;
  status: string;
  /** dag (terminal): agent_id, name, trace_context, created_at; result: attempt. */
  detail: Record<string, unknown> | null;
}
