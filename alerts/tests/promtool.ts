/**
 * promtool unit tests for every alert (`promtool test rules`), as typed code rendered to YAML.
 * Each alert has a case just above its threshold that fires (with the exact labels and rendered
 * annotations) and a case at or just below it that stays silent. Expected annotation text is
 * written out literally so that a broken template fails the test.
 */
import { stringify } from "yaml";
import { metrics } from "../../app/src/contract/metrics";
import { alertRules, exporterMetrics, postgresExporterJob, prometheusMetrics, targetDownJobs } from "../rules";
import { defaultRunbookBaseUrl, runbookUrl } from "../render";

interface InputSeries { series: string; values: string }
interface ExpectedAlert { exp_labels: Record<string, string>; exp_annotations: Record<string, string> }
interface AlertRuleTest { eval_time: string; alertname: string; exp_alerts: ExpectedAlert[] }
interface TestGroup { name: string; interval: string; input_series: InputSeries[]; alert_rule_test: AlertRuleTest[] }
export interface PromtoolTestFile { rule_files: string[]; evaluation_interval: string; tests: TestGroup[] }

const rule = (alert: string) => {
  const r = alertRules.find((x) => x.alert === alert);
  if (!r) throw new Error(`promtool tests: no alert rule named "${alert}"`);
  return r;
};

const series = (name: string, labels: Record<string, string>, values: string): InputSeries => ({
  series: `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(", ")}}`,
  values,
});

/** Cumulative `_bucket` series for a histogram observing `perMinute` (upper bound -> count) every minute. */
function histogram(name: string, labels: Record<string, string>, buckets: readonly number[], perMinute: ReadonlyMap<number, number>, minutes: number): InputSeries[] {
  const bounds = [...buckets.map(String), "+Inf"];
  let cumulative = 0;
  return bounds.map((le, i) => {
    const bound = i < buckets.length ? buckets[i]! : Infinity;
    for (const [ub, n] of perMinute) if (ub === bound) cumulative += n;
    return series(`${name}_bucket`, { ...labels, le }, `0+${cumulative}x${minutes}`);
  });
}


const tasks = metrics.tasksTotal.name;
const cost = metrics.costTotal.name;
const active = metrics.activeAgents.name;
const duration = metrics.taskDuration.name;
const breaker = metrics.circuitBreakerState.name;
const inst = { instance: "apex-worker:9464", job: "apex-worker" };

/**
 * @param ruleFiles rule files under test, relative to the test file's directory.
 * @param runbookBaseUrl the base the rule files were rendered with (it appears in the annotations).
 */
