/**
 * OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf sends the runtime's spans to an OTLP/HTTP collector
 * (POST <endpoint>/v1/traces), and the http/json exporter does the same with JSON bodies: one DAG
 * trace, received whole over both, as the in-memory copy recorded it.
 */
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, expect, it } from "vitest";
import { withTaskAttemptSpan } from "../src/telemetry/attempt-spans";
import { createOtlpTraceExporter } from "../src/telemetry/otlp-exporter";
import { beginDagTrace, endDagTrace, taskTraceCarrier, withToolSpan } from "../src/telemetry/spans";
import { startTracing, type Tracing } from "../src/telemetry/tracing";
import { startOtlpReceiver, type OtlpReceiver } from "./telemetry-support/otlp-receiver";

const memory = new InMemorySpanExporter();
let receiver: OtlpReceiver;
let tracing: Tracing;
const savedProtocol = process.env.OTEL_EXPORTER_OTLP_PROTOCOL;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  process.env.OTEL_EXPORTER_OTLP_PROTOCOL = "http/protobuf";
  tracing = startTracing({
    serviceName: "apex-api",
    endpoint: receiver.httpEndpoint,
    spanProcessors: [new SimpleSpanProcessor(memory), new SimpleSpanProcessor(createOtlpTraceExporter("http/json", receiver.httpEndpoint))],
  });
});
afterAll(async () => {
  if (savedProtocol === undefined) delete process.env.OTEL_EXPORTER_OTLP_PROTOCOL;
  else process.env.OTEL_EXPORTER_OTLP_PROTOCOL = savedProtocol;
  await tracing?.shutdown();
  await receiver?.close();
});

it("exports one DAG's spans over OTLP/HTTP, protobuf and JSON", async () => {
  expect(tracing.protocol).toBe("http/protobuf");
  const dagId = "3d0c6a59-08f4-4a8e-9a3c-0c5b8f7b3e11";
  const agentId = "7e2f9b43-1c55-4f0a-b6d8-5a9d1e0c2f77";
  const dag = beginDagTrace({ dagId, agentId, name: "over-http" });
  await withTaskAttemptSpan(taskTraceCarrier(dag.carrier, "t"), { dagId, taskId: "t", agentId, kind: "tool", attempt: 1, workerId: "w-1" }, () =>
    withToolSpan("sleep", async () => undefined),
  );
  endDagTrace(dag.carrier, { status: "succeeded", startTime: new Date(Date.now() - 1_000), name: "over-http" });
  await tracing.forceFlush();

  const sent = memory.getFinishedSpans().filter((s) => s.spanContext().traceId === dag.traceId);
  expect(sent.map((s) => s.name).sort()).toEqual(["dag_execution", "task_execution", "tool_execution"]);
  const expected = sent.map((s) => `${s.name}:${s.spanContext().spanId}:${s.parentSpanContext?.spanId ?? ""}`).sort();
  for (const transport of ["http/protobuf", "http/json"] as const) {
    await receiver.waitFor(() => receiver.batches.includes(transport));
  }
  await receiver.waitFor((got) => got.filter((s) => s.traceId === dag.traceId).length >= 2 * sent.length);
  expect(receiver.batches).not.toContain("grpc");
  const got = receiver.spans.filter((s) => s.traceId === dag.traceId);
  // Each span twice: once per exporter, identical ids and parents.
  expect(got.map((s) => `${s.name}:${s.spanId}:${s.parentSpanId}`).sort()).toEqual([...expected, ...expected].sort());
  for (const s of got) expect(s.service).toBe("apex-api");
  const task = got.filter((s) => s.name === "task_execution");
  for (const s of task) expect(s.attributes).toMatchObject({ agent_id: agentId, dag_id: dagId, task_id: "t", "apex.task.attempt": 1 });
});
