/**
 * promtool unit tests for every alert (`promtool test rules`), as typed code rendered to YAML.
 * Each alert has a case that fires (with the exact labels and rendered annotations) and one at or
 * just below its threshold that stays silent; each alert with a `for` has a boundary case: silent
 * one evaluation before the `for` has elapsed since the condition became true, firing at it.
 * Expected annotation text is written out literally so that a broken template fails the test.
 */
import { stringify } from "yaml";
import { metrics } from "../../app/src/contract/metrics";
import type { KubernetesRuleOptions } from "../kubernetes-rules";
import { postgresExporterJob, rulesFor, targetDownJobsFor } from "../rules";
import { runbookUrl } from "../runbook-url";
import { exporterMetrics, prometheusMetrics } from "../sources";
import type { AlertTarget } from "../types";
import { histogram, series, testEvaluationInterval, type Firing, type PromtoolCase, type PromtoolTestFile } from "./promtool-case";
import { kubernetesCases } from "./promtool-kubernetes";

export { testEvaluationInterval, type AlertRuleTest, type ForBoundary, type PromtoolCase, type PromtoolTestFile, type TestGroup } from "./promtool-case";

const tasks = metrics.tasksTotal.name;
const cost = metrics.costTotal.name;
const active = metrics.activeAgents.name;
const alive = metrics.workersAlive.name;
const oldestWait = metrics.queueOldestWait.name;
const depth = metrics.queueDepth.name;
const duration = metrics.taskDuration.name;
const breaker = metrics.circuitBreakerState.name;
const inst = { instance: "apex-worker:9464", job: "apex-worker" };
const api = { instance: "apex-api:8080", job: "apex-api" };
const up = prometheusMetrics.up;
const exporterTarget = { instance: `${postgresExporterJob}:9187`, job: postgresExporterJob };

/**
 * Every case for the rules of `target`, with the boundary metadata.
 * @param runbookBaseUrl the base the rule file was rendered with (it appears in the annotations).
 */
export function promtoolCases(runbookBaseUrl: string, target: AlertTarget = "docker", opts: KubernetesRuleOptions = {}): PromtoolCase[] {
  const rules = rulesFor(target, opts);
  const firing: Firing = (alert, labels, annotations) => {
    const r = rules.find((x) => x.alert === alert);
    if (!r) throw new Error(`promtool tests: no alert rule named "${alert}" for target ${target}`);
    return {
      exp_labels: { severity: r.severity, ...labels },
      exp_annotations: { summary: annotations.summary ?? r.summary, description: annotations.description, runbook_url: runbookUrl(alert, runbookBaseUrl) },
    };
  };
  return [
    ...watchdogCases(firing),
    ...failureRateCases(firing),
    ...costCases(firing),
    ...budgetCases(firing),
    ...noActiveAgentsCases(firing),
    ...queueStalledCases(firing),
    ...latencyCases(firing),
    ...breakerCases(firing),
    ...databaseDownCases(firing),
    ...targetDownCases(firing, targetDownJobsFor(target, opts)),
    ...postgresExporterDownCases(firing),
    ...(target === "kubernetes" ? kubernetesCases(firing, opts) : []),
  ];
}

/** @param ruleFiles rule files under test, relative to the test file's directory. */
export function promtoolTests(ruleFiles: readonly string[], runbookBaseUrl: string, target: AlertTarget = "docker", opts: KubernetesRuleOptions = {}): PromtoolTestFile {
  return {
    rule_files: [...ruleFiles],
    evaluation_interval: testEvaluationInterval,
    tests: promtoolCases(runbookBaseUrl, target, opts).map((c) => c.group),
  };
}

export const promtoolTestsYaml = (ruleFiles: readonly string[], runbookBaseUrl: string, target: AlertTarget = "docker", opts: KubernetesRuleOptions = {}): string =>
  stringify(promtoolTests(ruleFiles, runbookBaseUrl, target, opts), { lineWidth: 0 });

