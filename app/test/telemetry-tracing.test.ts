import { SpanKind, SpanStatusCode, context, propagation, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LlmError, type LlmResult } from "../src/llm/types";
import {
  beginDagTrace,
  endDagTrace,
  taskTraceCarrier,
  traceIdOf,
  withLlmCallSpan,
  withToolSpan,
} from "../src/telemetry/spans";
import { withTaskAttemptSpan } from "../src/telemetry/attempt-spans";
import { otlpHttpTracesUrl, resolveOtlpProtocol } from "../src/telemetry/otlp-exporter";
import { startTracing, type Tracing } from "../src/telemetry/tracing";
import { startOtlpReceiver, type OtlpReceiver } from "./telemetry-support/otlp-receiver";

const memory = new InMemorySpanExporter();
let receiver: OtlpReceiver;
let tracing: Tracing;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  tracing = startTracing({ serviceName: "apex-worker", endpoint: receiver.endpoint, spanProcessors: [new SimpleSpanProcessor(memory)] });
});
afterAll(async () => {
  await tracing?.shutdown();
  await receiver?.close();
});

const okResult = (over: Partial<LlmResult> = {}): LlmResult => ({
  provider: "openai",
  requestModel: "openai/gpt-4o-mini",
  responseModel: "gpt-4o-mini-2024-07-18",
  text: "ok",
  finishReasons: ["stop"],
  usage: { inputTokens: 120, outputTokens: 30, cachedTokens: 0 },
  costUsd: 0.000036,
  priceVersion: "2025-01",
  latencyMs: 42,
  ...over,
});

/** Stored carriers go through jsonb: prove they survive JSON. */
const viaJson = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

