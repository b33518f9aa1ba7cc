/**
 * The SQL behind the cluster-scoped gauges (apex_queue_depth, apex_active_agents,
 * apex_running_tasks). Every replica that registers it reports the same numbers, read from the one
 * source of truth at scrape time; aggregate with max() in PromQL, never sum().
 */
import type { Db } from "../store/db";
import type { ClusterQuery, ClusterSnapshot } from "./metrics";

const snapshotSql = `
SELECT
  (SELECT count(*) FROM tasks WHERE status = 'ready')::int                   AS queue_depth,
  (SELECT count(DISTINCT agent_id) FROM dags WHERE finished_at IS NULL)::int AS active_agents,
  (SELECT count(*) FROM tasks WHERE status = 'running')::int                 AS running_tasks`;

interface SnapshotRow {
  queue_depth: number;
  active_agents: number;
  running_tasks: number;
}

/** A ClusterQuery over the runtime's store, for `registerClusterGauges`. */
export function clusterSnapshotQuery(db: Db): ClusterQuery {
  return async (): Promise<ClusterSnapshot> => {
    const { rows } = await db.query<SnapshotRow>(snapshotSql);
    const row = rows[0];
    if (!row) throw new Error("cluster gauge query returned no row");
    return {
      queueDepth: Number(row.queue_depth),
      activeAgents: Number(row.active_agents),
      runningTasks: Number(row.running_tasks),
    };
  };
}