function watchdogCases(firing: Firing): PromtoolCase[] {
  const always = firing("Watchdog", {}, { description: "This alert always fires: it is the dead man's switch. Alertmanager routes it to the receiver \"deadmansswitch\", which expects it continuously. If it stops arriving, rule evaluation, Prometheus-to-Alertmanager delivery or Alertmanager's notifications are broken, and no other alert can reach anyone either." });
  return [
    {
      group: {
        name: "Watchdog fires from the first evaluation on, with no input at all",
        interval: "1m",
        input_series: [],
        alert_rule_test: [
          { eval_time: "0m", alertname: "Watchdog", exp_alerts: [always] },
          { eval_time: "30m", alertname: "Watchdog", exp_alerts: [always] },
        ],
      },
    },
  ];
}

function failureRateCases(firing: Firing): PromtoolCase[] {
  const desc = (pct: string) => `${pct} of the tasks that succeeded or failed in the last 5 minutes failed (threshold 5%; skipped and cancelled tasks are not counted).`;
  // Per minute: 51 failed, 949 succeeded (5.1%), and 1000 skipped or cancelled that would halve
  // the rate to 2.55% if they were in the denominator.
  const noise = [series(tasks, { ...inst, status: "skipped" }, "0+600x30"), series(tasks, { ...inst, status: "cancelled" }, "0+400x30")];
  return [
    {
      // rate() has two samples from 1m on: pending then, firing 5m later.
      boundary: { alert: "HighTaskFailureRate", conditionFrom: "1m" },
      group: {
        name: "HighTaskFailureRate fires at 5.1% failed of succeeded+failed (skipped/cancelled ignored) after 5m, not at 4m",
        interval: "1m",
        input_series: [series(tasks, { ...inst, status: "failed" }, "0+51x30"), series(tasks, { ...inst, status: "succeeded" }, "0+949x30"), ...noise],
        alert_rule_test: [
          { eval_time: "5m", alertname: "HighTaskFailureRate", exp_alerts: [] },
          { eval_time: "6m", alertname: "HighTaskFailureRate", exp_alerts: [firing("HighTaskFailureRate", {}, { description: desc("5.1%") })] },
        ],
      },
    },
    {
      group: {
        name: "HighTaskFailureRate silent at 4.9% failed, and when nothing finished",
        interval: "1m",
        input_series: [series(tasks, { ...inst, status: "failed" }, "0+49x30"), series(tasks, { ...inst, status: "succeeded" }, "0+951x30"), ...noise],
        alert_rule_test: [{ eval_time: "20m", alertname: "HighTaskFailureRate", exp_alerts: [] }],
      },
    },
    {
      group: {
        name: "HighTaskFailureRate silent when only skipped and cancelled tasks finish (0/0)",
        interval: "1m",
        input_series: [series(tasks, { ...inst, status: "failed" }, "0x30"), series(tasks, { ...inst, status: "succeeded" }, "0x30"), ...noise],
        alert_rule_test: [{ eval_time: "20m", alertname: "HighTaskFailureRate", exp_alerts: [] }],
      },
    },
  ];
}

function costCases(firing: Firing): PromtoolCase[] {
  return [
    {
      group: {
        name: "CostOverspend fires at $10.80/hour summed over models",
        interval: "1m",
        input_series: [series(cost, { ...inst, model: "openai/gpt-4o" }, "0+0.1x180"), series(cost, { ...inst, model: "anthropic/claude-sonnet" }, "0+0.08x180")],
        alert_rule_test: [{ eval_time: "2h", alertname: "CostOverspend", exp_alerts: [firing("CostOverspend", {}, { description: "LLM calls cost $10.80 over the last hour (threshold $10/hour)." })] }],
      },
    },
    {
      group: {
        name: "CostOverspend silent at $9.90/hour",
        interval: "1m",
        input_series: [series(cost, { ...inst, model: "openai/gpt-4o" }, "0+0.1x180"), series(cost, { ...inst, model: "anthropic/claude-sonnet" }, "0+0.065x180")],
        alert_rule_test: [{ eval_time: "2h", alertname: "CostOverspend", exp_alerts: [] }],
      },
    },
  ];
}