describe("one DAG is one trace across processes and attempts", () => {
  const dagId = "6f1b7c1e-5f0e-4c43-9d35-3c6f0e7b9a10";
  const agentId = "0a7c5d55-3c9b-4f5e-8f43-2a1a0d6b7e21";
  let spans: ReadableSpan[];
  let traceId: string | undefined;

  beforeAll(async () => {
    memory.reset();
    const submittedAt = new Date(Date.now() - 5_000);
    // apex-api: submission writes the carriers to the dag and task rows.
    const dagTrace = beginDagTrace({ dagId, agentId, name: "fan-out" });
    traceId = dagTrace.traceId;
    const dagRow = viaJson(dagTrace.carrier);
    const taskRows = Object.fromEntries(["split", "a", "b", "join"].map((t) => [t, viaJson(taskTraceCarrier(dagRow, t))]));

    // Two workers pick up the tasks: the attempts only share the stored carriers.
    const attempt = (taskId: string, n: number, workerId: string, body: () => Promise<unknown>) =>
      withTaskAttemptSpan(taskRows[taskId], { dagId, taskId, kind: "llm", attempt: n, workerId }, body);

    await attempt("split", 1, "worker-1", () => withLlmCallSpan({ model: "openai/gpt-4o-mini", maxTokens: 64 }, async () => okResult()));
    await Promise.all([
      attempt("a", 1, "worker-1", () => withLlmCallSpan({ model: "openai/gpt-4o-mini" }, async () => okResult())),
      // b fails once on worker-2 (provider 5xx) and succeeds on its retry on worker-1.
      attempt("b", 1, "worker-2", () =>
        withLlmCallSpan({ model: "anthropic/claude-3-5-haiku-latest" }, async () => {
          throw new LlmError("provider_error", "upstream 503", { provider: "anthropic" });
        }),
      ).catch(() => undefined),
    ]);
    await attempt("b", 2, "worker-1", () =>
      withLlmCallSpan({ model: "anthropic/claude-3-5-haiku-latest" }, async () =>
        okResult({ provider: "anthropic", requestModel: "anthropic/claude-3-5-haiku-latest", responseModel: "claude-3-5-haiku-20241022", finishReasons: ["end_turn"] }),
      ),
    );
    await withTaskAttemptSpan(taskRows.join, { dagId, taskId: "join", kind: "tool", attempt: 1, workerId: "worker-2" }, () =>
      withToolSpan("http_get", async () => "done"),
    );
    // The worker that finishes the last task ends the DAG span.
    endDagTrace(dagRow, { status: "succeeded", startTime: submittedAt, name: "fan-out" });
    // Exports wait for the resource's async attributes: flush before reading.
    await tracing.forceFlush();
    spans = memory.getFinishedSpans();
  });

  it("names spans as the seed does and keeps them all in one trace", () => {
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(spans.map((s) => s.name).sort()).toEqual(
      ["dag_execution", ...Array(5).fill("task_execution"), ...Array(4).fill("llm_call"), "tool_execution"].sort(),
    );
    for (const s of spans) {
      expect(s.spanContext().traceId).toBe(traceId);
      expect(s.spanContext().spanId).toMatch(/^[0-9a-f]{16}$/);
    }
  });

  it("makes dag_execution the root, every attempt its child, and calls children of their attempt", () => {
    const dag = spans.filter((s) => s.name === "dag_execution");
    expect(dag).toHaveLength(1);
    expect(dag[0]!.parentSpanContext).toBeUndefined();
    const dagSpanId = dag[0]!.spanContext().spanId;
    const attempts = spans.filter((s) => s.name === "task_execution");
    for (const a of attempts) expect(a.parentSpanContext?.spanId).toBe(dagSpanId);
    const attemptIds = new Set(attempts.map((a) => a.spanContext().spanId));
    for (const c of spans.filter((s) => s.name === "llm_call" || s.name === "tool_execution")) {
      expect(attemptIds.has(c.parentSpanContext!.spanId)).toBe(true);
    }
    expect(traceIdOf(beginDagTrace({ dagId, agentId }).carrier)).toMatch(/^[0-9a-f]{32}$/);
  });

  it("spans the DAG from submission to its end", () => {
    const dag = spans.find((s) => s.name === "dag_execution")!;
    const toMs = ([s, ns]: [number, number]) => s * 1000 + ns / 1e6;
    // Child spans use the monotonic clock, the re-created root the wall clock: allow 5 ms skew.
    for (const s of spans.filter((x) => x !== dag)) {
      expect(toMs(s.startTime)).toBeGreaterThanOrEqual(toMs(dag.startTime));
      expect(toMs(s.endTime)).toBeLessThanOrEqual(toMs(dag.endTime) + 5);
    }
    expect(toMs(dag.endTime) - toMs(dag.startTime)).toBeGreaterThanOrEqual(4_900);
    expect(dag.attributes).toMatchObject({ "apex.dag.status": "succeeded", "apex.dag.name": "fan-out" });
  });

  it("records the retried task as two attempts, the first failed with error.type", () => {
    const b = spans.filter((s) => s.name === "task_execution" && s.attributes.task_id === "b");
    expect(b.map((s) => s.attributes["apex.task.attempt"]).sort()).toEqual([1, 2]);
    const first = b.find((s) => s.attributes["apex.task.attempt"] === 1)!;
    expect(first.attributes).toMatchObject({ "apex.worker.id": "worker-2", "error.type": "provider_error" });
    expect(first.status.code).toBe(SpanStatusCode.ERROR);
    const second = b.find((s) => s.attributes["apex.task.attempt"] === 2)!;
    expect(second.attributes["apex.worker.id"]).toBe("worker-1");
    expect(second.status.code).not.toBe(SpanStatusCode.ERROR);
    const failedCall = spans.find((s) => s.name === "llm_call" && s.parentSpanContext?.spanId === first.spanContext().spanId)!;
    expect(failedCall.attributes["error.type"]).toBe("provider_error");
    expect(failedCall.events.map((e) => e.name)).toContain("exception");
  });

  it("puts baggage agent_id, dag_id and task_id on every span", () => {
    for (const s of spans) {
      expect(s.attributes.agent_id, s.name).toBe(agentId);
      expect(s.attributes.dag_id, s.name).toBe(dagId);
      if (s.name !== "dag_execution") expect(s.attributes.task_id, s.name).toMatch(/^(split|a|b|join)$/);
    }
  });

  it("sets the GenAI semantic-convention attributes on llm_call", () => {
    const call = spans.find((s) => s.name === "llm_call" && s.attributes["gen_ai.provider.name"] === "anthropic" && !s.attributes["error.type"])!;
    expect(call.kind).toBe(SpanKind.CLIENT);
    expect(call.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "anthropic",
      "gen_ai.request.model": "claude-3-5-haiku-latest",
      "gen_ai.response.model": "claude-3-5-haiku-20241022",
      "gen_ai.usage.input_tokens": 120,
      "gen_ai.usage.output_tokens": 30,
      "gen_ai.response.finish_reasons": ["end_turn"],
    });
    const tool = spans.find((s) => s.name === "tool_execution")!;
    expect(tool.attributes).toMatchObject({ "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "http_get" });
  });

  it("exports the same spans over OTLP gRPC with service name apex-worker", async () => {
    await tracing.forceFlush();
    await receiver.waitFor((got) => got.filter((s) => s.traceId === traceId).length >= spans.length);
    const got = receiver.spans.filter((s) => s.traceId === traceId);
    expect(got.map((s) => `${s.name}:${s.spanId}:${s.parentSpanId}`).sort()).toEqual(
      spans.map((s) => `${s.name}:${s.spanContext().spanId}:${s.parentSpanContext?.spanId ?? ""}`).sort(),
    );
    for (const s of got) expect(s.service).toBe("apex-worker");
    expect(tracing.protocol).toBe("grpc");
    expect(new Set(receiver.batches)).toEqual(new Set(["grpc"]));
    const llm = got.find((s) => s.name === "llm_call" && s.attributes["gen_ai.request.model"] === "gpt-4o-mini")!;
    expect(llm.attributes).toMatchObject({ "gen_ai.usage.input_tokens": 120, "gen_ai.response.finish_reasons": ["stop"], agent_id: agentId });
    const dag = got.find((s) => s.name === "dag_execution")!;
    expect(dag.endTimeUnixNano - dag.startTimeUnixNano).toBeGreaterThanOrEqual(4_900_000_000n);
  });
});

describe("context handling", () => {
  it("ignores a missing or corrupt carrier instead of failing the task", async () => {
    memory.reset();
    await withTaskAttemptSpan({ traceparent: "garbage" }, { dagId: "d", taskId: "t", kind: "tool", attempt: 1, workerId: "w" }, async () => {
      expect(propagation.getBaggage(context.active())?.getEntry("task_id")?.value).toBe("t");
      expect(trace.getActiveSpan()).toBeDefined();
    });
    endDagTrace(null, { status: "failed", startTime: new Date() });
    await tracing.forceFlush();
    const [only] = memory.getFinishedSpans();
    expect(memory.getFinishedSpans()).toHaveLength(1);
    expect(only!.name).toBe("task_execution");
    expect(only!.parentSpanContext).toBeUndefined();
  });

  it("rejects a malformed OTLP endpoint naming the variable", () => {
    expect(() => startTracing({ serviceName: "apex-api", endpoint: "jaeger:4317" })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT: expected an http/);
  });
});

describe("OTLP protocol selection", () => {
  it("is grpc by default; the traces variable wins over the general one", () => {
    expect(resolveOtlpProtocol({})).toBe("grpc");
    expect(resolveOtlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" })).toBe("http/protobuf");
    expect(resolveOtlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json" })).toBe("http/json");
  });

  it("fails start on a value it does not know, naming the variable and the values allowed", () => {
    const saved = process.env.OTEL_EXPORTER_OTLP_PROTOCOL;
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = "http";
    try {
      expect(() => startTracing({ serviceName: "apex-api", endpoint: null })).toThrow(
        'OTEL_EXPORTER_OTLP_PROTOCOL: expected one of grpc, http/protobuf, http/json, got "http"',
      );
    } finally {
      if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_PROTOCOL;
      else process.env.OTEL_EXPORTER_OTLP_PROTOCOL = saved;
    }
    expect(() => resolveOtlpProtocol({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "HTTP/PROTOBUF" })).toThrow(/^OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: expected one of/);
  });

  it("appends the traces path to the base URL for OTLP/HTTP", () => {
    expect(otlpHttpTracesUrl("http://jaeger:4318")).toBe("http://jaeger:4318/v1/traces");
    expect(otlpHttpTracesUrl("https://collector.example:443/otlp/")).toBe("https://collector.example/otlp/v1/traces");
  });
});
