/**
 * The runtime's alerts, common to both targets: the seed's six (§6), TaskQueueStalled,
 * BudgetNearlyExhausted (issue 16's spend budgets), the two that watch the scrape targets
 * (ApexTargetDown, PostgresExporterDown) and the Watchdog. Metric names come from the shared
 * contract so a rename in the runtime breaks the build here instead of silently muting an alert.
 * `rulesFor` adds the Kubernetes pod alerts (kubernetes-rules.ts).
 */
import { breakerStateValue, metrics, taskStatusLabels, type MetricDef } from "../app/src/contract/metrics";
import { services } from "../app/src/contract/services";
import { apexScrapeJobs } from "../components/observability/scrape-jobs";
import { kubernetesRules, type KubernetesRuleOptions } from "./kubernetes-rules";
import { exporterMetrics, prometheusMetrics } from "./sources";
import type { AlertRule, AlertTarget } from "./types";

type TaskStatus = (typeof taskStatusLabels)[number];
const failed: TaskStatus = "failed";
const succeeded: TaskStatus = "succeeded";

/** The scrape job of postgres_exporter: the `job` label its `pg_up` carries. */
export const postgresExporterJob = services.postgresExporter.name;

/**
 * Jobs whose targets ApexTargetDown watches on `target`: every job of its generated scrape config
 * (Kubernetes adds kube-state-metrics, and the kubelets when `kubeletVolumeStats`: a kubelet that
 * cannot be scraped blinds ApexPvcFillingUp) except postgres-exporter, which PostgresExporterDown
 * covers (one alert per failure, not two).
 */
export function targetDownJobsFor(target: AlertTarget, opts: Pick<KubernetesRuleOptions, "kubeletVolumeStats"> = {}): readonly string[] {
  const platform = target === "kubernetes" ? { kind: "kubernetes" as const, namespace: "apex" } : { kind: "docker" as const };
  const jobs = apexScrapeJobs(platform, { kubeletVolumeStats: opts.kubeletVolumeStats }).map((j) => j.name);
  if (!jobs.includes(postgresExporterJob)) throw new Error(`alert rules: no scrape job "${postgresExporterJob}" for PostgresExporterDown`);
  for (const j of jobs) if (!/^[A-Za-z0-9_-]+$/.test(j)) throw new Error(`alert rules: scrape job name "${j}" is not usable in a job=~ regex`);
  return jobs.filter((j) => j !== postgresExporterJob);
}

/** ApexTargetDown's jobs on docker (the common rule list's). */
export const targetDownJobs: readonly string[] = targetDownJobsFor("docker");

export const thresholds = {
  /** failed ÷ (succeeded + failed) over 5 minutes; skipped and cancelled tasks are no one's failure. */
  taskFailureRatio: 0.05,
  /** US dollars spent on LLM calls in the last hour. */
  costPerHourUsd: 10,
  /** Task P95 in seconds. */
  taskLatencyP95Seconds: 30,
  /**
   * Tasks of a kind that must have finished in the 5-minute window before HighLatency judges its
   * P95. Below 20 one slow task is more than 5% of the sample and *is* the P95 (a single 42 s task
   * made P95 42 s); from 20 on it takes at least two.
   */
  latencyMinTasks: 20,
  /**
   * Seconds the oldest claimable ready task may wait. A live worker claims within a second
   * (LISTEN/NOTIFY, 5 s fallback poll); a saturated pool frees a slot within a task's duration
   * (P95 under 30 s, else HighLatency) and the autoscaler adds workers within minutes. Five
   * minutes, ten times the latency threshold, is past any of those: workers are gone or stuck.
   */
  queueOldestWaitSeconds: 300,
  /**
   * Share of an agent's or API key's budget limit (USD or tokens) left in its period, at or below
   * which BudgetNearlyExhausted warns: 80% used. Reserved calls in flight count as used, as the
   * budget itself counts them when it refuses the next call.
   */
  budgetLeftShare: 0.2,
} as const;

/** The labels of one budget's series (apex_budget_*): what BudgetNearlyExhausted keeps per alert. */
const budgetLabels = "scope, scope_id, period";

/**
 * Budgets with at most `budgetLeftShare` of a limit left, tagged `limit="<kind>"`. max(): every
 * replica reports the same cluster gauge. A limit of 0 (spending switched off on purpose) is left
 * out rather than divided by.
 */
function budgetLeft(remaining: MetricDef, limit: MetricDef, kind: "usd" | "tokens"): string {
  const left = `max by (${budgetLabels}) (${remaining.name}) / (max by (${budgetLabels}) (${limit.name}) > 0)`;
  return `label_replace(${left} <= ${thresholds.budgetLeftShare}, "limit", "${kind}", "", "")`;
}

export const watchdogRule: AlertRule = {
  alert: "Watchdog",
  expr: "vector(1)",
  severity: "none",
  summary: "Alerting pipeline heartbeat (always firing)",
  description:
    "This alert always fires: it is the dead man's switch. Alertmanager routes it to the receiver \"deadmansswitch\", " +
    "which expects it continuously. If it stops arriving, rule evaluation, Prometheus-to-Alertmanager delivery or " +
    "Alertmanager's notifications are broken, and no other alert can reach anyone either.",
};