/**
 * One budget's four gauges as every replica exports them (the same cluster values on the API and a
 * worker); `usd`/`tokens` are [remaining, limit] value strings, absent when the budget has no such limit.
 */
function budgetSeries(budget: { scope: string; scope_id: string; period: string }, limits: { usd?: [string, string]; tokens?: [string, string] }) {
  const { budgetRemainingUsd, budgetLimitUsd, budgetRemainingTokens, budgetLimitTokens } = metrics;
  return [api, inst].flatMap((target) => [
    ...(limits.usd ? [series(budgetRemainingUsd.name, { ...target, ...budget }, limits.usd[0]), series(budgetLimitUsd.name, { ...target, ...budget }, limits.usd[1])] : []),
    ...(limits.tokens
      ? [series(budgetRemainingTokens.name, { ...target, ...budget }, limits.tokens[0]), series(budgetLimitTokens.name, { ...target, ...budget }, limits.tokens[1])]
      : []),
  ]);
}

function budgetCases(firing: Firing): PromtoolCase[] {
  const agentDay = { scope: "agent", scope_id: "0b9e4c1e-5a7d-4f7e-9a51-3c2d8f6e1a20", period: "day" };
  const keyMonth = { scope: "api_key", scope_id: "7d41f0a2-2c6b-4e58-8f3d-91a6b0c5e7d4", period: "month" };
  const keyTotal = { scope: "api_key", scope_id: "c3a8e5f1-0d92-4b7a-a6e4-58f2d1b9c037", period: "total" };
  const nearly = (budget: typeof agentDay, limit: "usd" | "tokens", left: string) =>
    firing("BudgetNearlyExhausted", { ...budget, limit }, {
      summary: `The ${budget.period} budget of ${budget.scope} ${budget.scope_id} is at least 80% used`,
      description:
        `The ${budget.period} budget of ${budget.scope} ${budget.scope_id} has ${left} of its ${limit} limit left (threshold 20%; calls in flight count as spent). ` +
        "When nothing is left its LLM calls are refused: tasks fail with budget_exceeded, or wait for the period's reset if their DAG asked to.",
    });
  return [
    {
      // The agent's day budget goes from 50% to 85% used at 3m: pending then, firing at 4m.
      boundary: { alert: "BudgetNearlyExhausted", conditionFrom: "3m" },
      group: {
        name: "BudgetNearlyExhausted fires 1m after a budget is 85% used, once per budget whatever the replicas, not for a budget at 50%",
        interval: "1m",
        input_series: [
          ...budgetSeries(agentDay, { usd: ["5x2 1.5x10", "10x12"] }),
          ...budgetSeries(keyMonth, { usd: ["250x12", "500x12"], tokens: ["1000000x12", "2000000x12"] }),
        ],
        alert_rule_test: [
          { eval_time: "2m", alertname: "BudgetNearlyExhausted", exp_alerts: [] },
          { eval_time: "3m", alertname: "BudgetNearlyExhausted", exp_alerts: [] },
          { eval_time: "4m", alertname: "BudgetNearlyExhausted", exp_alerts: [nearly(agentDay, "usd", "15%")] },
        ],
      },
    },
    {
      group: {
        name: "BudgetNearlyExhausted fires at exactly 80% used",
        interval: "1m",
        input_series: budgetSeries(keyTotal, { usd: ["2x10", "10x10"] }),
        alert_rule_test: [{ eval_time: "5m", alertname: "BudgetNearlyExhausted", exp_alerts: [nearly(keyTotal, "usd", "20%")] }],
      },
    },
    {
      group: {
        name: "BudgetNearlyExhausted silent at 50% and at 79% used",
        interval: "1m",
        input_series: [
          ...budgetSeries(agentDay, { usd: ["5x10", "10x10"], tokens: ["50000x10", "100000x10"] }),
          ...budgetSeries(keyMonth, { usd: ["2.1x10", "10x10"], tokens: ["21000x10", "100000x10"] }),
        ],
        alert_rule_test: [{ eval_time: "5m", alertname: "BudgetNearlyExhausted", exp_alerts: [] }],
      },
    },
    {
      group: {
        name: "BudgetNearlyExhausted silent without a limit: a $0 limit (spending switched off) and a budget with only a token limit",
        interval: "1m",
        input_series: [
          // Spent $0.30 this period before its limit was set to $0.
          ...budgetSeries(agentDay, { usd: ["-0.3x10", "0x10"] }),
          ...budgetSeries(keyMonth, { tokens: ["50000x10", "100000x10"] }),
        ],
        alert_rule_test: [{ eval_time: "5m", alertname: "BudgetNearlyExhausted", exp_alerts: [] }],
      },
    },
    {
      group: {
        name: "BudgetNearlyExhausted fires on the token limit alone",
        interval: "1m",
        input_series: budgetSeries(agentDay, { usd: ["5x10", "10x10"], tokens: ["10000x10", "100000x10"] }),
        alert_rule_test: [{ eval_time: "5m", alertname: "BudgetNearlyExhausted", exp_alerts: [nearly(agentDay, "tokens", "10%")] }],
      },
    },
  ];
}

