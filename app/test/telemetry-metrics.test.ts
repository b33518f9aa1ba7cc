import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { breakerStateValue, metrics as contractMetrics, taskStatusLabels, type MetricDef } from "../src/contract/metrics";
import type { Db } from "../src/store/db";
import { clusterSnapshotQuery } from "../src/telemetry/cluster-gauges";
import { apexMetrics, registerClusterGauges, registry, renderMetrics, unregisterClusterGauges } from "../src/telemetry/metrics";
import {
  initialiseSeries,
  recordBreakerState,
  recordLlmCall,
  recordTaskAttempt,
  recordTaskStatuses,
  recordWorkerSlots,
  taskErrorTypes,
} from "../src/telemetry/record";
import { openMigratedDb, type MigratedDb } from "./helpers/db";
import { parseExposition, sampleValue } from "./telemetry-support/exposition";

describe("the registry is built from the contract", () => {
  it("registers every contract metric with its type, help and labels, and nothing else under apex_", async () => {
    initialiseSeries({ providers: ["openai"] });
    // Worker utilisation appears once the process runs a worker (apex-api never reports it).
    expect(parseExposition((await renderMetrics()).body).has("apex_worker_utilization")).toBe(false);
    recordWorkerSlots(0, 4);
    const families = parseExposition((await renderMetrics()).body);
    for (const def of Object.values(contractMetrics)) {
      const fam = families.get(def.name);
      expect(fam, def.name).toBeDefined();
      expect(fam!.type).toBe(def.type);
      expect(fam!.help).toBe(def.help);
    }
    const apexNames = [...families.keys()].filter((n) => n.startsWith("apex_"));
    expect(apexNames.sort()).toEqual(Object.values(contractMetrics).map((m) => m.name).sort());
    const json = await registry.getMetricsAsJSON();
    for (const def of Object.values(contractMetrics) as MetricDef[]) {
      const m = registry.getSingleMetric(def.name) as unknown as { labelNames: string[]; upperBounds?: number[] };
      expect([...m.labelNames].sort(), def.name).toEqual([...def.labels].sort());
      if (def.buckets) expect(m.upperBounds).toEqual([...def.buckets]);
    }
    expect(json.some((m) => m.name === "process_cpu_user_seconds_total")).toBe(true);
    expect(json.some((m) => m.name === "nodejs_eventloop_lag_seconds")).toBe(true);
  });

  it("starts every status and error type at zero so rate() sees the first event", async () => {
    const families = parseExposition((await renderMetrics()).body);
    for (const status of taskStatusLabels) expect(sampleValue(families, "apex_tasks_total", { status })).toBeGreaterThanOrEqual(0);
    for (const error_type of taskErrorTypes) expect(sampleValue(families, "apex_task_errors_total", { error_type })).toBe(0);
    expect(sampleValue(families, "apex_circuit_breaker_state", { provider: "openai" })).toBe(breakerStateValue.closed);
  });
});

describe("recorders", () => {
  it("count tokens by kind, USD cost by model and agent, and latency only for calls that reached the provider", async () => {
    recordLlmCall(
      { provider: "openai", model: "openai/gpt-4o-mini", outcome: "success", providerCalled: true, latencyMs: 1500, usage: { inputTokens: 1000, outputTokens: 500, cachedTokens: 200 }, costUsd: 0.003 },
      "agent-1",
    );
    recordLlmCall({ provider: "openai", model: "gpt-4o-mini", outcome: "provider_error", providerCalled: true, latencyMs: 250 }, "agent-1");
    recordLlmCall({ provider: "openai", model: "openai/gpt-4o-mini", outcome: "breaker_open", providerCalled: false, latencyMs: 0 }, "agent-1");
    const f = parseExposition((await renderMetrics()).body);
    const model = "openai/gpt-4o-mini";
    expect(sampleValue(f, "apex_tokens_total", { model, kind: "input" })).toBe(1000);
    expect(sampleValue(f, "apex_tokens_total", { model, kind: "output" })).toBe(500);
    expect(sampleValue(f, "apex_tokens_total", { model, kind: "cached" })).toBe(200);
    expect(sampleValue(f, "apex_cost_total", { model })).toBeCloseTo(0.003, 10);
    expect(sampleValue(f, "apex_agent_cost_total", { agent_id: "agent-1" })).toBeCloseTo(0.003, 10);
    expect(sampleValue(f, "apex_llm_latency_seconds_count", { model })).toBe(2);
    expect(sampleValue(f, "apex_llm_latency_seconds_sum", { model })).toBeCloseTo(1.75, 6);
    expect(sampleValue(f, "apex_llm_latency_seconds_bucket", { model, le: "2" })).toBe(2);
    expect(sampleValue(f, "apex_llm_latency_seconds_bucket", { model, le: "1" })).toBe(1);
  });

  it("map breaker states to 0/1/2, tasks to status counts, attempts to durations and error types", async () => {
    recordBreakerState("anthropic", "open");
    recordBreakerState("openai", "half_open");
    recordTaskStatuses("failed", 1);
    recordTaskStatuses("failed", 1);
    recordTaskAttempt({ kind: "tool", durationMs: 700, errorType: "sandbox_error" });
    recordTaskAttempt({ kind: "llm", durationMs: 40_000 });
    recordWorkerSlots(3, 4);
    const f = parseExposition((await renderMetrics()).body);
    expect(sampleValue(f, "apex_circuit_breaker_state", { provider: "anthropic" })).toBe(2);
    expect(sampleValue(f, "apex_circuit_breaker_state", { provider: "openai" })).toBe(1);
    expect(sampleValue(f, "apex_tasks_total", { status: "failed" })).toBe(2);
    expect(sampleValue(f, "apex_task_errors_total", { error_type: "sandbox_error" })).toBe(1);
    expect(sampleValue(f, "apex_task_duration_seconds_count", { kind: "llm" })).toBe(1);
    expect(sampleValue(f, "apex_task_duration_seconds_bucket", { kind: "llm", le: "30" })).toBe(0);
    expect(sampleValue(f, "apex_task_duration_seconds_bucket", { kind: "llm", le: "45" })).toBe(1);
    expect(sampleValue(f, "apex_worker_utilization", {})).toBe(0.75);
  });
});

