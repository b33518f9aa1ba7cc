/**
 * Telemetry end to end: the real runtime (apex-api + two apex-worker processes on Postgres) calls a
 * fake OpenAI server through the real SDK, exports traces over OTLP/gRPC to a local receiver, and is
 * scraped by the real Prometheus loaded with the generated config and the generated alert rules.
 *
 *   1. /metrics of the API and the workers exposes every metric and label dashboards/ and alerts/ use;
 *   2. one DAG is one trace across the API and worker processes, and its log lines carry its ids;
 *   3. in Prometheus, with the dev stack's rule file: the Watchdog fires; an idle healthy platform
 *      leaves NoActiveAgents and TaskQueueStalled silent; the increase of cost by model and by agent
 *      equals the API's figure to the cent; a budget set 90% spent makes BudgetNearlyExhausted
 *      active with the API's remaining figure; a failing provider makes CircuitBreakerOpen and
 *      HighTaskFailureRate active; every dashboard query returns data; with every worker gone
 *      (one SIGKILLed, one stopped) and tasks queued, NoActiveAgents and TaskQueueStalled fire.
 *
 * Without /usr/bin/prometheus (Debian package `prometheus`) part 3 is skipped outside CI and fails in CI.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import { exporterMetrics, prometheusMetrics, rulesFor, thresholds } from "../../alerts";
import { metrics } from "../../app/src/contract/metrics";
import { ruleFileName, stackRuleFile } from "../../components/observability/render";
import { prometheusConfigYaml } from "../../components/observability/prometheus-config";
import { replicatedScrapeTargets } from "../../components/observability/scrape-jobs";
import { stackObservability } from "../../scripts/stack-config";
import { apexDashboards } from "../../dashboards";
import { httpPaths, services } from "../../app/src/contract/services";
import { createTestDatabase, type TestDatabase } from "../../app/test/helpers/db";
import { startFakeLlmServer, type FakeLlmServer } from "../../app/test/fakes/fake-llm-server";
import { startOtlpReceiver, type OtlpReceiver } from "../../app/test/telemetry-support/otlp-receiver";
import { parseExposition, type MetricFamily } from "../../app/test/telemetry-support/exposition";
import { startRuntimeProcess, type RuntimeProcess } from "./support/runtime-process";
import { dashboardQueries, expandGrafanaMacros, queryNeeds } from "./support/promql";
import { prometheusAvailable, prometheusBinary, startPrometheus, type RunningPrometheus } from "./support/prometheus";
import { waitFor } from "../../app/test/helpers/wait";

const adminKey = `apex_e2e_${randomBytes(24).toString("base64url")}`;
const openaiKey = `sk-e2e-${randomBytes(16).toString("hex")}`;
const model = "openai/gpt-4o-mini";
/**
 * Called only by the cost check, with usage worth $4.50 a call at the price table's $2.50/M input
 * and $10/M output, so that a lost first increment would be off by dollars, not by a rounding.
 */
const pricedModel = "openai/gpt-4o";
const pricedUsage = { input: 1_000_000, output: 200_000 };

let db: TestDatabase;
let fake: FakeLlmServer;
let receiver: OtlpReceiver;
let api: RuntimeProcess;
const workers: RuntimeProcess[] = [];
let apiUrl: string;
let workerMetricsPorts: number[] = [];
let prometheus: RunningPrometheus | undefined;
let workDir: string;

