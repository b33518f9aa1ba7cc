/**
 * The SQL behind the cluster-scoped gauges (apex_queue_depth, apex_queue_oldest_wait_seconds,
 * apex_running_tasks, apex_workers_alive, apex_active_agents, the apex_budget_* gauges), and the agents whose cost series a
 * worker starts at 0. Every replica that registers the gauges reports the same numbers, read from
 * the one source of truth at scrape time; aggregate with max() in PromQL, never sum().
 */
import type { Db } from "../store/db";
import { allOwnerBudgetStates } from "../store/queries/budgets";
import type { AgentSeriesQuery, ClusterQuery, ClusterSnapshot } from "./metrics";

/**
 * One statement per scrape. The queue is what a worker's claim would take now (status ready and
 * due: a retry waiting out its backoff is not queued yet); a ready task has waited since
 * next_run_at, which every move to ready sets to now() (+ the backoff), so the oldest wait is
 * now() - min(next_run_at). Both come from the claim's partial index tasks_ready_idx, running
 * tasks from tasks_lease_idx. A worker is alive while its heartbeat is younger than its lease
 * (migration 0008); active agents are the task slots of the live workers.
 */
const snapshotSql = `
SELECT q.queue_depth, q.queue_oldest_wait, r.running_tasks, w.workers_alive, w.active_agents
  FROM (SELECT count(*)::int AS queue_depth,
               coalesce(extract(epoch FROM now() - min(next_run_at)), 0)::float8 AS queue_oldest_wait
          FROM tasks WHERE status = 'ready' AND next_run_at <= now()) q,
       (SELECT count(*)::int AS running_tasks FROM tasks WHERE status = 'running') r,
       (SELECT count(*)::int AS workers_alive, coalesce(sum(slots), 0)::int AS active_agents
          FROM workers WHERE heartbeat_at > now() - lease_ms * interval '1 millisecond') w`;

interface SnapshotRow {
  queue_depth: number;
  queue_oldest_wait: number;
  running_tasks: number;
  workers_alive: number;
  active_agents: number;
}

/** A ClusterQuery over the runtime's store, for `registerClusterGauges`. */
export function clusterSnapshotQuery(db: Db): ClusterQuery {
  return async (): Promise<ClusterSnapshot> => {
    const [{ rows }, budgets] = await Promise.all([db.query<SnapshotRow>(snapshotSql), allOwnerBudgetStates(db, new Date())]);
    const row = rows[0];
    if (!row) throw new Error("cluster gauge query returned no row");
    return {
      budgets,
      queueDepth: Number(row.queue_depth),
      queueOldestWait: Math.max(0, Number(row.queue_oldest_wait)),
      runningTasks: Number(row.running_tasks),
      workersAlive: Number(row.workers_alive),
      activeAgents: Number(row.active_agents),
    };
  };
}

/**
 * Agents created since the last look: every agent the first time, then those whose created_at is
 * at most `overlapMs` before the newest seen (an INSERT commits after its now(), so an agent may
 * show up a little behind one already seen). Ids already returned are not returned again.
 */
export function newAgentsQuery(db: Db, overlapMs = 60_000): AgentSeriesQuery {
  const seen = new Set<string>();
  let newest: Date | undefined;
  return async () => {
    const since = newest ? new Date(newest.getTime() - overlapMs) : new Date(0);
    const { rows } = await db.query<{ id: string; created_at: Date | string }>(
      "SELECT id, created_at FROM agents WHERE created_at >= $1 ORDER BY created_at",
      [since],
    );
    const fresh: string[] = [];
    for (const row of rows) {
      const at = new Date(row.created_at);
      if (!newest || at > newest) newest = at;
      if (seen.has(row.id)) continue;
      seen.add(row.id);
      fresh.push(row.id);
    }
    return fresh;
  };
}
