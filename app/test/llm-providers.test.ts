/**
 * The real OpenAI and Anthropic SDK clients, through the gateway, against the fake server over
 * HTTP on 127.0.0.1: success with usage and cost, 429 with Retry-After, 5xx, hang -> timeout or
 * cancel via AbortSignal, malformed JSON, wrong shapes, connection reset, bad key.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createCoordination, type Coordination } from "../src/coord";
import { createLlmGateway, LlmError, type ApexLlmGateway, type LlmCallEvent } from "../src/llm";
import { startFakeLlmServer, type FakeApi, type FakeLlmServer } from "./fakes/fake-llm-server";

const apiKey = "sk-test-secret-key";
let fake: FakeLlmServer;
let coordination: Coordination;
let gateway: ApexLlmGateway;
const calls: LlmCallEvent[] = [];

beforeAll(async () => {
  fake = await startFakeLlmServer({ apiKey });
  coordination = await createCoordination();
  gateway = createLlmGateway({
    coordination,
    openai: { apiKey, baseURL: fake.openaiBaseUrl },
    anthropic: { apiKey, baseURL: fake.anthropicBaseUrl },
    breaker: { failureThreshold: 1000 }, // breaker behaviour is tested in llm-gateway.test.ts
    onCall: (e) => calls.push(e),
  });
});
afterAll(async () => {
  await fake.close();
  await coordination.close();
});
beforeEach(() => {
  fake.reset();
  calls.length = 0;
});

const signal = () => new AbortController().signal;

async function failure(p: Promise<unknown>): Promise<LlmError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LlmError);
  return err as LlmError;
}

describe("openai via the official SDK", () => {
  it("completes, sends the key, system and max tokens, and prices cached tokens", async () => {
    fake.enqueue({ kind: "success", text: "Paris.", model: "gpt-4o-mini-2024-07-18", usage: { input: 2_000, output: 100, cached: 1_000 } });
    const result = await gateway.complete({ model: "openai/gpt-4o-mini", prompt: "Capital of France?", system: "Be brief.", maxTokens: 50, temperature: 0, signal: signal() });
    expect(result).toMatchObject({
      provider: "openai",
      requestModel: "openai/gpt-4o-mini",
      responseModel: "gpt-4o-mini-2024-07-18",
      text: "Paris.",
      finishReasons: ["stop"],
      usage: { inputTokens: 2_000, outputTokens: 100, cachedTokens: 1_000 },
    });
    // 1000 x $0.15 + 1000 x $0.075 + 100 x $0.60 per 1M = 150 + 75 + 60 = 285 micro-dollars
    expect(result.costMicroUsd).toBe(285);
    expect(result.costUsd).toBe(0.000285);
    const req = fake.requests[0]!;
    expect(req.headers.authorization).toBe(`Bearer ${apiKey}`);
    expect(req.body).toMatchObject({
      model: "gpt-4o-mini",
      max_completion_tokens: 50,
      temperature: 0,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Capital of France?" },
      ],
    });
    expect(calls).toMatchObject([{ outcome: "success", provider: "openai", model: "openai/gpt-4o-mini", providerCalled: true, costMicroUsd: 285 }]);
  });
});

describe("anthropic via the official SDK", () => {
  it("completes and counts cache reads and writes into input tokens", async () => {
    fake.enqueue({ kind: "success", text: "Hi", model: "claude-sonnet-4-20250514", usage: { input: 1_000, output: 200, cached: 4_000, cacheWrite: 1_000 } });
    const result = await gateway.complete({ model: "anthropic/claude-sonnet-4-0", prompt: "Hello", system: "sys", signal: signal() });
    expect(result.usage).toEqual({ inputTokens: 6_000, outputTokens: 200, cachedTokens: 4_000, cacheWriteTokens: 1_000 });
    expect(result.finishReasons).toEqual(["end_turn"]);
    // 1000 x 3 + 4000 x 0.30 + 1000 x 3.75 + 200 x 15 = 3000 + 1200 + 3750 + 3000
    expect(result.costMicroUsd).toBe(10_950);
    const req = fake.requests[0]!;
    expect(req.headers["x-api-key"] ?? req.headers.authorization).toMatch(apiKey);
    expect(req.body).toMatchObject({ model: "claude-sonnet-4-0", max_tokens: 1024, system: "sys", messages: [{ role: "user", content: "Hello" }] });
  });
});

describe.each<[FakeApi, string]>([
  ["openai", "openai/gpt-4o"],
  ["anthropic", "anthropic/claude-3-5-haiku-latest"],
])("error mapping (%s)", (api, model) => {
  const call = (s: AbortSignal = signal()) => gateway.complete({ model, prompt: "hello", signal: s });

  it("429 with Retry-After in seconds -> rate_limited with retryAfterMs, one request (SDK retries off)", async () => {
    fake.enqueue({ kind: "error", status: 429, retryAfter: 7 });
    const err = await failure(call());
    expect(err.kind).toBe("rate_limited");
    expect(err.options.retryAfterMs).toBe(7_000);
    expect(err.retryable).toBe(true);
    expect(fake.requestCount()).toBe(1);
  });

  it("429 with Retry-After as an HTTP date", async () => {
    fake.enqueue({ kind: "error", status: 429, retryAfter: new Date(Date.now() + 30_000).toUTCString() });
    const err = await failure(call());
    expect(err.kind).toBe("rate_limited");
    expect(err.options.retryAfterMs).toBeGreaterThan(25_000);
    expect(err.options.retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it.each([500, 502, 503, 529])("HTTP %i -> provider_error, not retried by the SDK", async (status) => {
    fake.enqueue({ kind: "error", status });
    const err = await failure(call());
    expect(err.kind).toBe("provider_error");
    expect(err.message).toContain(String(status));
    expect(fake.requestCount()).toBe(1);
  });

  it.each([400, 404, 422])("HTTP %i -> invalid_request (not retryable)", async (status) => {
    fake.enqueue({ kind: "error", status, message: "bad thing" });
    const err = await failure(call());
    expect(err.kind).toBe("invalid_request");
    expect(err.retryable).toBe(false);
  });

  it("malformed JSON -> provider_error", async () => {
    fake.enqueue({ kind: "malformed" });
    const err = await failure(call());
    expect(err.kind).toBe("provider_error");
    expect(err.message).toMatch(/malformed/);
  });

  it("valid JSON of the wrong shape -> provider_error naming the field", async () => {
    fake.enqueue({ kind: "wrong_shape", body: { model: "x", choices: [], content: "nope" } });
    const err = await failure(call());
    expect(err.kind).toBe("provider_error");
    expect(err.message).toMatch(/malformed response: (choices|content|usage|stop_reason)/);
  });

  it("connection reset -> provider_error", async () => {
    fake.enqueue({ kind: "reset" });
    const err = await failure(call());
    expect(err.kind).toBe("provider_error");
  });

  it("a hang ends with timeout when the engine's AbortSignal.timeout fires", async () => {
    fake.enqueue({ kind: "hang" });
    const started = Date.now();
    const err = await failure(call(AbortSignal.timeout(300)));
    expect(err.kind).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(calls.at(-1)).toMatchObject({ outcome: "timeout", providerCalled: true });
  });

  it("a hang ends with cancelled when the DAG is cancelled", async () => {
    fake.enqueue({ kind: "hang" });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const err = await failure(call(ac.signal));
    expect(err.kind).toBe("cancelled");
    expect(err.retryable).toBe(false);
  });

  it("a wrong API key -> invalid_request, and the key never appears in the error", async () => {
    const other = createLlmGateway({
      coordination,
      openai: { apiKey: "sk-wrong-key-123", baseURL: fake.openaiBaseUrl },
      anthropic: { apiKey: "sk-wrong-key-123", baseURL: fake.anthropicBaseUrl },
    });
    const err = await failure(other.complete({ model, prompt: "hi", signal: signal() }));
    expect(err.kind).toBe("invalid_request");
    expect(err.message).toContain("401");
    expect(err.message).not.toContain("sk-wrong-key-123");
  });

  it("the failNow switch fails every request until recover()", async () => {
    fake.failNow({ kind: "error", status: 503 });
    expect((await failure(call())).kind).toBe("provider_error");
    expect((await failure(call())).kind).toBe("provider_error");
    fake.recover();
    await expect(call()).resolves.toMatchObject({ text: "echo: hello" });
  });
});

describe("client-side timeout", () => {
  it("the SDK's own timeout maps to timeout", async () => {
    const slow = createLlmGateway({ coordination, openai: { apiKey, baseURL: fake.openaiBaseUrl }, requestTimeoutMs: 200 });
    fake.enqueue({ kind: "hang" });
    const err = await failure(slow.complete({ model: "openai/gpt-4o", prompt: "x", signal: signal() }));
    expect(err.kind).toBe("timeout");
  });
});
