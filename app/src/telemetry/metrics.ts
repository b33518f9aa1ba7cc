/**
 * The runtime's Prometheus metrics: one prom-client Registry (`registry`) holding a handle for
 * every metric of `contract/metrics.ts`, created from that list (names, help, labels and buckets
 * are never typed twice), plus prom-client's default process metrics.
 *
 * Cluster-scoped gauges (queue depth, active agents, running tasks) are not counted by the process:
 * they are read from Postgres at scrape time through the query registered with
 * `registerClusterGauges`. Every replica that registers it reports the same cluster-wide value, so
 * dashboards and alerts aggregate them with max(), never sum().
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { metrics as metricDefs, type MetricDef, type MetricKey } from "../contract/metrics";

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
  /** Ready tasks waiting to be claimed. */
  readonly queueDepth: number;
  /** Agents with at least one unfinished DAG. */
  readonly activeAgents: number;
  /** Tasks running under a lease. */
  readonly runningTasks: number;
}

export type ClusterQuery = () => Promise<ClusterSnapshot>;

/** Which snapshot field feeds each cluster-scoped metric of the contract. */
const clusterFields: Partial<Record<MetricKey, keyof ClusterSnapshot>> = {
  queueDepth: "queueDepth",
  activeAgents: "activeAgents",
  runningTasks: "runningTasks",
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

function createHandle(key: MetricKey, def: MetricDef): ApexMetrics[MetricKey] {
  const common = { name: def.name, help: def.help, labelNames: [...def.labels], registers: registeredOnFirstUse.has(key) ? [] : [registry] };
  switch (def.type) {
    case "counter":
      return new Counter(common) as ApexMetrics[MetricKey];
    case "histogram":
      return new Histogram({ ...common, buckets: def.buckets ? [...def.buckets] : undefined }) as ApexMetrics[MetricKey];
    case "gauge": {
      const field = def.scope === "cluster" ? clusterFields[key] : undefined;
      if (def.scope === "cluster" && !field) {
        throw new Error(`contract metric ${def.name} is cluster-scoped but telemetry/metrics.ts has no snapshot field for key "${key}"`);
      }
      if (!field) return new Gauge(common) as ApexMetrics[MetricKey];
      return new Gauge({
        ...common,
        // Runs on every scrape. Without a registered query (a process with no store) nothing is
        // set and the gauge reads 0; on a failed query the previous value is kept and the error
        // is reported, so one slow database does not take /metrics down.
        async collect() {
          if (!clusterQuery) return;
          try {
            const snapshot = await currentSnapshot(clusterQuery);
            this.set(snapshot[field]);
          } catch (err) {
            lastSnapshot = undefined;
            clusterErrorHandler(err);
          }
        },
      }) as ApexMetrics[MetricKey];
    }
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
