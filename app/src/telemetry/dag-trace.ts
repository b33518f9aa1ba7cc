/**
 * Ends a DAG's root span once the DAG reached a terminal status: the engine reports it after the
 * transaction that moved it there committed (exactly one process runs that transaction), with the
 * carrier and creation time the submission stored on the row. See spans.ts for the approach.
 */
import type { FinishedDag } from "../domain/engine-events";
import { logger } from "./logger";
import { endDagTrace, withStoredContext } from "./spans";

export function reportDagFinished(dag: FinishedDag): void {
  endDagTrace(dag.traceContext, { status: dag.status, startTime: dag.createdAt, name: dag.name });
  withStoredContext(dag.traceContext, () =>
    logger.info(
      { dag_id: dag.dagId, agent_id: dag.agentId, status: dag.status, duration_ms: Date.now() - dag.createdAt.getTime() },
      `DAG ${dag.status}`,
    ),
  );
}