export function promtoolTests(ruleFiles: readonly string[], runbookBaseUrl: string = defaultRunbookBaseUrl): PromtoolTestFile {
  const firing = (alert: string, labels: Record<string, string>, annotations: { summary?: string; description: string }): ExpectedAlert => {
    const r = rule(alert);
    return {
      exp_labels: { severity: r.severity, ...labels },
      exp_annotations: { summary: annotations.summary ?? r.summary, description: annotations.description, runbook_url: runbookUrl(alert, runbookBaseUrl) },
    };
  };
  const tests: TestGroup[] = [
    {
      name: "HighTaskFailureRate fires at 5.1% failed after 5m",
      interval: "1m",
      input_series: [series(tasks, { ...inst, status: "failed" }, "0+51x30"), series(tasks, { ...inst, status: "succeeded" }, "0+949x30")],
      alert_rule_test: [
        { eval_time: "5m", alertname: "HighTaskFailureRate", exp_alerts: [] }, // still pending: for 5m
        { eval_time: "10m", alertname: "HighTaskFailureRate", exp_alerts: [firing("HighTaskFailureRate", {}, { description: "5.1% of the tasks that finished in the last 5 minutes failed (threshold 5%)." })] },
      ],
    },
    {
      name: "HighTaskFailureRate silent at 4.9% failed",
      interval: "1m",
      input_series: [series(tasks, { ...inst, status: "failed" }, "0+49x30"), series(tasks, { ...inst, status: "succeeded" }, "0+951x30")],
      alert_rule_test: [{ eval_time: "20m", alertname: "HighTaskFailureRate", exp_alerts: [] }],
    },
    {
      name: "CostOverspend fires at $10.80/hour summed over models",
      interval: "1m",
      input_series: [series(cost, { ...inst, model: "openai/gpt-4o" }, "0+0.1x180"), series(cost, { ...inst, model: "anthropic/claude-sonnet" }, "0+0.08x180")],
      alert_rule_test: [{ eval_time: "2h", alertname: "CostOverspend", exp_alerts: [firing("CostOverspend", {}, { description: "LLM calls cost $10.80 over the last hour (threshold $10/hour)." })] }],
    },
    {
      name: "CostOverspend silent at $9.90/hour",
      interval: "1m",
      input_series: [series(cost, { ...inst, model: "openai/gpt-4o" }, "0+0.1x180"), series(cost, { ...inst, model: "anthropic/claude-sonnet" }, "0+0.065x180")],
      alert_rule_test: [{ eval_time: "2h", alertname: "CostOverspend", exp_alerts: [] }],
    },
    {
      name: "NoActiveAgents fires at 0 and when the gauge is absent, silent at 1",
      interval: "1m",
      input_series: [
        series(active, { instance: "apex-api:8080", job: "apex-api" }, "1x5 0x10"),
        series(metrics.queueDepth.name, { instance: "apex-api:8080", job: "apex-api" }, "0x30"),
      ],
      alert_rule_test: [
        { eval_time: "5m", alertname: "NoActiveAgents", exp_alerts: [] },
        { eval_time: "9m", alertname: "NoActiveAgents", exp_alerts: [firing("NoActiveAgents", {}, { description: `0 agents have an unfinished DAG (this also fires when no runtime replica exports ${active}).` })] },
        // The gauge's samples end at 15m and go stale 5m later; from then on absent() keeps it firing.
        { eval_time: "25m", alertname: "NoActiveAgents", exp_alerts: [firing("NoActiveAgents", {}, { description: `0 agents have an unfinished DAG (this also fires when no runtime replica exports ${active}).` })] },
      ],
    },
    {
      name: "HighLatency fires when only 94% of llm tasks finish within 30s",
      interval: "1m",
      input_series: [
        ...histogram(duration, { ...inst, kind: "llm" }, metrics.taskDuration.buckets, new Map([[20, 90], [30, 4], [45, 6]]), 30),
        ...histogram(duration, { ...inst, kind: "tool" }, metrics.taskDuration.buckets, new Map([[1, 100]]), 30),
      ],
      alert_rule_test: [
        { eval_time: "5m", alertname: "HighLatency", exp_alerts: [] },
        {
          eval_time: "10m",
          alertname: "HighLatency",
          exp_alerts: [firing("HighLatency", { kind: "llm" }, { summary: "Apex llm task P95 latency is above 30s", description: "The 95th percentile of llm task duration is 32.5s over the last 5 minutes (threshold 30s)." })],
        },
      ],
    },
    {
      name: "HighLatency silent when exactly 95% of tasks finish within 30s (P95 = 30s)",
      interval: "1m",
      input_series: histogram(duration, { ...inst, kind: "llm" }, metrics.taskDuration.buckets, new Map([[20, 90], [30, 5], [45, 5]]), 30),
      alert_rule_test: [{ eval_time: "20m", alertname: "HighLatency", exp_alerts: [] }],
    },
    {
      name: "CircuitBreakerOpen fires when open (2) for 1m, silent when half-open (1)",
      interval: "1m",
      input_series: [
        series(breaker, { ...inst, provider: "openai" }, "2x10"),
        series(breaker, { ...inst, provider: "anthropic" }, "1x10"),
        series(breaker, { instance: "apex-worker-2:9464", job: "apex-worker", provider: "anthropic" }, "0x10"),
      ],
      alert_rule_test: [
        {
          eval_time: "2m",
          alertname: "CircuitBreakerOpen",
          exp_alerts: [firing("CircuitBreakerOpen", { provider: "openai" }, { summary: "LLM circuit breaker open for openai", description: "Calls to provider openai are being rejected: its circuit breaker has been open for at least 1 minute." })],
        },
      ],
    },
    {
      name: "DatabaseDown fires when pg_up is 0 for 1m, silent while 1",
      interval: "1m",
      input_series: [series(exporterMetrics.pgUp, { instance: "postgres-exporter:9187", job: "postgres-exporter" }, "1x5 0x10")],
      alert_rule_test: [
        { eval_time: "5m", alertname: "DatabaseDown", exp_alerts: [] },
        {
          eval_time: "8m",
          alertname: "DatabaseDown",
          exp_alerts: [firing("DatabaseDown", { instance: "postgres-exporter:9187", job: "postgres-exporter" }, { description: "postgres_exporter postgres-exporter:9187 cannot connect to PostgreSQL (pg_up = 0)." })],
        },
      ],
    },
    ...targetDownTests(firing),
    ...postgresExporterDownTests(firing),
  ];
  return { rule_files: [...ruleFiles], evaluation_interval: "1m", tests };
}