function noActiveAgentsCases(firing: Firing): PromtoolCase[] {
  const none = firing("NoActiveAgents", {}, {
    description: `Live workers have 0 task slots: no worker process has heartbeated within its lease, so no agent's task will run (this also fires when no runtime replica exports ${active}).`,
  });
  return [
    {
      // Three workers of 8 slots die after 5m: 0 slots from 6m, pending then, firing at 7m.
      boundary: { alert: "NoActiveAgents", conditionFrom: "6m" },
      group: {
        name: "NoActiveAgents fires 1m after the last worker's slots are gone (0 slots), silent before",
        interval: "1m",
        input_series: [
          series(active, api, "24x5 0x20"),
          series(alive, api, "3x5 0x20"),
          series(depth, api, "0x5 3x20"),
        ],
        alert_rule_test: [
          { eval_time: "5m", alertname: "NoActiveAgents", exp_alerts: [] },
          { eval_time: "6m", alertname: "NoActiveAgents", exp_alerts: [] },
          { eval_time: "7m", alertname: "NoActiveAgents", exp_alerts: [none] },
          { eval_time: "25m", alertname: "NoActiveAgents", exp_alerts: [none] },
        ],
      },
    },
    {
      group: {
        name: "NoActiveAgents silent on an idle healthy platform (slots > 0, queue empty, no DAG running)",
        interval: "1m",
        input_series: [
          series(active, api, "24x60"),
          series(active, { instance: "apex-worker:9464", job: "apex-worker" }, "24x60"),
          series(alive, api, "3x60"),
          series(depth, api, "0x60"),
          series(oldestWait, api, "0x60"),
          series(metrics.runningTasks.name, api, "0x60"),
        ],
        alert_rule_test: [
          { eval_time: "5m", alertname: "NoActiveAgents", exp_alerts: [] },
          { eval_time: "1h", alertname: "NoActiveAgents", exp_alerts: [] },
          { eval_time: "1h", alertname: "TaskQueueStalled", exp_alerts: [] },
        ],
      },
    },
    {
      // The only exporter stops after its 5m sample (stale marker at 6m): absent from 6m, firing at 7m.
      boundary: { alert: "NoActiveAgents", conditionFrom: "6m" },
      group: {
        name: "NoActiveAgents fires when no replica exports the gauge",
        interval: "1m",
        input_series: [series(active, api, "24x5 stale")],
        alert_rule_test: [
          { eval_time: "6m", alertname: "NoActiveAgents", exp_alerts: [] },
          { eval_time: "7m", alertname: "NoActiveAgents", exp_alerts: [none] },
        ],
      },
    },
  ];
}