/** The rules of both targets; only ApexTargetDown's job list differs between them. */
function commonRules(target: AlertTarget, opts: KubernetesRuleOptions = {}): AlertRule[] {
  return [
    watchdogRule,
    {
      alert: "HighTaskFailureRate",
      expr:
        `sum(rate(${metrics.tasksTotal.name}{status="${failed}"}[5m]))` +
        ` / sum(rate(${metrics.tasksTotal.name}{status=~"${succeeded}|${failed}"}[5m])) > ${thresholds.taskFailureRatio}`,
      for: "5m",
      severity: "warning",
      summary: "More than 5% of Apex tasks are failing",
      description:
        "{{ $value | humanizePercentage }} of the tasks that succeeded or failed in the last 5 minutes failed " +
        "(threshold 5%; skipped and cancelled tasks are not counted).",
    },
    {
      alert: "CostOverspend",
      expr: `sum(increase(${metrics.costTotal.name}[1h])) > ${thresholds.costPerHourUsd}`,
      severity: "critical",
      summary: "LLM spend is above $10 per hour",
      description: 'LLM calls cost ${{ $value | printf "%.2f" }} over the last hour (threshold $10/hour).',
    },
    {
      alert: "BudgetNearlyExhausted",
      // One alert per budget and limit kind: a budget short on both its USD and its token limit raises two.
      expr:
        `${budgetLeft(metrics.budgetRemainingUsd, metrics.budgetLimitUsd, "usd")}` +
        ` or ${budgetLeft(metrics.budgetRemainingTokens, metrics.budgetLimitTokens, "tokens")}`,
      for: "1m",
      severity: "warning",
      summary: "The {{ $labels.period }} budget of {{ $labels.scope }} {{ $labels.scope_id }} is at least 80% used",
      description:
        "The {{ $labels.period }} budget of {{ $labels.scope }} {{ $labels.scope_id }} has {{ $value | humanizePercentage }} of its " +
        "{{ $labels.limit }} limit left (threshold 20%; calls in flight count as spent). When nothing is left its LLM calls are " +
        "refused: tasks fail with budget_exceeded, or wait for the period's reset if their DAG asked to.",
    },
    {
      alert: "NoActiveAgents",
      // The gauge counts task slots of workers heartbeating within their lease: 0 when every worker
      // is gone, > 0 on an idle healthy platform. absent(): no runtime replica exports it at all
      // (API and workers down, or the scrape failing), which is no capacity we know of either;
      // `* 0` makes that branch report 0 like the first one.
      expr: `max(${metrics.activeAgents.name}) == 0 or absent(${metrics.activeAgents.name}) * 0`,
      for: "1m",
      severity: "critical",
      summary: "No worker can run Apex agents' tasks",
      description:
        "Live workers have {{ $value }} task slots: no worker process has heartbeated within its lease, so no agent's " +
        `task will run (this also fires when no runtime replica exports ${metrics.activeAgents.name}).`,
    },
    {
      alert: "TaskQueueStalled",
      expr: `max(${metrics.queueOldestWait.name}) > ${thresholds.queueOldestWaitSeconds}`,
      for: "1m",
      severity: "critical",
      summary: "Apex tasks are waiting and no worker claims them",
      description:
        "The oldest ready task has waited {{ $value | humanizeDuration }} to be claimed (threshold 5m): workers are " +
        `gone, full or not claiming. Check ${metrics.workersAlive.name}, the workers' logs and their claims (task leases) in Postgres.`,
    },
    {
      alert: "HighLatency",
      expr:
        `histogram_quantile(0.95, sum by (le, kind) (rate(${metrics.taskDuration.name}_bucket[5m])))` +
        ` > ${thresholds.taskLatencyP95Seconds}` +
        ` and on (kind) sum by (kind) (increase(${metrics.taskDuration.name}_count[5m])) >= ${thresholds.latencyMinTasks}`,
      for: "5m",
      severity: "warning",
      summary: "Apex {{ $labels.kind }} task P95 latency is above 30s",
      description:
        "The 95th percentile of {{ $labels.kind }} task duration is {{ $value | humanizeDuration }} over the last 5 minutes " +
        "(threshold 30s, judged only when at least 20 tasks of the kind finished).",
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
      expr: `${prometheusMetrics.up}{job=~"${targetDownJobsFor(target, opts).join("|")}"} == 0`,
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
}

/** The rules common to both targets, as rendered for docker (ApexTargetDown over docker's scrape jobs). */
export const alertRules: readonly AlertRule[] = commonRules("docker");

export const alertTargets: readonly AlertTarget[] = ["docker", "kubernetes"];

/**
 * The rule list of a stack's target: the common rules, plus on Kubernetes the pod alerts over
 * kube-state-metrics (scoped to `opts.namespace` when given), and ApexPvcFillingUp over the
 * kubelets' volume stats only with `opts.kubeletVolumeStats` (the stack scrapes them).
 */
export function rulesFor(target: AlertTarget, opts: KubernetesRuleOptions = {}): readonly AlertRule[] {
  switch (target) {
    case "docker":
      if (opts.kubeletVolumeStats) throw new Error("alert rules: kubeletVolumeStats is only for the kubernetes target (there are no kubelets on docker)");
      return alertRules;
    case "kubernetes":
      return [...commonRules("kubernetes", opts), ...kubernetesRules(opts)];
    default:
      throw new Error(`alert rules: unknown target "${String(target)}" (expected ${alertTargets.map((t) => `"${t}"`).join(" or ")})`);
  }
}
