/**
 * The runtime's Prometheus metrics: one prom-client Registry (`registry`) holding a handle for
 * every metric of `contract/metrics.ts`, created from that list (names, help, labels and buckets
 * are never typed twice), plus prom-client's default process metrics.
 *
 * Cluster-scoped gauges (queue depth and oldest wait, running tasks, live workers, active agents)
 * are not counted by the process: they are read from Postgres at scrape time through the query
 * registered with `registerClusterGauges`. Every replica that registers it reports the same
 * cluster-wide value, so dashboards and alerts aggregate them with max(), never sum().
 *
 * A process that runs a worker also starts apex_agent_cost_total at 0 for every agent, new ones
 * included: `trackAgentSeries` looks for agents created since the last scrape, at each scrape.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { metrics as metricDefs, type MetricDef, type MetricKey } from "../contract/metrics";
import type { BudgetState } from "../domain/budget";

type LabelOf<D extends MetricDef> = D["labels"][number];
type HandleOf<D extends MetricDef> = D["type"] extends "counter"
  ? Counter<LabelOf<D>>
  : D["type"] extends "gauge"
    ? Gauge<LabelOf<D>>
    : Histogram<LabelOf<D>>;

/** Typed prom-client handles, keyed like `contract/metrics.ts`. */
export type ApexMetrics = { readonly [K in MetricKey]: HandleOf<(typeof metricDefs)[K]> };

/** The cluster-wide values the cluster-scoped gauges report. */
export interface ClusterSnapshot {
  /** Ready tasks due now: what a claim would take. */
  readonly queueDepth: number;
  /** Seconds the oldest of those has waited (0 when none). */
  readonly queueOldestWait: number;
  /** Tasks running under a lease. */
  readonly runningTasks: number;
  /** Workers whose heartbeat is younger than their lease. */
  readonly workersAlive: number;
  /** Task slots of the live workers. */
  readonly activeAgents: number;
  /** Every agent and API key budget in its current window (apex_budget_* gauges, one series each). */
  readonly budgets: readonly BudgetState[];
}

export type ClusterQuery = () => Promise<ClusterSnapshot>;

/** Ids of agents not returned before (the query remembers what it returned). */
export type AgentSeriesQuery = () => Promise<readonly string[]>;

/** Which snapshot field feeds each cluster-scoped metric of the contract. */
const clusterFields: Partial<Record<MetricKey, ScalarField>> = {
  queueDepth: "queueDepth",
  queueOldestWait: "queueOldestWait",
  runningTasks: "runningTasks",
  workersAlive: "workersAlive",
  activeAgents: "activeAgents",
};

type ScalarField = Exclude<keyof ClusterSnapshot, "budgets">;

/** What each per-budget gauge reports for one budget; null when the budget has no such limit (no series). */
const budgetFields: Partial<Record<MetricKey, (b: BudgetState) => number | null>> = {
  budgetRemainingUsd: (b) => (b.limitMicroUsd === null ? null : (b.limitMicroUsd - b.spentMicroUsd - b.reservedMicroUsd) / 1e6),
  budgetLimitUsd: (b) => (b.limitMicroUsd === null ? null : b.limitMicroUsd / 1e6),
  budgetRemainingTokens: (b) => (b.limitTokens === null ? null : b.limitTokens - b.spentTokens - b.reservedTokens),
  budgetLimitTokens: (b) => b.limitTokens,
};

/**
 * Exposed only once a process uses them: only processes that run a worker report utilisation, so
 * apex-api does not add a constant 0 series to the per-instance utilisation panel.
 */
const registeredOnFirstUse: ReadonlySet<MetricKey> = new Set<MetricKey>(["workerUtilization"]);

/** One scrape asks Postgres once for all cluster gauges; results are reused for this long. */
const SNAPSHOT_TTL_MS = 1_000;

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

let clusterQuery: ClusterQuery | undefined;
let clusterErrorHandler: (err: unknown) => void = () => {};
let lastSnapshot: { at: number; value: Promise<ClusterSnapshot> } | undefined;

function currentSnapshot(query: ClusterQuery): Promise<ClusterSnapshot> {
  const now = Date.now();
  if (!lastSnapshot || now - lastSnapshot.at > SNAPSHOT_TTL_MS) {
    lastSnapshot = { at: now, value: query() };
  }
  return lastSnapshot.value;
}

let agentQuery: AgentSeriesQuery | undefined;
let agentErrorHandler: (err: unknown) => void = () => {};
let lastAgentRefresh: { at: number; value: Promise<void> } | undefined;

/** Starts at 0 the cost series of agents the query has not returned yet; at most once per SNAPSHOT_TTL_MS. */
function refreshAgentSeries(query: AgentSeriesQuery): Promise<void> {
  const now = Date.now();
  if (!lastAgentRefresh || now - lastAgentRefresh.at > SNAPSHOT_TTL_MS) {
    const value = query().then((ids) => {
      for (const agent_id of ids) apexMetrics.agentCostTotal.inc({ agent_id }, 0);
    });
    lastAgentRefresh = { at: now, value };
  }
  return lastAgentRefresh.value;
}

