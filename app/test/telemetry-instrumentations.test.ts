/**
 * Spans from the library instrumentations nest under Apex's own: a DAG run by a real worker on
 * Postgres has `pg` spans under its task_execution spans (a slow query shows up, with its SQL), a
 * Redis command made in a task is an `ioredis` span under it, and the noise stays out: the
 * worker's claim/LISTEN loop, queries outside any span, metrics scrapes (with their cluster-gauge
 * query), health probes and the OTLP exporter's own requests make no spans at all.
 */
import "./telemetry-support/instrumented";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from "node:net";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMetricsServer, type MetricsServer } from "../src/bin/metrics-server";
import { Worker } from "../src/engine/worker";
import { StoreApexService } from "../src/service/apex-service";
import { withTaskAttemptSpan } from "../src/telemetry/attempt-spans";
import { createOtlpTraceExporter } from "../src/telemetry/otlp-exporter";
import { clusterSnapshotQuery } from "../src/telemetry/cluster-gauges";
import { registerClusterGauges, unregisterClusterGauges } from "../src/telemetry/metrics";
import { beginDagTrace, endDagTrace, spanNames, taskTraceCarrier } from "../src/telemetry/spans";
import { startTracing, type Tracing } from "../src/telemetry/tracing";
import { openMigratedDb, type MigratedDb } from "./helpers/db";
import { refusingSandbox, ScriptedGateway, testTools } from "./helpers/engine-doubles";

const memory = new InMemorySpanExporter();
let tracing: Tracing;
let store: MigratedDb;
let worker: Worker;
let redis: Redis;
let metrics: MetricsServer;
let dagTraceId: string;
let collector: TcpServer;
let exported = 0;
const pgScope = "@opentelemetry/instrumentation-pg";
const redisScope = "@opentelemetry/instrumentation-ioredis";

/**
 * A collector that answers every OTLP/HTTP request 200 over a raw socket (node:net, which the HTTP
 * instrumentation does not see), so only the exporter's own client side could make spans.
 */
