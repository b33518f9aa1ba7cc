/**
 * Incoming requests get SERVER spans from the HTTP (+ @fastify/otel) and gRPC instrumentations
 * that continue the caller's traceparent, and a DAG submitted in one has its root dag_execution
 * span linked to that request, also when the root is re-created at the DAG's end. Client baggage
 * never reaches Apex's spans; probes and scrapes make no spans.
 */
import "./telemetry-support/instrumented";
import { randomBytes } from "node:crypto";
import { Metadata, credentials, status, type Client, type ServiceError } from "@grpc/grpc-js";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context } from "@opentelemetry/api";
import { suppressTracing } from "@opentelemetry/core";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProtos } from "../src/api/grpc/proto";
import { startGrpcServer, type RunningGrpcServer } from "../src/api/grpc/server";
import { buildHttpServer } from "../src/api/http/server";
import { spanNames } from "../src/telemetry/spans";
import { startTracing, type Tracing } from "../src/telemetry/tracing";
import { createApiFixture, type ApiFixture } from "./api-support/fixture";

const memory = new InMemorySpanExporter();
let tracing: Tracing;
let fx: ApiFixture;
let http: FastifyInstance;
let base: string;
let grpc: RunningGrpcServer;
let client: Client & Record<string, unknown>;

beforeAll(async () => {
  tracing = startTracing({ serviceName: "apex-api", endpoint: null, spanProcessors: [new SimpleSpanProcessor(memory)] });
  fx = await createApiFixture({ store: "postgres", service: "real" });
  http = buildHttpServer(fx.deps);
  // A real socket: the HTTP instrumentation sees requests on node:http, not Fastify's inject().
  base = await http.listen({ port: 0, host: "127.0.0.1" });
  grpc = await startGrpcServer(fx.deps, 0, "127.0.0.1");
  client = new (loadProtos().apex)(`127.0.0.1:${grpc.port}`, credentials.createInsecure()) as Client & Record<string, unknown>;
}, 60_000);

afterAll(async () => {
  client?.close();
  await grpc?.close();
  await http?.close();
  await fx?.close();
  await tracing?.shutdown();
});

const hex = (bytes: number) => randomBytes(bytes).toString("hex");
const caller = () => ({ traceId: hex(16), spanId: hex(8) });
const traceparent = (c: { traceId: string; spanId: string }) => `00-${c.traceId}-${c.spanId}-01`;

async function finishedSpans(): Promise<ReadableSpan[]> {
  await tracing.forceFlush();
  return memory.getFinishedSpans();
}