async function call<T>(method: "GET" | "POST" | "PUT", path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

interface DagJson {
  id: string;
  status: string;
  trace_id?: string;
  tasks: { id: string; status: string }[];
  totals?: { cost_usd: number };
}

async function waitForDag(id: string, done: (d: DagJson) => boolean, timeoutMs = 30_000): Promise<DagJson> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await call<DagJson>("GET", `/v1/dags/${id}`);
    if (done(d)) return d;
    if (Date.now() > deadline) throw new Error(`dag ${id}: ${JSON.stringify(d.tasks)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
/** Labels Prometheus adds to every series it scrapes. */
const targetLabels = new Set(["job", "instance"]);

const finished = (d: DagJson) => ["succeeded", "failed", "cancelled"].includes(d.status);

/** A fan-out/fan-in DAG of LLM tasks; one attempt each, so a provider failure fails the task. */
const fanDag = (agentId: string, n: number, taskModel: string = model) => ({
  agent_id: agentId,
  name: `e2e-${n}`,
  tasks: [
    { id: "left", kind: "llm", model: taskModel, prompt: `left ${n}`, max_attempts: 1 },
    { id: "right", kind: "llm", model: taskModel, prompt: `right ${n}`, max_attempts: 1 },
    { id: "join", kind: "llm", model: taskModel, prompt: "join {{tasks.left.output}} {{tasks.right.output}}", depends_on: ["left", "right"], max_attempts: 1 },
  ],
});

async function scrape(url: string): Promise<Map<string, MetricFamily>> {
  const res = await fetch(url);
  expect(res.status, url).toBe(200);
  return parseExposition(await res.text());
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "apex-e2e-"));
  [db, fake, receiver] = await Promise.all([createTestDatabase(), startFakeLlmServer({
    apiKey: openaiKey,
    answerFor: (_api, body) => ((body as { model?: string }).model === pricedModel.split("/")[1] ? { kind: "success", usage: pricedUsage } : undefined),
  }), startOtlpReceiver()]);
  const common = {
    DATABASE_URL: db.url,
    OPENAI_API_KEY: openaiKey,
    OPENAI_BASE_URL: fake.openaiBaseUrl,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    APEX_BOOTSTRAP_ADMIN_KEY: adminKey,
    LOG_LEVEL: "info",
  };
  // The API migrates first; then two workers (their own in-process breakers: no shared Redis keys).
  api = startRuntimeProcess("apex-api", "apex-api", { ...common, APEX_HTTP_PORT: "0", APEX_GRPC_PORT: "0" });
  const listening = await api.waitForLog((l) => l.message === "apex-api listening", 60_000);
  apiUrl = `http://127.0.0.1:${String(listening.http_port)}`;
  for (const i of [1, 2]) {
    // A 10 s lease: a crashed worker stops counting as alive 10 s after its last heartbeat.
    workers.push(startRuntimeProcess(`apex-worker-${i}`, "apex-worker", { ...common, APEX_METRICS_PORT: "0", APEX_WORKER_CONCURRENCY: "2", APEX_LEASE_MS: "10000" }));
  }
  await Promise.all(workers.map((w) => w.waitForLog((l) => l.message === "apex-worker running", 60_000)));
  // The worker binds its metrics port beside running (a previous process may still hold the port).
  const bound = await Promise.all(workers.map((w) => w.waitForLog((l) => l.message === "metrics server listening", 60_000)));
  workerMetricsPorts = bound.map((l) => Number(l.metrics_port));
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await Promise.all([api, ...workers].filter(Boolean).map((p) => p.stop()));
  await Promise.all([fake?.close(), receiver?.close()]);
  await db?.drop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}, 60_000);