async function startRawCollector(): Promise<string> {
  collector = createTcpServer((socket) => {
    socket.once("data", () => {
      exported += 1;
      socket.end("HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    });
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  const exporter = createOtlpTraceExporter("http/protobuf", await startRawCollector());
  tracing = startTracing({ serviceName: "apex-worker", endpoint: null, spanProcessors: [new SimpleSpanProcessor(memory), new SimpleSpanProcessor(exporter)] });
  store = await openMigratedDb("postgres");
  redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const tools = testTools();
  const service = new StoreApexService({ db: store.db, events: store.events, tools });
  worker = new Worker(
    { db: store.db, events: store.events, llm: new ScriptedGateway(), tools, sandbox: refusingSandbox },
    { id: "worker-otel", concurrency: 1, leaseMs: 5_000 },
  );
  const agent = await service.createAgent({ name: "instrumented-agent" });
  const { id } = await service.submitDag(
    {
      agent_id: agent.id,
      name: "instrumented",
      tasks: [
        { id: "think", kind: "llm", model: "local/echo", prompt: "hello" },
        { id: "rest", kind: "tool", tool: "sleep", args: { key: "rest", ms: 50 }, depends_on: ["think"] },
      ],
    },
    { keyId: "k-admin", role: "admin" },
  );
  await worker.start();
  const deadline = Date.now() + 20_000;
  for (;;) {
    const view = await service.getDag(id);
    if (["succeeded", "failed", "cancelled"].includes(view.status)) {
      expect(view.status).toBe("succeeded");
      dagTraceId = view.traceId!;
      break;
    }
    if (Date.now() > deadline) throw new Error(`DAG still ${view.status}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  await worker.stop(2_000);
}, 60_000);

afterAll(async () => {
  await worker?.stop(1_000);
  unregisterClusterGauges();
  await metrics?.close();
  redis?.disconnect();
  await tracing?.shutdown();
  await store?.close();
  collector?.close();
});

const byId = () => new Map(memory.getFinishedSpans().map((s) => [s.spanContext().spanId, s]));

/** The names of `span`'s ancestors among the finished spans, nearest first. */
function ancestors(span: ReadableSpan, spans: Map<string, ReadableSpan>): string[] {
  const names: string[] = [];
  for (let parent = span.parentSpanContext?.spanId; parent; ) {
    const p = spans.get(parent);
    if (!p) break;
    names.push(p.name);
    parent = p.parentSpanContext?.spanId;
  }
  return names;
}

const fromScope = (scope: string) => memory.getFinishedSpans().filter((s) => s.instrumentationScope.name === scope);

describe("pg spans", () => {
  it("sit under the task_execution of the real task that made them, with the task's baggage", async () => {
    await tracing.forceFlush();
    const spans = byId();
    const inDag = fromScope(pgScope).filter((s) => s.spanContext().traceId === dagTraceId);
    expect(inDag.length).toBeGreaterThan(0);
    const underTask = inDag.filter((s) => ancestors(s, spans).includes(spanNames.task));
    expect(underTask.length).toBeGreaterThan(0);
    for (const s of underTask) expect(typeof s.attributes.task_id).toBe("string");
    expect(new Set(underTask.map((s) => s.attributes.task_id))).toEqual(new Set(["think", "rest"]));
  });

  it("show a slow query inside a task, with its SQL and duration", async () => {
    const dagId = "5b0d8f1e-2c3a-4e5f-9a7b-1c2d3e4f5a6b";
    const dag = beginDagTrace({ dagId, agentId: "a-1" });
    await withTaskAttemptSpan(taskTraceCarrier(dag.carrier, "slow"), { dagId, taskId: "slow", kind: "tool", attempt: 1, workerId: "w-1" }, () =>
      store.db.query("SELECT pg_sleep(0.2) AS slept"),
    );
    endDagTrace(dag.carrier, { status: "succeeded", startTime: new Date() });
    await tracing.forceFlush();
    const spans = byId();
    const slow = fromScope(pgScope).find((s) => s.spanContext().traceId === dag.traceId && String(s.attributes["db.query.text"] ?? s.attributes["db.statement"]).includes("pg_sleep"))!;
    expect(slow).toBeDefined();
    expect(ancestors(slow, spans).slice(-2)).toEqual([spanNames.task, spanNames.dag]);
    const [seconds, nanos] = slow.duration;
    expect(seconds * 1e3 + nanos / 1e6).toBeGreaterThanOrEqual(195);
    expect(slow.attributes).toMatchObject({ task_id: "slow", dag_id: dagId });
  });
});

describe("ioredis spans", () => {
  it("sit under the task that sent the command; a command outside any span makes none", async () => {
    memory.reset();
    await redis.set("apex-otel-outside", "1");
    const dagId = "8e7d6c5b-4a39-4281-9f0e-d1c2b3a49586";
    const dag = beginDagTrace({ dagId, agentId: "a-1" });
    await withTaskAttemptSpan(taskTraceCarrier(dag.carrier, "r"), { dagId, taskId: "r", kind: "tool", attempt: 1, workerId: "w-1" }, () =>
      redis.get("apex-otel-outside"),
    );
    await tracing.forceFlush();
    const spans = byId();
    const commands = fromScope(redisScope);
    expect(commands.map((s) => s.name)).toEqual(["get"]);
    expect(ancestors(commands[0]!, spans)).toEqual([spanNames.task]);
    expect(commands[0]!.attributes.task_id).toBe("r");
  });
});

describe("noise", () => {
  it("no span from the claim loop, queries outside spans, metrics scrapes or health probes", async () => {
    memory.reset();
    registerClusterGauges(clusterSnapshotQuery(store.db));
    metrics = await startMetricsServer(0, () => true, "127.0.0.1", { bindRetryMs: 0 });
    // The worker polls (claims, LISTEN) while it runs: nothing from that either.
    await worker.start();
    for (const path of ["/metrics", "/healthz", "/metrics"]) {
      const res = await fetch(`http://127.0.0.1:${metrics.port}${path}`);
      expect(res.status, path).toBe(200);
      await res.text();
    }
    await store.db.query("SELECT 1");
    await worker.stop(2_000);
    // Something traced after all that, so the check below waits for the exporter to have seen it.
    const marker = beginDagTrace({ dagId: "marker", agentId: "a-1" });
    endDagTrace(marker.carrier, { status: "succeeded", startTime: new Date() });
    await tracing.forceFlush();
    expect(memory.getFinishedSpans().map((s) => s.name)).toEqual([spanNames.dag]);
    // Every span went out over OTLP/HTTP (node:http, instrumented) without a span of its own.
    expect(exported).toBeGreaterThan(0);
  });
});