function queueStalledCases(firing: Firing): PromtoolCase[] {
  return [
    {
      // Workers gone at 3m: the oldest task's wait grows 60 s a minute, 360 s (> 300) from 9m.
      boundary: { alert: "TaskQueueStalled", conditionFrom: "9m" },
      group: {
        name: "TaskQueueStalled fires 1m after the oldest ready task has waited more than 5m, not at exactly 5m",
        interval: "1m",
        input_series: [series(oldestWait, api, "0x2 0+60x20"), series(depth, api, "0x2 3x20"), series(active, api, "24x2 0x20")],
        alert_rule_test: [
          { eval_time: "9m", alertname: "TaskQueueStalled", exp_alerts: [] },
          {
            eval_time: "10m",
            alertname: "TaskQueueStalled",
            exp_alerts: [firing("TaskQueueStalled", {}, {
              description: `The oldest ready task has waited 7m 0s to be claimed (threshold 5m): workers are gone, full or not claiming. Check ${alive}, the workers' logs and their claims (task leases) in Postgres.`,
            })],
          },
        ],
      },
    },
    {
      group: {
        name: "TaskQueueStalled silent while the oldest wait stays at 5m (a busy queue that drains)",
        interval: "1m",
        input_series: [series(oldestWait, api, "0+60x5 300x30"), series(depth, api, "40x35")],
        alert_rule_test: [{ eval_time: "30m", alertname: "TaskQueueStalled", exp_alerts: [] }],
      },
    },
  ];
}

function latencyCases(firing: Firing): PromtoolCase[] {
  const buckets = metrics.taskDuration.buckets;
  return [
    {
      // 100 llm tasks a minute, 94% within 30s; rate() has two samples from 1m on.
      boundary: { alert: "HighLatency", conditionFrom: "1m" },
      group: {
        name: "HighLatency fires when only 94% of llm tasks finish within 30s, after 5m",
        interval: "1m",
        input_series: [
          ...histogram(duration, { ...inst, kind: "llm" }, buckets, new Map([[20, 90], [30, 4], [45, 6]]), 30),
          ...histogram(duration, { ...inst, kind: "tool" }, buckets, new Map([[1, 100]]), 30),
        ],
        alert_rule_test: [
          { eval_time: "5m", alertname: "HighLatency", exp_alerts: [] },
          {
            eval_time: "6m",
            alertname: "HighLatency",
            exp_alerts: [firing("HighLatency", { kind: "llm" }, {
              summary: "Apex llm task P95 latency is above 30s",
              description: "The 95th percentile of llm task duration is 32.5s over the last 5 minutes (threshold 30s, judged only when at least 20 tasks of the kind finished).",
            })],
          },
        ],
      },
    },
    {
      group: {
        name: "HighLatency silent when exactly 95% of tasks finish within 30s (P95 = 30s)",
        interval: "1m",
        input_series: histogram(duration, { ...inst, kind: "llm" }, buckets, new Map([[20, 90], [30, 5], [45, 5]]), 30),
        alert_rule_test: [{ eval_time: "20m", alertname: "HighLatency", exp_alerts: [] }],
      },
    },
    {
      // 4 tasks a minute (20 in 5 minutes), 10% of them at 45s: P95 37.5s, judged.
      group: {
        name: "HighLatency fires with exactly 20 tasks in the window",
        interval: "1m",
        input_series: histogram(duration, { ...inst, kind: "tool" }, buckets, new Map([[30, 3.6], [45, 0.4]]), 30),
        alert_rule_test: [{
          eval_time: "20m",
          alertname: "HighLatency",
          exp_alerts: [firing("HighLatency", { kind: "tool" }, {
            summary: "Apex tool task P95 latency is above 30s",
            description: "The 95th percentile of tool task duration is 37.5s over the last 5 minutes (threshold 30s, judged only when at least 20 tasks of the kind finished).",
          })],
        }],
      },
    },
    {
      // The same mix at 3.8 tasks a minute (19 in 5 minutes), and a lone 42 s task: too few to judge.
      group: {
        name: "HighLatency silent below 20 tasks in the window, however slow",
        interval: "1m",
        input_series: [
          ...histogram(duration, { ...inst, kind: "tool" }, buckets, new Map([[30, 3.42], [45, 0.38]]), 30),
          ...histogram(duration, { ...inst, kind: "llm" }, buckets, new Map([[45, 0.2]]), 30),
        ],
        alert_rule_test: [{ eval_time: "20m", alertname: "HighLatency", exp_alerts: [] }],
      },
    },
  ];
}

