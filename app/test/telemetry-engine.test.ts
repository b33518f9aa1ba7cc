/**
 * Telemetry of the real engine: a fan-out/fan-in DAG submitted through the service and executed by
 * two workers on Postgres, one task failing once and retried. Spans (in-memory exporter), log lines
 * (the process logger, teed) and metrics must tell one consistent story.
 */
import { SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Worker } from "../src/engine/worker";
import { StoreApexService } from "../src/service/apex-service";
import type { DagView } from "../src/service/types";
import { captureLogLines } from "./telemetry-support/log-capture";
import { renderMetrics } from "../src/telemetry/metrics";
import { startTracing, type Tracing } from "../src/telemetry/tracing";
import { openMigratedDb, type MigratedDb } from "./helpers/db";
import { refusingSandbox, ScriptedGateway, testTools } from "./helpers/engine-doubles";
import { parseExposition, sampleValue } from "./telemetry-support/exposition";

const memory = new InMemorySpanExporter();
const logLines: Record<string, unknown>[] = [];
let tracing: Tracing;
let untee: () => void;
let store: MigratedDb;
const workers: Worker[] = [];

let view: DagView;
let service: StoreApexService;
let tools: ReturnType<typeof testTools>;
let llm: ScriptedGateway;
let spans: ReadableSpan[];
let succeededBefore = 0;

async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  return sampleValue(parseExposition((await renderMetrics()).body), name, labels) ?? 0;
}

