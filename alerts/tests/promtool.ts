/**
 * promtool unit tests for the six alerts (`promtool test rules`), as typed code rendered to YAML.
 * Each alert has a case just above its threshold that fires (with the exact labels and rendered
 * annotations) and a case at or just below it that stays silent. Expected annotation text is
 * written out literally so that a broken template fails the test.
 */
import { stringify } from "yaml";
import { metrics } from "../../app/src/contract/metrics";
import { alertRules, exporterMetrics } from "../rules";
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
  ];
  return { rule_files: [...ruleFiles], evaluation_interval: "1m", tests };
}

export const promtoolTestsYaml = (ruleFiles: readonly string[], runbookBaseUrl?: string): string =>
  stringify(promtoolTests(ruleFiles, runbookBaseUrl), { lineWidth: 0 });
