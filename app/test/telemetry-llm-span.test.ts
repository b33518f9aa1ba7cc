/**
 * `llm_call` spans name the endpoint called (`server.address` / `server.port`), the provider's
 * response id (`gen_ai.response.id`) and the request's max tokens and temperature: the real OpenAI
 * and Anthropic SDK clients, through the gateway, against the fake server on 127.0.0.1, spans
 * caught by an in-memory exporter.
 */
import { SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createCoordination, type Coordination } from "../src/coord";
import { createLlmGateway, type ApexLlmGateway } from "../src/llm";
import { serverEndpointOf } from "../src/llm/providers/endpoint";
import { createAnthropicProvider } from "../src/llm/providers/anthropic";
import { createOpenAiProvider } from "../src/llm/providers/openai";
import { withLlmCallSpan } from "../src/telemetry/spans";
import { startTracing, type Tracing } from "../src/telemetry/tracing";
import { startFakeLlmServer, type FakeLlmServer } from "./fakes/fake-llm-server";

const memory = new InMemorySpanExporter();
let tracing: Tracing;
let fake: FakeLlmServer;
let fakePort: number;
let coordination: Coordination;
let gateway: ApexLlmGateway;

beforeAll(async () => {
  tracing = startTracing({ serviceName: "apex-worker", endpoint: null, spanProcessors: [new SimpleSpanProcessor(memory)] });
  fake = await startFakeLlmServer();
  fakePort = Number(new URL(fake.url).port);
  coordination = await createCoordination();
  gateway = createLlmGateway({
    coordination,
    openai: { apiKey: "sk-test", baseURL: fake.openaiBaseUrl },
    anthropic: { apiKey: "sk-test", baseURL: fake.anthropicBaseUrl },
    breaker: { failureThreshold: 1000 },
  });
});
afterAll(async () => {
  await tracing?.shutdown();
  await fake?.close();
  await coordination?.close();
});
beforeEach(() => {
  memory.reset();
  fake.reset();
});

async function callInSpan(model: string, opts: { maxTokens?: number; temperature?: number } = {}) {
  const outcome = await withLlmCallSpan({ model, ...opts }, () =>
    gateway.complete({ model, prompt: "Capital of France?", ...opts, signal: new AbortController().signal }),
  ).then(
    (result) => ({ result, error: undefined }),
    (error: unknown) => ({ result: undefined, error }),
  );
  await tracing.forceFlush(); // SimpleSpanProcessor exports after the resource's async attributes settle
  const spans = memory.getFinishedSpans().filter((s) => s.name === "llm_call");
  expect(spans).toHaveLength(1);
  return { ...outcome, span: spans[0] as ReadableSpan };
}

describe("llm_call span attributes from the provider", () => {
  it("openai: the endpoint called, the response id, max tokens and temperature", async () => {
    const { result, span } = await callInSpan("openai/gpt-4o-mini", { maxTokens: 32, temperature: 0.2 });
    expect(result?.responseId).toMatch(/^chatcmpl-fake-\d+$/);
    expect(result?.server).toEqual({ address: "127.0.0.1", port: fakePort });
    expect(span.attributes).toMatchObject({
      "server.address": "127.0.0.1",
      "server.port": fakePort,
      "gen_ai.response.id": result?.responseId,
      "gen_ai.request.max_tokens": 32,
      "gen_ai.request.temperature": 0.2,
      "gen_ai.provider.name": "openai",
    });
    expect(fake.requests[0]?.body).toMatchObject({ max_completion_tokens: 32, temperature: 0.2 });
  });

  it("anthropic: its message id and endpoint; unset max tokens and temperature are not invented", async () => {
    const { result, span } = await callInSpan("anthropic/claude-3-5-haiku-latest");
    expect(result?.responseId).toMatch(/^msg_fake-\d+$/);
    expect(span.attributes).toMatchObject({
      "server.address": "127.0.0.1",
      "server.port": fakePort,
      "gen_ai.response.id": result?.responseId,
      "gen_ai.provider.name": "anthropic",
    });
    expect(span.attributes).not.toHaveProperty("gen_ai.request.max_tokens");
    expect(span.attributes).not.toHaveProperty("gen_ai.request.temperature");
  });

  it("a failed call that reached the provider still names the endpoint, without a response id", async () => {
    fake.enqueue({ kind: "error", status: 503 });
    const { error, span } = await callInSpan("openai/gpt-4o-mini");
    expect(error).toBeDefined();
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes).toMatchObject({ "error.type": "provider_error", "server.address": "127.0.0.1", "server.port": fakePort });
    expect(span.attributes).not.toHaveProperty("gen_ai.response.id");
  });

  it("the local provider calls no endpoint, so its span has no server attributes", async () => {
    const { span } = await callInSpan("local/echo");
    expect(span.attributes["gen_ai.provider.name"]).toBe("local");
    expect(span.attributes).not.toHaveProperty("server.address");
    expect(span.attributes).not.toHaveProperty("server.port");
  });
});

describe("the endpoint is the one the SDK uses", () => {
  it("defaults to the SDKs' public endpoints when no base URL is configured", () => {
    vi.stubEnv("OPENAI_BASE_URL", undefined);
    vi.stubEnv("ANTHROPIC_BASE_URL", undefined);
    try {
      expect(createOpenAiProvider({ apiKey: "sk-test" }).server).toEqual({ address: "api.openai.com", port: 443 });
      expect(createAnthropicProvider({ apiKey: "sk-test" }).server).toEqual({ address: "api.anthropic.com", port: 443 });
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("reads host and port from a base URL, with the scheme's default port and IPv6 unbracketed", () => {
    expect(serverEndpointOf("openai", "http://llm.internal/v1")).toEqual({ address: "llm.internal", port: 80 });
    expect(serverEndpointOf("openai", "https://user:pw@llm.internal:8443/v1")).toEqual({ address: "llm.internal", port: 8443 });
    expect(serverEndpointOf("openai", "http://[::1]:8000/v1")).toEqual({ address: "::1", port: 8000 });
    expect(() => serverEndpointOf("anthropic", "not a url")).toThrow(/anthropic: baseURL/);
    expect(() => serverEndpointOf("anthropic", "ftp://x")).toThrow(/anthropic: baseURL must be an http/);
  });
});