describe("cluster gauges come from Postgres at scrape time", () => {
  let store: MigratedDb;
  let db: Db;

  beforeAll(async () => {
    store = await openMigratedDb("postgres");
    db = store.db;
  });
  afterAll(async () => {
    unregisterClusterGauges();
    await store?.close();
  });

  async function dag(agent: string, status: string, taskStatuses: string[]): Promise<void> {
    const a = await db.query<{ id: string }>(
      "INSERT INTO agents (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
      [agent],
    );
    const finished = ["succeeded", "failed", "cancelled"].includes(status);
    const d = await db.query<{ id: string }>(
      `INSERT INTO dags (agent_id, name, status, finished_at) VALUES ($1, 'd', $2, ${finished ? "now()" : "NULL"}) RETURNING id`,
      [a.rows[0]!.id, status],
    );
    for (const [i, s] of taskStatuses.entries()) {
      await db.query(
        `INSERT INTO tasks (dag_id, id, kind, spec, status, max_attempts, timeout_ms, lease_owner, lease_expires_at)
         VALUES ($1, $2, 'llm', '{}'::jsonb, $3, 3, 1000, $4, $5)`,
        [d.rows[0]!.id, `t${i}`, s, s === "running" ? "w1" : null, s === "running" ? new Date(Date.now() + 60_000) : null],
      );
    }
  }

  it("reports queue depth, running tasks and (no worker row) no active agents; replicas report the same value", async () => {
    await dag("alpha", "running", ["ready", "ready", "running", "pending"]);
    await dag("alpha", "awaiting_approval", ["awaiting_approval", "ready"]);
    await dag("beta", "running", ["running", "succeeded"]);
    await dag("gamma", "succeeded", ["succeeded"]);
    let errors = 0;
    registerClusterGauges(clusterSnapshotQuery(db), () => errors++);
    const first = parseExposition((await renderMetrics()).body);
    expect(sampleValue(first, "apex_queue_depth", {})).toBe(3);
    expect(sampleValue(first, "apex_running_tasks", {})).toBe(2);
    // Unfinished DAGs are no agent runners: with no worker alive nothing can run their tasks.
    expect(sampleValue(first, "apex_active_agents", {})).toBe(0);
    expect(sampleValue(first, "apex_workers_alive", {})).toBe(0);
    expect(sampleValue(first, "apex_queue_oldest_wait_seconds", {})).toBeGreaterThanOrEqual(0);
    // A second replica reading the same store reports the same numbers: max() over replicas is exact.
    const replica = await clusterSnapshotQuery(db)();
    expect({ ...replica, queueOldestWait: 0 }).toEqual({ queueDepth: 3, queueOldestWait: 0, activeAgents: 0, workersAlive: 0, runningTasks: 2, budgets: [] });
    expect(errors).toBe(0);
  });

  it("keeps /metrics up with the last values when the query fails, and reports the error", async () => {
    // Registering drops the cached snapshot, so this scrape runs the failing query (no need to
    // wait out the 1 s snapshot TTL); seen proves it did.
    const seen: unknown[] = [];
    registerClusterGauges(async () => {
      throw new Error("connection refused");
    }, (err) => seen.push(err));
    const f = parseExposition((await renderMetrics()).body);
    expect(sampleValue(f, "apex_queue_depth", {})).toBe(3);
    expect(seen.length).toBeGreaterThan(0);
    expect(String(seen[0])).toContain("connection refused");
  });

  it("is zero where nothing registered the query", async () => {
    unregisterClusterGauges();
    apexMetrics.queueDepth.reset();
    const f = parseExposition((await renderMetrics()).body);
    expect(sampleValue(f, "apex_queue_depth", {})).toBe(0);
  });
});