function post(path: string, headers: Record<string, string>, body: unknown): Promise<Response> {
  return fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

function longDag(name: string) {
  return { agent_id: fx.agentA.id, name, tasks: [{ id: "wait", kind: "tool", tool: "sleep", args: { key: name, ms: 30_000 } }] };
}

describe("HTTP SERVER spans", () => {
  it("continue the caller's traceparent, record route and status, and the DAG root links to the request", async () => {
    const from = caller();
    const res = await post(
      "/v1/dags",
      { authorization: `Bearer ${fx.tokens.admin}`, traceparent: traceparent(from), baggage: "agent_id=forged,dag_id=forged" },
      longDag("linked-http"),
    );
    expect(res.status).toBe(201);
    const dagId = ((await res.json()) as { id: string }).id;

    const inRequest = (await finishedSpans()).filter((s) => s.spanContext().traceId === from.traceId);
    const server = inRequest.find((s) => s.kind === SpanKind.SERVER)!;
    expect(server).toBeDefined();
    // Named after the route by @fastify/otel; the semantic-convention attributes of the HTTP instrumentation.
    expect(server.name).toBe("POST /v1/dags");
    expect(server.parentSpanContext?.spanId).toBe(from.spanId);
    expect(server.attributes).toMatchObject({ "http.request.method": "POST", "http.route": "/v1/dags", "url.path": "/v1/dags", "http.response.status_code": 201 });
    // @fastify/otel's `request` span runs the handler, under the SERVER span.
    const request = inRequest.find((s) => s.name === "request")!;
    expect(request.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    for (const s of inRequest) expect(s.attributes.agent_id).toBeUndefined();
    for (const s of inRequest) expect(s.attributes.dag_id).toBeUndefined();

    // The DAG is its own trace; ending it (cancel, here in the API) exports the root with the link.
    const cancel = await post(`/v1/dags/${dagId}/cancel`, { authorization: `Bearer ${fx.tokens.admin}` }, {});
    expect(cancel.status).toBe(200);
    // The cancel is recorded in the caller's name (its API key id).
    const view = await fetch(`${base}/v1/dags/${dagId}`, { headers: { authorization: `Bearer ${fx.tokens.admin}` } });
    expect(((await view.json()) as { tasks: { error?: string }[] }).tasks[0]?.error).toBe(`cancelled by ${fx.keyIds.admin}`);
    const root = (await finishedSpans()).find((s) => s.name === spanNames.dag && s.attributes.dag_id === dagId)!;
    expect(root).toBeDefined();
    expect(root.spanContext().traceId).not.toBe(from.traceId);
    expect(root.links.map((l) => [l.context.traceId, l.context.spanId])).toEqual([[from.traceId, request.spanContext().spanId]]);
    expect(root.attributes.agent_id).toBe(fx.agentA.id);
  });

  it("start a new trace without a traceparent and mark only 5xx as errors", async () => {
    const res = await post(
      "/v1/dags",
      { authorization: `Bearer ${fx.tokens.admin}` },
      { agent_id: fx.agentA.id, name: "bad", tasks: [{ id: "a", kind: "llm", model: "local/echo", prompt: 5 }] },
    );
    expect(res.status).toBe(400);
    const spans = (await finishedSpans()).filter((s) => s.kind === SpanKind.SERVER && s.attributes["http.response.status_code"] === 400);
    expect(spans).toHaveLength(1);
    expect(spans[0]!.name).toBe("POST /v1/dags");
    expect(spans[0]!.parentSpanContext).toBeUndefined();
    expect(spans[0]!.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it("make no spans for health probes and metrics scrapes", async () => {
    memory.reset();
    for (const path of ["/healthz", "/readyz", "/metrics"]) {
      const res = await fetch(`${base}${path}`, { headers: { traceparent: traceparent(caller()) } });
      expect(res.status, path).toBeLessThan(500);
      await res.arrayBuffer();
    }
    // A traced request after them, so the check waits on something that is exported.
    const from = caller();
    const listed = await fetch(`${base}/v1/agents`, { headers: { authorization: `Bearer ${fx.tokens.admin}`, traceparent: traceparent(from) } });
    expect(listed.status).toBe(200);
    const spans = await finishedSpans();
    expect(spans.filter((s) => s.kind === SpanKind.SERVER).map((s) => s.name)).toEqual(["GET /v1/agents"]);
    expect(spans.every((s) => s.spanContext().traceId === from.traceId)).toBe(true);
  });
});

describe("gRPC SERVER spans", () => {
  const grpcDag = (name: string) => ({
    agent_id: fx.agentA.id,
    name,
    tasks: [{ id: "wait", kind: "tool", tool: "sleep", args: { fields: { key: { stringValue: name }, ms: { numberValue: 30_000 } } } }],
  });

  /** A call from outside: the test process's own gRPC client instrumentation must not replace our traceparent. */
  function submit(md: Metadata, body: unknown): Promise<{ error?: ServiceError; response?: { id: string } }> {
    const fn = (client.SubmitDag as (r: unknown, m: Metadata, cb: (e: ServiceError | null, r: { id: string }) => void) => void).bind(client);
    return context.with(
      suppressTracing(ROOT_CONTEXT),
      () => new Promise<{ error?: ServiceError; response?: { id: string } }>((resolve) => fn(body, md, (error, response) => resolve(error ? { error } : { response }))),
    );
  }

  it("continue the caller's traceparent from metadata, with the RPC attributes and status code", async () => {
    const from = caller();
    const md = new Metadata();
    md.set("authorization", `Bearer ${fx.tokens.admin}`);
    md.set("traceparent", traceparent(from));
    const { error, response } = await submit(md, grpcDag("linked-grpc"));
    expect(error).toBeUndefined();
    const server = (await finishedSpans()).find((s) => s.spanContext().traceId === from.traceId && s.kind === SpanKind.SERVER)!;
    // The gRPC instrumentation's span name.
    expect(server.name).toBe("grpc.apex.v1.Apex/SubmitDag");
    expect(server.parentSpanContext?.spanId).toBe(from.spanId);
    expect(server.attributes).toMatchObject({ "rpc.system": "grpc", "rpc.service": "apex.v1.Apex", "rpc.method": "SubmitDag", "rpc.grpc.status_code": status.OK });
    await fx.service.cancelDag(response!.id);

    const anonymous = caller();
    const noKey = new Metadata();
    noKey.set("traceparent", traceparent(anonymous));
    expect((await submit(noKey, grpcDag("refused"))).error?.code).toBe(status.UNAUTHENTICATED);
    const refused = (await finishedSpans()).find((s) => s.spanContext().traceId === anonymous.traceId && s.kind === SpanKind.SERVER)!;
    expect(refused.attributes["rpc.grpc.status_code"]).toBe(status.UNAUTHENTICATED);
    // The instrumentation marks every non-OK code an error, the caller's as well as the server's.
    expect(refused.status.code).toBe(SpanStatusCode.ERROR);
  });
});