type Firing = (alert: string, labels: Record<string, string>, annotations: { summary?: string; description: string }) => ExpectedAlert;

const up = prometheusMetrics.up;
const exporterTarget = { instance: `${postgresExporterJob}:9187`, job: postgresExporterJob };

function targetDownTests(firing: Firing): TestGroup[] {
  const target = (job: string) => ({ instance: `${job}-0:9464`, job });
  const down = (job: string) =>
    firing("ApexTargetDown", target(job), {
      summary: `Prometheus cannot scrape ${job} target ${job}-0:9464`,
      description:
        `Every scrape of ${job} target ${job}-0:9464 has failed for 5 minutes (up = 0): ` +
        "the process is down or Prometheus cannot reach it, and its metrics and alerts are blind.",
    });
  if (targetDownJobs.length === 0) throw new Error("promtool tests: ApexTargetDown watches no job");
  return [
    {
      name: "ApexTargetDown fires after 5m of up == 0 on every watched job, silent after 4m",
      interval: "1m",
      // Down from 3m on: pending at 7m (held 4m), firing at 8m (held 5m).
      input_series: [
        ...targetDownJobs.map((j) => series(up, target(j), "1x2 0x20")),
        ...targetDownJobs.map((j) => series(up, { instance: `${j}-1:9464`, job: j }, "1x22")),
        // Not ours: another job scraped by the same Prometheus, and the exporter (PostgresExporterDown's).
        series(up, { instance: "node:9100", job: "node" }, "0x22"),
        series(up, exporterTarget, "0x22"),
      ],
      alert_rule_test: [
        { eval_time: "7m", alertname: "ApexTargetDown", exp_alerts: [] },
        { eval_time: "8m", alertname: "ApexTargetDown", exp_alerts: targetDownJobs.map(down) },
      ],
    },
  ];
}

function postgresExporterDownTests(firing: Firing): TestGroup[] {
  const pgUp = exporterMetrics.pgUp;
  const missing = firing("PostgresExporterDown", { job: postgresExporterJob }, {
    description: `No ${postgresExporterJob} target has reported pg_up for 5 minutes, so nothing watches whether PostgreSQL is up (absent(pg_up) = 1).`,
  });
  return [
    {
      name: "PostgresExporterDown fires 5m after pg_up goes stale, silent after 4m and while pg_up is 0 or 1",
      interval: "1m",
      // The exporter dies after its 5m sample: its series are stale from 6m, pending then, firing at 11m.
      input_series: [series(pgUp, exporterTarget, "1x3 0 0 stale")],
      alert_rule_test: [
        { eval_time: "5m", alertname: "PostgresExporterDown", exp_alerts: [] },
        { eval_time: "10m", alertname: "PostgresExporterDown", exp_alerts: [] },
        { eval_time: "11m", alertname: "PostgresExporterDown", exp_alerts: [missing] },
      ],
    },
    {
      name: "PostgresExporterDown: pg_up from another job does not stand in for the exporter",
      interval: "1m",
      input_series: [series(pgUp, { instance: "other:9187", job: "other" }, "1x20")],
      alert_rule_test: [{ eval_time: "10m", alertname: "PostgresExporterDown", exp_alerts: [missing] }],
    },
  ];
}

export const promtoolTestsYaml = (ruleFiles: readonly string[], runbookBaseUrl?: string): string =>
  stringify(promtoolTests(ruleFiles, runbookBaseUrl), { lineWidth: 0 });