beforeAll(async () => {
  tracing = startTracing({ serviceName: "apex-worker", endpoint: null, spanProcessors: [new SimpleSpanProcessor(memory)] });
  untee = captureLogLines(logLines);
  store = await openMigratedDb("postgres");
  tools = testTools({ failuresByKey: new Map([["b", 1]]) });
  llm = new ScriptedGateway();
  service = new StoreApexService({ db: store.db, events: store.events, tools });
  for (const id of ["worker-1", "worker-2"]) {
    workers.push(new Worker({ db: store.db, events: store.events, llm, tools, sandbox: refusingSandbox }, { id, concurrency: 1, leaseMs: 5_000, backoff: { baseMs: 20, maxMs: 50 } }));
  }
  succeededBefore = await metricValue("apex_tasks_total", { status: "succeeded" });
  const agent = await service.createAgent({ name: "traced-agent" });
  const { id } = await service.submitDag(
    {
      agent_id: agent.id,
      name: "fan-out-fan-in",
      tasks: [
        { id: "split", kind: "llm", model: "local/echo", prompt: "split the work" },
        // a and b each hold a worker (concurrency 1) long enough that the other worker takes the other.
        { id: "a", kind: "tool", tool: "sleep", args: { key: "a", ms: 300 }, depends_on: ["split"] },
        { id: "b", kind: "tool", tool: "sleep", args: { key: "b", ms: 300 }, depends_on: ["split"] },
        { id: "join", kind: "llm", model: "local/echo", prompt: "join {{tasks.a.output.key}} {{tasks.b.output.key}}", depends_on: ["a", "b"] },
      ],
    },
    { keyId: "k-admin", role: "admin" },
  );
  await Promise.all(workers.map((w) => w.start()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    view = await service.getDag(id);
    if (["succeeded", "failed", "cancelled"].includes(view.status)) break;
    if (Date.now() > deadline) throw new Error(`DAG still ${view.status}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  await Promise.all(workers.map((w) => w.stop(2_000)));
  await tracing.forceFlush();
  spans = memory.getFinishedSpans().filter((s) => s.spanContext().traceId === view.traceId);
}, 60_000);

afterAll(async () => {
  untee?.();
  await Promise.all(workers.map((w) => w.stop(1_000)));
  await tracing?.shutdown();
  await store?.close();
});

const named = (name: string) => spans.filter((s) => s.name === name);

describe("one DAG, one trace, across two workers and a retry", () => {
  it("succeeds and exposes its trace id", () => {
    expect(view.status).toBe("succeeded");
    expect(view.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(view.tasks.find((t) => t.id === "b")!.attempts).toHaveLength(2);
  });

  it("has the root dag_execution span and one task_execution per attempt under it", () => {
    const [dag, ...more] = named("dag_execution");
    expect(more).toHaveLength(0);
    expect(dag!.parentSpanContext).toBeUndefined();
    expect(dag!.attributes).toMatchObject({ "apex.dag.status": "succeeded", "apex.dag.name": "fan-out-fan-in", dag_id: view.id, agent_id: view.agentId });
    const attempts = named("task_execution");
    expect(attempts.map((s) => `${s.attributes.task_id}#${s.attributes["apex.task.attempt"]}`).sort()).toEqual(["a#1", "b#1", "b#2", "join#1", "split#1"]);
    for (const a of attempts) expect(a.parentSpanContext?.spanId).toBe(dag!.spanContext().spanId);
    // The root ends after the attempt it was ended in (5 ms for wall vs monotonic clock skew).
    const ms = ([sec, ns]: [number, number]) => sec * 1e3 + ns / 1e6;
    for (const s of spans) expect(ms(s.endTime), s.name).toBeLessThanOrEqual(ms(dag!.endTime) + 5);
    expect(new Set(attempts.map((a) => a.attributes["apex.worker.id"]))).toEqual(new Set(["worker-1", "worker-2"]));
  });

  it("marks the failed attempt with error.type and nests llm_call / tool_execution under their attempt", () => {
    const b1 = named("task_execution").find((s) => s.attributes.task_id === "b" && s.attributes["apex.task.attempt"] === 1)!;
    expect(b1.status.code).toBe(SpanStatusCode.ERROR);
    expect(b1.attributes).toMatchObject({ "error.type": "tool_error", "apex.task.outcome": "failed" });
    const byId = new Map(named("task_execution").map((s) => [s.spanContext().spanId, s]));
    const calls = [...named("llm_call"), ...named("tool_execution")];
    expect(named("llm_call")).toHaveLength(2);
    expect(named("tool_execution")).toHaveLength(3);
    for (const c of calls) {
      const parent = byId.get(c.parentSpanContext!.spanId)!;
      expect(parent, c.name).toBeDefined();
      expect(c.attributes.task_id).toBe(parent.attributes.task_id);
    }
    const failedTool = named("tool_execution").find((s) => s.parentSpanContext!.spanId === b1.spanContext().spanId)!;
    expect(failedTool.attributes).toMatchObject({ "gen_ai.tool.name": "sleep", "error.type": "Error" });
    const llm = named("llm_call")[0]!;
    expect(llm.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "local",
      "gen_ai.request.model": "echo",
      "gen_ai.response.model": "echo",
      "gen_ai.response.finish_reasons": ["stop"],
    });
    expect(llm.attributes["gen_ai.usage.input_tokens"]).toBeGreaterThan(0);
  });

  it("carries baggage agent_id / dag_id on every span and task_id below the root", () => {
    for (const s of spans) {
      expect(s.attributes.agent_id, s.name).toBe(view.agentId);
      expect(s.attributes.dag_id, s.name).toBe(view.id);
      if (s.name !== "dag_execution") expect(s.attributes.task_id, s.name).toMatch(/^(split|a|b|join)$/);
    }
  });

  it("logs each attempt with the seed's fields, and its trace and span ids", () => {
    const attemptSpans = new Map(named("task_execution").map((s) => [`${s.attributes.task_id}#${s.attributes["apex.task.attempt"]}`, s]));
    const attemptLogs = logLines.filter((l) => l.dag_id === view.id && typeof l.attempt === "number");
    expect(attemptLogs).toHaveLength(5);
    for (const l of attemptLogs) {
      const span = attemptSpans.get(`${l.task_id}#${l.attempt}`)!;
      expect(span, JSON.stringify(l)).toBeDefined();
      expect(l.trace_id).toBe(view.traceId);
      expect(l.span_id).toBe(span.spanContext().spanId);
      expect(l.agent_id).toBe(view.agentId);
      expect(l.service).toBe("apex-worker");
      expect(typeof l.duration_ms).toBe("number");
      expect(String(l.timestamp)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(["INFO", "WARN"]).toContain(l.level);
    }
    const join = attemptLogs.find((l) => l.task_id === "join")!;
    expect(join).toMatchObject({ message: "Task completed", level: "INFO" });
    expect(join.tokens_used).toBeGreaterThan(0);
    expect(join.cost).toBeGreaterThan(0);
    expect(attemptLogs.find((l) => l.task_id === "b" && l.attempt === 1)!.message).toMatch(/^Task attempt failed: planned failure of b/);
    const dagLog = logLines.find((l) => l.message === "DAG succeeded" && l.dag_id === view.id)!;
    expect(dagLog).toMatchObject({ trace_id: view.traceId, agent_id: view.agentId, level: "INFO" });
  });

  it("counts the four tasks as succeeded and the failed attempt as a tool_error", async () => {
    expect((await metricValue("apex_tasks_total", { status: "succeeded" })) - succeededBefore).toBe(4);
    expect(await metricValue("apex_task_errors_total", { error_type: "tool_error" })).toBe(1);
    expect(await metricValue("apex_task_duration_seconds_count", { kind: "tool" })).toBe(3);
    expect(await metricValue("apex_worker_utilization", {})).toBe(0);
  });
});

describe("an approval wait stays in the DAG's trace", () => {
  it("runs the approved task as a task_execution under the same root span", async () => {
    memory.reset();
    const worker = new Worker({ db: store.db, events: store.events, llm, tools, sandbox: refusingSandbox }, { id: "worker-3", concurrency: 2, leaseMs: 5_000 });
    workers.push(worker);
    await worker.start();
    const agent = await service.createAgent({ name: "approving-agent" });
    const { id } = await service.submitDag(
      {
        agent_id: agent.id,
        name: "needs-approval",
        tasks: [
          { id: "prep", kind: "llm", model: "local/echo", prompt: "prepare" },
          { id: "ship", kind: "tool", tool: "deploy", args: { target: "prod" }, depends_on: ["prep"] },
        ],
      },
      { keyId: "k-admin", role: "admin" },
    );
    const deadline = Date.now() + 20_000;
    let approvalId: string | undefined;
    while (!approvalId) {
      approvalId = (await service.listApprovals({ status: "pending" })).find((a) => a.dagId === id)?.id;
      if (Date.now() > deadline) throw new Error("no approval requested");
      await new Promise((r) => setTimeout(r, 25));
    }
    await service.decideApproval(approvalId, "approve", { keyId: "k-operator", role: "operator" });
    let v = await service.getDag(id);
    while (v.status !== "succeeded") {
      if (Date.now() > deadline) throw new Error(`DAG still ${v.status}`);
      await new Promise((r) => setTimeout(r, 25));
      v = await service.getDag(id);
    }
    await tracing.forceFlush();
    const traced = memory.getFinishedSpans().filter((s) => s.spanContext().traceId === v.traceId);
    const root = traced.find((s) => s.name === "dag_execution")!;
    expect(root).toBeDefined();
    const ship = traced.filter((s) => s.name === "task_execution" && s.attributes.task_id === "ship");
    expect(ship).toHaveLength(1);
    expect(ship[0]!.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(traced.find((s) => s.name === "tool_execution")!.attributes["gen_ai.tool.name"]).toBe("deploy");
    const ms = ([sec, ns]: [number, number]) => sec * 1e3 + ns / 1e6;
    expect(ms(root.endTime)).toBeGreaterThanOrEqual(ms(ship[0]!.endTime) - 5);
  });
});
