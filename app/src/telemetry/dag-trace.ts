/**
 * Ends a DAG's root span from the store: called by the engine when a DAG reaches a terminal status
 * (from the transaction that moved it there, which exactly one process runs; the span ends once it commits), with the carrier
 * and creation time the submission stored on the row. See spans.ts for the approach.
 */
import { onCommit, type Db } from "../store/db";
import { logger } from "./logger";
import { endDagTrace, withStoredContext, type TraceCarrier } from "./spans";

const terminal = new Set(["succeeded", "failed", "cancelled"]);

interface DagTraceRow {
  agent_id: string;
  name: string;
  trace_context: TraceCarrier | null;
  created_at: Date | string;
}

export async function finishDagTrace(tx: Db, dagId: string, status: string): Promise<void> {
  if (!terminal.has(status)) return;
  const r = await tx.query<DagTraceRow>("SELECT agent_id, name, trace_context, created_at FROM dags WHERE id = $1", [dagId]);
  const row = r.rows[0];
  if (!row) return;
  const startTime = new Date(row.created_at);
  // Only once committed: a rolled-back end would export a root span the DAG's real end repeats.
  onCommit(tx, () => {
    endDagTrace(row.trace_context, { status: status as "succeeded" | "failed" | "cancelled", startTime, name: row.name });
    withStoredContext(row.trace_context, () =>
      logger.info(
        { dag_id: dagId, agent_id: row.agent_id, status, duration_ms: Date.now() - startTime.getTime() },
        `DAG ${status}`,
      ),
    );
  });
}