/** The agent of the first DAGs, reused by the later ones. */
let firstAgent: string | undefined;
const agentId = (): string => {
  if (!firstAgent) throw new Error("the first test creates the agent");
  return firstAgent;
};

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe("telemetry of the running runtime", () => {
  let tracedDag: DagJson;

  it("runs DAGs through the API and workers against the fake provider", async () => {
    firstAgent = (await call<{ id: string }>("POST", "/v1/agents", { name: `e2e-${randomBytes(4).toString("hex")}` })).id;
    const ids = await Promise.all([1, 2, 3, 4].map(async (n) => (await call<{ id: string }>("POST", "/v1/dags", fanDag(agentId(), n))).id));
    const dags = await Promise.all(ids.map((id) => waitForDag(id, finished)));
    expect(dags.map((d) => d.status)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
    tracedDag = dags[0]!;
    expect(fake.requests.length).toBeGreaterThanOrEqual(12);
  });

  it("exposes every metric and label that dashboards/ and alerts/ query, on /metrics of the API and the workers", async () => {
    // Budget gauges have a series per agent or key budget: give an agent (with no DAG) one, with both limits.
    const budgeted = (await call<{ id: string }>("POST", "/v1/agents", { name: `e2e-budget-${randomBytes(4).toString("hex")}` })).id;
    await call("PUT", `/v1/agents/${budgeted}/budget`, { total: { usd: 100, tokens: 1_000_000 } });
    const urls = [`${apiUrl}${httpPaths.metrics}`, ...workerMetricsPorts.map((p) => `http://127.0.0.1:${p}${httpPaths.metrics}`)];
    // Each process reads the cluster gauges at most once a second: wait until every one shows the budget.
    const scraped = await waitFor("the budget's gauges on every /metrics", async () => {
      const all = await Promise.all(urls.map(scrape));
      const hasBudget = (m: Map<string, MetricFamily>) =>
        [metrics.budgetRemainingUsd, metrics.budgetRemainingTokens].every((g) => m.get(g.name)?.samples.some((x) => x.labels.scope_id === budgeted));
      return all.every(hasBudget) ? all : undefined;
    }, { timeoutMs: 15_000, intervalMs: 200 });
    // Utilisation is per worker process; the API does not add a constant 0 series.
    expect(scraped[0]!.has("apex_worker_utilization")).toBe(false);
    for (const w of scraped.slice(1)) expect(w.has("apex_worker_utilization")).toBe(true);
    const families = new Map<string, MetricFamily>();
    for (const f of scraped.flatMap((m) => [...m.values()])) {
      const known = families.get(f.name);
      families.set(f.name, known ? { ...known, samples: [...known.samples, ...f.samples] } : f);
    }
    const exporterOnly = new Set<string>([...Object.values(exporterMetrics), ...Object.values(prometheusMetrics)]);
    const queries = [
      ...rulesFor("docker").map((r) => ({ where: `alert ${r.alert}`, expr: r.expr, legendLabels: [] as readonly string[] })),
      ...dashboardQueries(apexDashboards()).map((q) => ({ where: `${q.dashboard} / ${q.panel}`, expr: q.expr, legendLabels: q.legendLabels })),
    ];
    expect(queries.length).toBeGreaterThan(10);
    const seriesOf = (metric: string) => {
      const base = metric.replace(/_(bucket|sum|count)$/, "");
      return (families.get(metric) ?? families.get(base))?.samples.filter((s) => s.name === metric) ?? [];
    };
    for (const q of queries) {
      const needs = queryNeeds(q.expr);
      const runtimeMetrics = needs.metrics.filter((m) => !exporterOnly.has(m));
      for (const m of runtimeMetrics) expect(seriesOf(m).length, `${q.where}: ${m} has no series on /metrics`).toBeGreaterThan(0);
      for (const need of needs.labels.filter((n) => !exporterOnly.has(n.metric))) {
        const series = seriesOf(need.metric);
        expect(series.some((s) => need.label in s.labels), `${q.where}: ${need.metric} has no label ${need.label}`).toBe(true);
        if (need.value !== undefined) {
          expect(series.some((s) => s.labels[need.label] === need.value), `${q.where}: no ${need.metric}{${need.label}="${need.value}"}`).toBe(true);
        }
      }
      const labelsOfQuery = new Set(runtimeMetrics.flatMap((m) => seriesOf(m).flatMap((s) => Object.keys(s.labels))));
      for (const label of [...needs.groupingLabels, ...q.legendLabels]) {
        // job and instance are attached by Prometheus to every scraped series, not exposed by /metrics.
        if (runtimeMetrics.length === 0 || targetLabels.has(label)) continue;
        expect(labelsOfQuery.has(label), `${q.where}: aggregates by "${label}", which no queried metric has`).toBe(true);
      }
    }
  });

  it("makes one DAG one trace across the API and the workers, and logs lead to it", async () => {
    const traceId = tracedDag.trace_id!;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    // Each process exports its spans in batches of its own: wait for every span this test checks
    // (a task_execution span ends, and may be exported, after the llm_call below it).
    const named = (spans: readonly { traceId: string; name: string }[], name: string) => spans.filter((s) => s.traceId === traceId && s.name === name).length;
    await receiver.waitFor((spans) => named(spans, "dag_execution") >= 1 && named(spans, "task_execution") >= 3 && named(spans, "llm_call") >= 3, 30_000);
    const spans = receiver.spans.filter((s) => s.traceId === traceId);
    const root = spans.filter((s) => s.name === "dag_execution");
    expect(root).toHaveLength(1);
    expect(root[0]!.parentSpanId).toBe("");
    const attempts = spans.filter((s) => s.name === "task_execution");
    expect(attempts.map((s) => s.attributes.task_id).sort()).toEqual(["join", "left", "right"]);
    for (const a of attempts) {
      expect(a.parentSpanId).toBe(root[0]!.spanId);
      expect(a.service).toBe("apex-worker");
      expect(a.attributes.dag_id).toBe(tracedDag.id);
      expect(a.attributes.agent_id).toBe(agentId());
    }
    const calls = spans.filter((s) => s.name === "llm_call");
    for (const c of calls) {
      expect(attempts.map((a) => a.spanId)).toContain(c.parentSpanId);
      expect(c.attributes).toMatchObject({ "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini" });
      expect(c.attributes["gen_ai.usage.input_tokens"]).toBeGreaterThan(0);
    }
    // The worker processes' log lines for this DAG carry its trace id and the attempt span ids. A
    // worker logs a task after recording it, so a line may still be on its way when the DAG is done.
    const completed = () => workers.flatMap((w) => w.logs).filter((l) => l.dag_id === tracedDag.id && l.message === "Task completed");
    await expect.poll(() => completed().length, { timeout: 15_000 }).toBeGreaterThanOrEqual(3);
    const lines = completed();
    expect(lines).toHaveLength(3);
    for (const l of lines) {
      expect(l.trace_id).toBe(traceId);
      expect(attempts.find((a) => a.attributes.task_id === l.task_id)!.spanId).toBe(l.span_id);
      expect(l).toMatchObject({ level: "INFO", agent_id: agentId(), service: "apex-worker" });
      expect(l.tokens_used).toBeGreaterThan(0);
      expect(l.cost).toBeGreaterThan(0);
      expect(typeof l.duration_ms).toBe("number");
    }
    // No process ever logged a secret it was given.
    const allLogs = JSON.stringify([api, ...workers].flatMap((p) => p.logs));
    expect(allLogs).not.toContain(adminKey);
    expect(allLogs).not.toContain(openaiKey);
  });
});

/**
 * The stack's own rule file in a real Prometheus scraping the running runtime: the dead man's
 * switch fires, an idle healthy platform pages nobody, every dollar is counted, the breaker and
 * failure-rate alerts fire, every dashboard query returns data, and losing every worker pages.
 */
describe.skipIf(!prometheusAvailable() && !process.env.CI)(`alerts and dashboards in a real Prometheus (${prometheusBinary})`, () => {
  const dockerRules = rulesFor("docker");
  const alertState = async (name: string) => (await prometheus!.alerts()).find((a) => a.labels.alertname === name);
  const poll = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 45_000) => waitFor(what, fn, { timeoutMs, intervalMs: 500 });
  const reaches = (states: readonly string[]) => (name: string, timeoutMs = 45_000) =>
    poll(`${name} ${states.join(" or ")}`, async () => {
      const a = await alertState(name);
      return a && states.includes(a.state) ? a : undefined;
    }, timeoutMs);
  const firing = reaches(["firing"]);
  const active = reaches(["pending", "firing"]);

  beforeAll(async () => {
    expect(prometheusAvailable(), `${prometheusBinary} is missing: apt-get install prometheus`).toBe(true);
    // The dev stack's rule file unchanged; the config from the generator with local static targets
    // and short intervals.
    const { settings } = stackObservability({ stack: "dev" });
    mkdirSync(join(workDir, "rules"));
    writeFileSync(join(workDir, "rules", ruleFileName), stackRuleFile(settings, "docker"));
    const local = (port: number) => `127.0.0.1:${port}`;
    const apiPort = Number(new URL(apiUrl).port);
    const targets: Record<string, string[]> = {
      [services.api.name]: [local(apiPort)],
      [services.worker.name]: workerMetricsPorts.map(local),
    };
    writeFileSync(
      join(workDir, "prometheus.yml"),
      prometheusConfigYaml({
        scrapeInterval: "1s",
        evaluationInterval: "1s",
        jobs: replicatedScrapeTargets.map((t) => ({
          name: t.name,
          metricsPath: httpPaths.metrics,
          discovery: { kind: "static" as const, targets: targets[t.name]! },
        })),
        ruleFiles: [join(workDir, "rules", "*.yml")],
        alertmanagers: [],
      }),
    );
    prometheus = await startPrometheus(join(workDir, "prometheus.yml"), workDir);
    expect((await prometheus.ruleNames()).sort()).toEqual(dockerRules.map((r) => r.alert).sort());
    await poll("the API and both workers scraped up", async () => {
      const t = await prometheus!.targets();
      return t.length === 3 && t.every((x) => x.health === "up") ? true : undefined;
    });
  }, 60_000);

  it("fires the Watchdog and pages nobody on an idle healthy platform", async () => {
    expect((await firing("Watchdog")).labels).toMatchObject({ severity: "none" });
    // Idle: every DAG of the first part has finished, both workers are alive.
    const open = await call<{ dags: DagJson[] }>("GET", "/v1/dags?limit=100");
    expect(open.dags.filter((d) => !finished(d))).toEqual([]);
    // Prometheus reports a live gauge before the idle window starts (at its own start the gauge is
    // absent for an evaluation or two, which NoActiveAgents rightly treats as "nothing can run").
    await poll("a scraped active-agents gauge", async () => {
      const [n] = await prometheus!.vector(`count_over_time(max(${metrics.activeAgents.name})[5s:1s])`);
      return n && n.value >= 5 ? true : undefined;
    });
    // Then 15 evaluations (1 s apart) of an idle platform, none of which may make the alerts pending.
    const windowStart = Date.now() / 1000;
    const windowSeconds = 15;
    await poll("the idle window to pass", async () => (Date.now() / 1000 > windowStart + windowSeconds + 1 ? true : undefined));
    const windowEnd = windowStart + windowSeconds;
    expect((await prometheus!.vector(`max(${metrics.workersAlive.name})`, windowEnd))[0]?.value).toBe(2);
    expect((await prometheus!.vector(`min_over_time(max(${metrics.activeAgents.name})[${windowSeconds}s:1s])`, windowEnd))[0]?.value).toBeGreaterThan(0);
    for (const name of ["NoActiveAgents", "TaskQueueStalled"]) {
      expect(await prometheus!.vector(`count_over_time(ALERTS{alertname="${name}"}[${windowSeconds}s])`, windowEnd), name).toEqual([]);
    }
  }, 90_000);

  /** The agent of the cost check: it has spent exactly $27 when that test ends. */
  let costAgent: string | undefined;

  it("counts every dollar: the increase of cost by model and by agent equals the API's figure to the cent", async () => {
    // A fresh agent and a model nobody has called: their series start at 0 on every worker.
    const agent = (await call<{ id: string }>("POST", "/v1/agents", { name: `e2e-cost-${randomBytes(4).toString("hex")}` })).id;
    costAgent = agent;
    const byModel = `${metrics.costTotal.name}{model="${pricedModel}", job="${services.worker.name}"}`;
    const byAgent = `${metrics.agentCostTotal.name}{agent_id="${agent}", job="${services.worker.name}"}`;
    for (const selector of [byModel, byAgent]) {
      await poll(`${selector} at 0 in Prometheus on both workers`, async () => {
        const v = await prometheus!.vector(selector);
        return v.length === 2 && v.every((s) => s.value === 0) ? true : undefined;
      });
    }
    const ids = await Promise.all([1, 2].map(async (n) => (await call<{ id: string }>("POST", "/v1/dags", fanDag(agent, n, pricedModel))).id));
    const dags = await Promise.all(ids.map((id) => waitForDag(id, finished)));
    expect(dags.map((d) => d.status)).toEqual(["succeeded", "succeeded"]);
    const apiTotal = dags.reduce((sum, d) => sum + d.totals!.cost_usd, 0);
    // Six calls of $4.50: a lost first increment (the bug this guards) would be off by dollars.
    expect(apiTotal).toBeCloseTo(27, 6);
    await poll("the last calls scraped", async () => {
      const [s] = await prometheus!.vector(`sum(${byModel})`);
      return s && Math.abs(s.value - apiTotal) < 1e-6 ? true : undefined;
    });
    // increase() per series, evaluated at that series' last scrape so nothing is extrapolated past
    // it; the first sample is 0, so nothing is extrapolated before it either.
    const increaseOf = async (selector: string) => {
      let total = 0;
      for (const s of await prometheus!.vector(`timestamp(${selector})`)) {
        const one = `${selector.slice(0, -1)}, instance="${s.labels.instance}"}`;
        const [inc] = await prometheus!.vector(`increase(${one}[15m])`, s.value);
        total += inc?.value ?? 0;
      }
      return total;
    };
    const [modelIncrease, agentIncrease] = [await increaseOf(byModel), await increaseOf(byAgent)];
    expect(modelIncrease).toBeCloseTo(apiTotal, 2);
    expect(agentIncrease).toBeCloseTo(apiTotal, 2);
    // And the alert sees it at once: $27 in an hour is over the $10 threshold.
    expect(Number((await active("CostOverspend")).value)).toBeGreaterThan(thresholds.costPerHourUsd);
  }, 120_000);

  it("makes BudgetNearlyExhausted active for a budget 90% spent, with its labels and the API's remaining figure", async () => {
    if (!costAgent) throw new Error("the cost check runs first and leaves its agent $27 spent");
    // A $30 total budget set after the fact counts the $27 already spent: $3 (10%) left.
    await call("PUT", `/v1/agents/${costAgent}/budget`, { total: { usd: 30 } });
    const { budgets } = await call<{ budgets: { period: string; remaining_usd: number | null }[] }>("GET", `/v1/agents/${costAgent}/budget`);
    expect(budgets.map((b) => [b.period, b.remaining_usd])).toEqual([["total", expect.closeTo(3, 6)]]);
    const alert = await poll("BudgetNearlyExhausted for the cost agent", async () => {
      const a = (await prometheus!.alerts()).find((x) => x.labels.alertname === "BudgetNearlyExhausted" && x.labels.scope_id === costAgent);
      return a && ["pending", "firing"].includes(a.state) ? a : undefined;
    });
    expect(alert.labels).toMatchObject({ severity: "warning", scope: "agent", scope_id: costAgent, period: "total", limit: "usd" });
    expect(Number(alert.value)).toBeCloseTo(3 / 30, 6);
    // The other budget (no spend) stays silent.
    const others = (await prometheus!.alerts()).filter((x) => x.labels.alertname === "BudgetNearlyExhausted" && x.labels.scope_id !== costAgent);
    expect(others).toEqual([]);
    // What the dashboard reads for the agent: the API's remaining dollars, once over the replicas.
    const [remaining] = await prometheus!.vector(`max by (scope, scope_id, period) (${metrics.budgetRemainingUsd.name}{scope_id="${costAgent}"})`);
    expect(remaining?.value).toBeCloseTo(3, 6);
  }, 60_000);

  it("fires CircuitBreakerOpen and HighTaskFailureRate when the provider fails", async () => {
    const healthy = await Promise.all([5, 6].map(async (n) => (await call<{ id: string }>("POST", "/v1/dags", fanDag(agentId(), n))).id));
    await Promise.all(healthy.map((id) => waitForDag(id, finished)));
    fake.failNow({ kind: "error", status: 503, message: "upstream overloaded" });
    const failing = await Promise.all([7, 8, 9, 10, 11, 12].map(async (n) => (await call<{ id: string }>("POST", "/v1/dags", fanDag(agentId(), n))).id));
    const [breaker, failure] = await Promise.all([active("CircuitBreakerOpen"), active("HighTaskFailureRate")]);
    expect(breaker.labels).toMatchObject({ provider: "openai", severity: "critical" });
    expect(failure.labels).toMatchObject({ severity: "warning" });
    expect(Number(failure.value)).toBeGreaterThan(thresholds.taskFailureRatio);
    const stillOpen = await Promise.all(failing.map((id) => call<DagJson>("GET", `/v1/dags/${id}`)));
    expect(stillOpen.some((d) => d.tasks.some((t) => t.status === "failed"))).toBe(true);
    fake.recover();
  }, 90_000);

  it("returns data for every dashboard query", async () => {
    for (const q of dashboardQueries(apexDashboards())) {
      const expr = expandGrafanaMacros(q.expr);
      const r = await poll(`data for ${q.dashboard} / ${q.panel}`, async () => {
        const res = await prometheus!.query(expr);
        return res.result.length > 0 ? res : undefined;
      }, 15_000);
      expect(r.result.length, `${q.dashboard} / ${q.panel}: ${expr}`).toBeGreaterThan(0);
    }
  }, 60_000);

  it("fires NoActiveAgents and TaskQueueStalled once every worker is gone", async () => {
    // One worker crashes (its heartbeat goes stale after the lease), the other shuts down cleanly.
    await workers[0]!.kill();
    await workers[1]!.stop();
    const queued = (await call<{ id: string }>("POST", "/v1/dags", fanDag(agentId(), 13))).id;
    // Ten minutes of waiting, without waiting ten minutes: the ready tasks are made older in the store.
    const backdated = await withClient(db.url, (c) =>
      c.query(`UPDATE tasks SET next_run_at = now() - interval '10 minutes', updated_at = now() - interval '10 minutes' WHERE dag_id = $1 AND status = 'ready'`, [queued]),
    );
    expect(backdated.rowCount).toBe(2);
    await poll("no live worker in Prometheus", async () => ((await prometheus!.vector(`max(${metrics.workersAlive.name})`))[0]?.value === 0 ? true : undefined), 60_000);
    const [noAgents, stalled] = await Promise.all([firing("NoActiveAgents", 120_000), firing("TaskQueueStalled", 120_000)]);
    expect(noAgents.labels).toMatchObject({ severity: "critical" });
    expect(stalled.labels).toMatchObject({ severity: "critical" });
    expect(Number(stalled.value)).toBeGreaterThanOrEqual(600);
  }, 180_000);
});