/** Collect hook of apex_agent_cost_total: a failed look is reported and retried at the next scrape. */
async function collectAgentSeries(): Promise<void> {
  if (!agentQuery) return;
  try {
    await refreshAgentSeries(agentQuery);
  } catch (err) {
    lastAgentRefresh = undefined;
    agentErrorHandler(err);
  }
}

function createHandle(key: MetricKey, def: MetricDef): ApexMetrics[MetricKey] {
  const common = { name: def.name, help: def.help, labelNames: [...def.labels], registers: registeredOnFirstUse.has(key) ? [] : [registry] };
  switch (def.type) {
    case "counter":
      return new Counter(key === "agentCostTotal" ? { ...common, collect: collectAgentSeries } : common) as ApexMetrics[MetricKey];
    case "histogram":
      return new Histogram({ ...common, buckets: def.buckets ? [...def.buckets] : undefined }) as ApexMetrics[MetricKey];
    case "gauge": {
      const field = def.scope === "cluster" ? clusterFields[key] : undefined;
      const perBudget = def.scope === "cluster" ? budgetFields[key] : undefined;
      if (perBudget) {
        return new Gauge({
          ...common,
          // One series per budget with that kind of limit; a removed budget's series goes with it.
          async collect() {
            await withClusterSnapshot((snapshot) => {
              this.reset();
              for (const b of snapshot.budgets) {
                const value = perBudget(b);
                if (value !== null) this.set({ scope: b.scope, scope_id: b.scopeId, period: b.period }, value);
              }
            });
          },
        }) as ApexMetrics[MetricKey];
      }
      if (def.scope === "cluster" && !field) {
        throw new Error(`contract metric ${def.name} is cluster-scoped but telemetry/metrics.ts has no snapshot field for key "${key}"`);
      }
      if (!field) return new Gauge(common) as ApexMetrics[MetricKey];
      return new Gauge({
        ...common,
        async collect() {
          await withClusterSnapshot((snapshot) => this.set(snapshot[field]));
        },
      }) as ApexMetrics[MetricKey];
    }
  }
}

/**
 * Runs on every scrape of a cluster gauge. Without a registered query (a process with no store)
 * nothing is set and the gauge reads 0; on a failed query the previous values are kept and the
 * error is reported, so one slow database does not take /metrics down.
 */
async function withClusterSnapshot(use: (snapshot: ClusterSnapshot) => void): Promise<void> {
  if (!clusterQuery) return;
  try {
    use(await currentSnapshot(clusterQuery));
  } catch (err) {
    lastSnapshot = undefined;
    clusterErrorHandler(err);
  }
}

function createAll(): ApexMetrics {
  const entries = (Object.keys(metricDefs) as MetricKey[]).map((key) => [key, createHandle(key, metricDefs[key])]);
  return Object.freeze(Object.fromEntries(entries)) as ApexMetrics;
}

export const apexMetrics: ApexMetrics = createAll();

/** Adds a metric created unregistered (see `registeredOnFirstUse`) to `registry`, once. */
export function ensureRegistered(key: MetricKey): void {
  if (!registry.getSingleMetric(metricDefs[key].name)) registry.registerMetric(apexMetrics[key]);
}

/**
 * Makes this process report the cluster-scoped gauges, computed by `query` at scrape time
 * (typically a COUNT over the tasks/dags tables). `onError` hears about failed queries.
 */
export function registerClusterGauges(query: ClusterQuery, onError?: (err: unknown) => void): void {
  clusterQuery = query;
  lastSnapshot = undefined;
  if (onError) clusterErrorHandler = onError;
}

/**
 * Makes apex_agent_cost_total start at 0 for every agent `query` returns: now (the agents that
 * exist), then at each scrape (agents created since), so increase() sees an agent's first spend on
 * every worker. Only processes that make LLM calls call it (apex-api would only add zero series).
 * Resolves after the first look; `onError` hears about failed looks (also the first one).
 */
export async function trackAgentSeries(query: AgentSeriesQuery, onError?: (err: unknown) => void): Promise<void> {
  agentQuery = query;
  lastAgentRefresh = undefined;
  if (onError) agentErrorHandler = onError;
  await collectAgentSeries();
}

/** Stops looking for new agents (on shutdown, or between tests); series already started stay. */
export function untrackAgentSeries(): void {
  agentQuery = undefined;
  lastAgentRefresh = undefined;
  agentErrorHandler = () => {};
}

/** Stops reporting cluster gauges (on shutdown, or between tests). */
export function unregisterClusterGauges(): void {
  clusterQuery = undefined;
  lastSnapshot = undefined;
  clusterErrorHandler = () => {};
}

/** The Prometheus text exposition of everything in `registry`, with its content type. */
export async function renderMetrics(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
