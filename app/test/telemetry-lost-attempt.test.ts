/**
 * A worker that dies mid-attempt never ends its task_execution span. The attempt row stores that
 * span's ids, so the worker that reclaims the expired lease ends the very same span (error.type
 * lease_expired, under the DAG root, with the task's baggage), counts the attempt, and logs it;
 * spans the dead worker had already exported below it keep their parent. Real engine on Postgres.
 */
import { SpanKind, SpanStatusCode, context, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { engineContext } from "../src/engine/context";
import { claimTasks, reclaimExpiredLeases } from "../src/engine/lifecycle";
import { Worker } from "../src/engine/worker";
import { StoreApexService } from "../src/service/apex-service";
import type { DagView } from "../src/service/types";
import { captureLogLines } from "./telemetry-support/log-capture";
import { renderMetrics } from "../src/telemetry/metrics";
import { planAttemptSpan } from "../src/telemetry/attempt-spans";
import { spanNames, withStoredContext } from "../src/telemetry/spans";
import { startTracing, type Tracing } from "../src/telemetry/tracing";
import { openMigratedDb, type MigratedDb } from "./helpers/db";
import { refusingSandbox, ScriptedGateway, testTools } from "./helpers/engine-doubles";
import { parseExposition, sampleValue } from "./telemetry-support/exposition";

const memory = new InMemorySpanExporter();
const logLines: Record<string, unknown>[] = [];
let tracing: Tracing;
let untee: () => void;
let store: MigratedDb;
let worker: Worker | undefined;

let view: DagView;
let lostSpanId: string | undefined;
let lostErrorsBefore = 0;
let lostErrorsAfter = 0;
/** How long the lost attempt held its lease: the least it can have lasted when reclaimed. */
let leaseHeldMs = 0;
let spans: ReadableSpan[] = [];

const lostErrors = async () =>
  sampleValue(parseExposition((await renderMetrics()).body), "apex_task_errors_total", { error_type: "lease_expired" }) ?? 0;

beforeAll(async () => {
  tracing = startTracing({ serviceName: "apex-worker", endpoint: null, spanProcessors: [new SimpleSpanProcessor(memory)] });
  untee = captureLogLines(logLines);
  store = await openMigratedDb("postgres");
  const tools = testTools();
  const service = new StoreApexService({ db: store.db, events: store.events, tools });
  const agent = await service.createAgent({ name: "lost-attempt-agent" });
  const { id } = await service.submitDag(
    { agent_id: agent.id, name: "survives-a-crash", tasks: [{ id: "only", kind: "tool", tool: "sleep", args: { key: "only", ms: 10 } }] },
    { keyId: "k-admin", role: "admin" },
  );

  // The "dead" worker: claims with a short lease, which starts the attempt as the real worker does
  // (span id planned and stored), exports one child span, and then never comes back.
  const ctx = engineContext(store.db, store.events);
  const [claimed] = await claimTasks(ctx, "dead-worker", { limit: 1, leaseMs: 2_000 });
  expect(claimed?.attempt).toBe(1);
  const plan = planAttemptSpan(claimed!.traceContext, claimed!.spanId);
  lostSpanId = plan.spanId;
  const held = await store.db.query<{ ms: number }>(
    `SELECT (extract(epoch FROM t.lease_expires_at - a.started_at) * 1000)::float8 AS ms
       FROM tasks t JOIN attempts a ON a.dag_id = t.dag_id AND a.task_id = t.id
      WHERE t.dag_id = $1 AND t.id = 'only' AND a.number = 1`,
    [id],
  );
  leaseHeldMs = held.rows[0]!.ms;
  withStoredContext(plan.carrier, () => {
    const child = trace.getTracer("test").startSpan(spanNames.tool, { kind: SpanKind.INTERNAL }, context.active());
    child.end();
  });

  lostErrorsBefore = await lostErrors();
  // Time is the condition: reclaim as soon as the lease has run out.
  await vi.waitFor(async () => expect(await reclaimExpiredLeases(ctx)).toBe(1), { interval: 25, timeout: 10_000 });
  lostErrorsAfter = await lostErrors();

  // A live worker finishes the DAG.
  worker = new Worker({ db: store.db, events: store.events, llm: new ScriptedGateway(), tools, sandbox: refusingSandbox }, { id: "live-worker", leaseMs: 5_000 });
  await worker.start();
  const deadline = Date.now() + 15_000;
  for (;;) {
    view = await service.getDag(id);
    if (["succeeded", "failed", "cancelled"].includes(view.status)) break;
    if (Date.now() > deadline) throw new Error(`DAG still ${view.status}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  await worker.stop(1_000);
  await tracing.forceFlush();
  spans = memory.getFinishedSpans().filter((s) => s.spanContext().traceId === view.traceId);
}, 60_000);

afterAll(async () => {
  untee?.();
  await worker?.stop(500);
  await tracing?.shutdown();
  await store?.close();
});

describe("an attempt lost with its worker", () => {
  it("is reclaimed and retried, and the DAG completes", () => {
    expect(view.status).toBe("succeeded");
    expect(view.tasks[0]!.attempts.map((a) => [a.number, a.status, a.workerId])).toEqual([
      [1, "failed", "dead-worker"],
      [2, "succeeded", "live-worker"],
    ]);
  });

  it("keeps its task_execution span: same span id, under the DAG root, failed with error.type lease_expired", () => {
    expect(lostSpanId).toMatch(/^[0-9a-f]{16}$/);
    const root = spans.find((s) => s.name === spanNames.dag)!;
    expect(root).toBeDefined();
    const lost = spans.filter((s) => s.spanContext().spanId === lostSpanId);
    const lostAttempt = lost.find((s) => s.name === spanNames.task)!;
    expect(lost.filter((s) => s.name === spanNames.task)).toHaveLength(1);
    expect(lostAttempt.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(lostAttempt.status.code).toBe(SpanStatusCode.ERROR);
    expect(lostAttempt.attributes).toMatchObject({
      "error.type": "lease_expired",
      "apex.task.attempt": 1,
      "apex.worker.id": "dead-worker",
      "apex.task.outcome": "failed",
      dag_id: view.id,
      task_id: "only",
      agent_id: view.agentId,
    });
    // The child the dead worker exported points at it.
    const child = spans.find((s) => s.name === spanNames.tool && s.parentSpanContext?.spanId === lostSpanId);
    expect(child).toBeDefined();
    // The retry is a separate attempt span under the same root.
    const retry = spans.find((s) => s.name === spanNames.task && s.attributes["apex.task.attempt"] === 2)!;
    expect(retry.spanContext().spanId).not.toBe(lostSpanId);
    expect(retry.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
  });

  it("is counted as a lease_expired error and logged with the lost span's ids", () => {
    expect(lostErrorsAfter - lostErrorsBefore).toBe(1);
    const line = logLines.find((l) => typeof l.message === "string" && l.message.startsWith("Task attempt lost"))!;
    expect(line).toMatchObject({ level: "WARN", trace_id: view.traceId, span_id: lostSpanId, task_id: "only", dag_id: view.id, attempt: 1, worker_id: "dead-worker" });
    // From the attempt's start to its reclaim, so at least until its lease ran out.
    expect(leaseHeldMs).toBeGreaterThan(1_000);
    expect(line.duration_ms).toBeGreaterThanOrEqual(Math.floor(leaseHeldMs));
  });
});