function breakerCases(firing: Firing): PromtoolCase[] {
  return [
    {
      // openai's breaker opens at 3m: firing at 4m.
      boundary: { alert: "CircuitBreakerOpen", conditionFrom: "3m" },
      group: {
        name: "CircuitBreakerOpen fires when open (2) for 1m, silent when half-open (1)",
        interval: "1m",
        input_series: [
          series(breaker, { ...inst, provider: "openai" }, "0x2 2x10"),
          series(breaker, { ...inst, provider: "anthropic" }, "1x12"),
          series(breaker, { instance: "apex-worker-2:9464", job: "apex-worker", provider: "anthropic" }, "0x12"),
        ],
        alert_rule_test: [
          { eval_time: "3m", alertname: "CircuitBreakerOpen", exp_alerts: [] },
          {
            eval_time: "4m",
            alertname: "CircuitBreakerOpen",
            exp_alerts: [firing("CircuitBreakerOpen", { provider: "openai" }, { summary: "LLM circuit breaker open for openai", description: "Calls to provider openai are being rejected: its circuit breaker has been open for at least 1 minute." })],
          },
        ],
      },
    },
  ];
}

function databaseDownCases(firing: Firing): PromtoolCase[] {
  return [
    {
      boundary: { alert: "DatabaseDown", conditionFrom: "6m" },
      group: {
        name: "DatabaseDown fires when pg_up is 0 for 1m, silent while 1",
        interval: "1m",
        input_series: [series(exporterMetrics.pgUp, exporterTarget, "1x5 0x10")],
        alert_rule_test: [
          { eval_time: "5m", alertname: "DatabaseDown", exp_alerts: [] },
          { eval_time: "6m", alertname: "DatabaseDown", exp_alerts: [] },
          {
            eval_time: "7m",
            alertname: "DatabaseDown",
            exp_alerts: [firing("DatabaseDown", exporterTarget, { description: `postgres_exporter ${exporterTarget.instance} cannot connect to PostgreSQL (pg_up = 0).` })],
          },
        ],
      },
    },
  ];
}

function targetDownCases(firing: Firing, targetDownJobs: readonly string[]): PromtoolCase[] {
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
      // Down from 3m on: pending at 7m (held 4m), firing at 8m (held 5m).
      boundary: { alert: "ApexTargetDown", conditionFrom: "3m" },
      group: {
        name: "ApexTargetDown fires after 5m of up == 0 on every watched job, silent after 4m",
        interval: "1m",
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
    },
  ];
}

function postgresExporterDownCases(firing: Firing): PromtoolCase[] {
  const pgUp = exporterMetrics.pgUp;
  const missing = firing("PostgresExporterDown", { job: postgresExporterJob }, {
    description: `No ${postgresExporterJob} target has reported pg_up for 5 minutes, so nothing watches whether PostgreSQL is up (absent(pg_up) = 1).`,
  });
  return [
    {
      // The exporter dies after its 5m sample: its series are stale from 6m, pending then, firing at 11m.
      boundary: { alert: "PostgresExporterDown", conditionFrom: "6m" },
      group: {
        name: "PostgresExporterDown fires 5m after pg_up goes stale, silent after 4m and while pg_up is 0 or 1",
        interval: "1m",
        input_series: [series(pgUp, exporterTarget, "1x3 0 0 stale")],
        alert_rule_test: [
          { eval_time: "5m", alertname: "PostgresExporterDown", exp_alerts: [] },
          { eval_time: "10m", alertname: "PostgresExporterDown", exp_alerts: [] },
          { eval_time: "11m", alertname: "PostgresExporterDown", exp_alerts: [missing] },
        ],
      },
    },
    {
      group: {
        name: "PostgresExporterDown: pg_up from another job does not stand in for the exporter",
        interval: "1m",
        input_series: [series(pgUp, { instance: "other:9187", job: "other" }, "1x20")],
        alert_rule_test: [{ eval_time: "10m", alertname: "PostgresExporterDown", exp_alerts: [missing] }],
      },
    },
  ];
}
