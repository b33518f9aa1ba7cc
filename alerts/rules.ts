/**
 * The seed's six alerts (§6) as code, plus the two that watch the watchers (ApexTargetDown,
 * PostgresExporterDown). Metric names come from the shared contract so a rename in
 * the runtime breaks the build here instead of silently muting an alert.
 */
import { breakerStateValue, metrics, taskStatusLabels } from "../app/src/contract/metrics";
import { services } from "../app/src/contract/services";
import { apexScrapeJobNames } from "../components/observability/scrape-jobs";
import type { AlertRule } from "./types";

/** Metrics from exporters rather than from the runtime; alerts may use these and the contract's. */
export const exporterMetrics = {
  /** postgres_exporter: 1 when its last connection to Postgres succeeded. */
  pgUp: "pg_up",
} as const;

/** Series Prometheus writes itself for every scrape target; no /metrics endpoint exposes them. */
export const prometheusMetrics = {
  /** 1 when the target's last scrape succeeded, 0 when it failed. */
  up: "up",
} as const;

const failed: (typeof taskStatusLabels)[number] = "failed";

/** The scrape job of postgres_exporter: the `job` label its `pg_up` carries. */
export const postgresExporterJob = services.postgresExporter.name;

/**
 * Jobs whose targets ApexTargetDown watches: every job of the generated scrape config except
 * postgres-exporter, which PostgresExporterDown covers (one alert per failure, not two).
 */
export const targetDownJobs: readonly string[] = (() => {
  const jobs = apexScrapeJobNames();
  if (!jobs.includes(postgresExporterJob)) throw new Error(`alert rules: no scrape job "${postgresExporterJob}" for PostgresExporterDown`);
  for (const j of jobs) if (!/^[A-Za-z0-9_-]+$/.test(j)) throw new Error(`alert rules: scrape job name "${j}" is not usable in a job=~ regex`);
  return jobs.filter((j) => j !== postgresExporterJob);
})();

export const thresholds = {
  /** Failed share of terminal tasks. */
  taskFailureRatio: 0.05,
  /** US dollars spent on LLM calls in the last hour. */
  costPerHourUsd: 10,
  /** Task P95 in seconds. */
  taskLatencyP95Seconds: 30,
} as const;

export const alertRules: readonly AlertRule[] = [
  {
    alert: "HighTaskFailureRate",
    expr:
      `sum(rate(${metrics.tasksTotal.name}{status="${failed}"}[5m]))` +
      ` / sum(rate(${metrics.tasksTotal.name}[5m])) > ${thresholds.taskFailureRatio}`,
    for: "5m",
    severity: "warning",
    summary: "More than 5% of Apex tasks are failing",
    description: "{{ $value | humanizePercentage }} of the tasks that finished in the last 5 minutes failed (threshold 5%).",
  },
  {
    alert: "CostOverspend",
    expr: `sum(increase(${metrics.costTotal.name}[1h])) > ${thresholds.costPerHourUsd}`,
    severity: "critical",
    summary: "LLM spend is above $10 per hour",
    description: 'LLM calls cost ${{ $value | printf "%.2f" }} over the last hour (threshold $10/hour).',
  },
  {
    alert: "NoActiveAgents",
    // absent(): if no runtime replica exports the gauge at all (API down, scrape failing), there are
    // no agents we know of either; `* 0` makes that branch report 0 like the first one.
    expr: `max(${metrics.activeAgents.name}) == 0 or absent(${metrics.activeAgents.name}) * 0`,
    for: "1m",
    severity: "critical",
    summary: "No Apex agent is active",
    description:
      "{{ $value }} agents have an unfinished DAG (this also fires when no runtime replica exports " +
      `${metrics.activeAgents.name}).`,
  },
  {
    alert: "HighLatency",
    expr:
      `histogram_quantile(0.95, sum by (le, kind) (rate(${metrics.taskDuration.name}_bucket[5m])))` +
      ` > ${thresholds.taskLatencyP95Seconds}`,
    for: "5m",
    severity: "warning",
    summary: "Apex {{ $labels.kind }} task P95 latency is above 30s",
    description: "The 95th percentile of {{ $labels.kind }} task duration is {{ $value | humanizeDuration }} over the last 5 minutes (threshold 30s).",
  },
  {
    alert: "CircuitBreakerOpen",
    expr: `max by (provider) (${metrics.circuitBreakerState.name}) == ${breakerStateValue.open}`,
    for: "1m",
    severity: "critical",
    summary: "LLM circuit breaker open for {{ $labels.provider }}",
    description: "Calls to provider {{ $labels.provider }} are being rejected: its circuit breaker has been open for at least 1 minute.",
  },
  {
    alert: "DatabaseDown",
    expr: `${exporterMetrics.pgUp} == 0`,
    for: "1m",
    severity: "critical",
    summary: "PostgreSQL is unreachable",
    description: "postgres_exporter {{ $labels.instance }} cannot connect to PostgreSQL (pg_up = {{ $value }}).",
  },
  {
    alert: "ApexTargetDown",
    expr: `${prometheusMetrics.up}{job=~"${targetDownJobs.join("|")}"} == 0`,
    for: "5m",
    severity: "warning",
    summary: "Prometheus cannot scrape {{ $labels.job }} target {{ $labels.instance }}",
    description:
      "Every scrape of {{ $labels.job }} target {{ $labels.instance }} has failed for 5 minutes (up = {{ $value }}): " +
      "the process is down or Prometheus cannot reach it, and its metrics and alerts are blind.",
  },
  {
    alert: "PostgresExporterDown",
    // absent() with an equality matcher returns that label, so the alert carries job="postgres-exporter".
    // It covers a dead exporter (its series go stale) and a missing or broken scrape job alike.
    expr: `absent(${exporterMetrics.pgUp}{job="${postgresExporterJob}"})`,
    for: "5m",
    severity: "warning",
    summary: "postgres_exporter is not reporting pg_up: DatabaseDown cannot fire",
    description:
      "No {{ $labels.job }} target has reported pg_up for 5 minutes, so nothing watches whether PostgreSQL is up " +
      "(absent(pg_up) = {{ $value }}).",
  },
];
