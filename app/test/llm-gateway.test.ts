/**
 * The gateway's shared policies, with two gateway instances standing for two workers: the circuit
 * breaker and the rate limits must be shared through Redis (two connections, one key prefix) and
 * through the in-process stand-in (one coordination). Real SDK clients against the fake server.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createCoordination, type BreakerState, type Coordination } from "../src/coord";
import { createLlmGateway, llmProvidersFromEnv, LlmError, type LlmCallEvent, type LlmGatewayOptions } from "../src/llm";
import { startFakeLlmServer, type FakeLlmServer } from "./fakes/fake-llm-server";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
let fake: FakeLlmServer;
beforeAll(async () => {
  fake = await startFakeLlmServer();
});
afterAll(async () => {
  await fake.close();
});

async function failure(p: Promise<unknown>): Promise<LlmError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LlmError);
  return err as LlmError;
}
const signal = () => new AbortController().signal;

describe.each(["in-process", "redis"] as const)("shared policies across two gateways (%s)", (kind) => {
  let clock: number;
  let coordA: Coordination;
  let coordB: Coordination;
  const events: LlmCallEvent[] = [];
  const states: [string, string, BreakerState][] = [];

  beforeEach(async () => {
    fake.reset();
    events.length = 0;
    states.length = 0;
    clock = 1_700_000_000_000;
    const now = () => clock;
    if (kind === "redis") {
      const keyPrefix = `apex-test:${randomUUID()}:`;
      coordA = await createCoordination({ redisUrl, keyPrefix, now });
      coordB = await createCoordination({ redisUrl, keyPrefix, now });
    } else {
      coordA = coordB = await createCoordination({ now });
    }
  });
  afterEach(async () => {
    await coordA.close();
    if (coordB !== coordA) await coordB.close();
  });

  const gateway = (name: string, coordination: Coordination, extra: Partial<LlmGatewayOptions> = {}) =>
    createLlmGateway({
      coordination,
      openai: { apiKey: "k", baseURL: fake.openaiBaseUrl },
      anthropic: { apiKey: "k", baseURL: fake.anthropicBaseUrl },
      breaker: { failureThreshold: 3, cooldownMs: 10_000, probeLeaseMs: 60_000 },
      onCall: (e) => events.push(e),
      onBreakerState: (provider, state) => states.push([name, provider, state]),
      ...extra,
    });
  const ask = (g: ReturnType<typeof gateway>, model = "openai/gpt-4o-mini") => g.complete({ model, prompt: "hi", signal: signal() });

  it("opens on failures seen by different workers, rejects without calling the provider, probes once after the cool-down, closes on success", async () => {
    const a = gateway("a", coordA);
    const b = gateway("b", coordB);
    fake.failNow({ kind: "error", status: 500 });
    expect((await failure(ask(a))).kind).toBe("provider_error");
    expect((await failure(ask(b))).kind).toBe("provider_error");
    expect((await failure(ask(a))).kind).toBe("provider_error");
    expect(fake.requestCount()).toBe(3);

    const rejected = await failure(ask(b));
    expect(rejected.kind).toBe("breaker_open");
    expect(rejected.retryable).toBe(true);
    expect(rejected.options.retryAfterMs).toBeGreaterThan(0);
    expect((await failure(ask(a))).kind).toBe("breaker_open");
    expect(fake.requestCount()).toBe(3); // nothing reached the provider
    expect(events.filter((e) => e.outcome === "breaker_open").every((e) => !e.providerCalled)).toBe(true);
    expect(states).toContainEqual(["a", "openai", "open"]);
    expect(states).toContainEqual(["b", "openai", "open"]);
    // other providers keep working
    await expect(ask(b, "anthropic/claude-3-5-haiku")).rejects.toMatchObject({ kind: "provider_error" });

    fake.recover();
    clock += 10_000;
    expect(await a.breakerState("openai")).toBe("half_open");
    await expect(ask(b)).resolves.toMatchObject({ text: "echo: hi" });
    expect(await a.breakerState("openai")).toBe("closed");
    await expect(ask(a)).resolves.toMatchObject({ provider: "openai" });
    expect(states.at(-1)).toEqual(["a", "openai", "closed"]);
  });

  it("a failed probe re-opens it; only one probe is in flight at a time", async () => {
    const a = gateway("a", coordA);
    const b = gateway("b", coordB);
    fake.failNow({ kind: "error", status: 503 });
    for (let i = 0; i < 3; i++) await failure(ask(a));
    clock += 10_000;
    fake.failNow({ kind: "success", delayMs: 200 });
    const probe = ask(a);
    await expect.poll(() => fake.requestCount()).toBe(4);
    expect((await failure(ask(b))).kind).toBe("breaker_open");
    await probe;
    expect(await b.breakerState("openai")).toBe("closed");

    fake.failNow({ kind: "error", status: 500 });
    for (let i = 0; i < 3; i++) await failure(ask(b));
    clock += 10_000;
    expect((await failure(ask(a))).kind).toBe("provider_error"); // the probe
    expect(await b.breakerState("openai")).toBe("open");
    expect((await failure(ask(b))).kind).toBe("breaker_open");
  });

  it("429s, 4xx and cancellations do not open the breaker", async () => {
    const a = gateway("a", coordA);
    fake.failNow({ kind: "error", status: 429, retryAfter: 1 });
    for (let i = 0; i < 4; i++) expect((await failure(ask(a))).kind).toBe("rate_limited");
    fake.failNow({ kind: "error", status: 400 });
    for (let i = 0; i < 4; i++) expect((await failure(ask(a))).kind).toBe("invalid_request");
    fake.failNow({ kind: "hang" });
    for (let i = 0; i < 4; i++) {
      const ac = new AbortController();
      const p = a.complete({ model: "openai/gpt-4o-mini", prompt: "x", signal: ac.signal });
      setTimeout(() => ac.abort(), 20);
      expect((await failure(p)).kind).toBe("cancelled");
    }
    expect(await a.breakerState("openai")).toBe("closed");
  });

  it("timeouts count as failures", async () => {
    const a = gateway("a", coordA);
    fake.failNow({ kind: "hang" });
    for (let i = 0; i < 3; i++) {
      const err = await failure(a.complete({ model: "openai/gpt-4o-mini", prompt: "x", signal: AbortSignal.timeout(50) }));
      expect(err.kind).toBe("timeout");
    }
    expect(await a.breakerState("openai")).toBe("open");
  });

  it("counts calls in flight after a failure: of 12 calls asked at once of a hanging provider, only failureThreshold - 1 more reach it before it opens", async () => {
    const a = gateway("a", coordA);
    const b = gateway("b", coordB);
    fake.failNow({ kind: "hang" });
    expect((await failure(a.complete({ model: "openai/gpt-4o-mini", prompt: "x", signal: AbortSignal.timeout(100) }))).kind).toBe("timeout");
    const calls = Array.from({ length: 12 }, (_, i) =>
      failure((i % 2 ? a : b).complete({ model: "openai/gpt-4o-mini", prompt: "x", signal: AbortSignal.timeout(300) })),
    );
    const errors = await Promise.all(calls);
    expect(fake.requestCount()).toBe(3);
    expect(await a.breakerState("openai")).toBe("open");
    expect(events.filter((e) => e.providerCalled)).toHaveLength(3);
    // the others never left: they waited for a slot and gave up (their own time limit, or the breaker opened)
    expect(errors.filter((e) => e.kind === "timeout")).toHaveLength(errors.length - errors.filter((e) => e.kind === "breaker_open").length);
  });

  it("a healthy provider is not limited: 12 calls are in flight at once", async () => {
    const a = gateway("a", coordA);
    let answer!: () => void;
    const gate = new Promise<void>((r) => (answer = r));
    fake.setDefault({ kind: "success", after: gate });
    const calls = Array.from({ length: 12 }, () => ask(a));
    await expect.poll(() => fake.requestCount(), { timeout: 10_000, interval: 20 }).toBe(12);
    answer();
    expect(await Promise.all(calls)).toHaveLength(12);
    expect(await a.breakerState("openai")).toBe("closed");
  });

  it("the half_open probe has its own short time limit: a provider still hanging re-opens the breaker without holding recovery", async () => {
    const a = gateway("a", coordA, { breaker: { failureThreshold: 3, cooldownMs: 10_000, probeLeaseMs: 60_000, probeTimeoutMs: 200 } });
    fake.failNow({ kind: "error", status: 500 });
    for (let i = 0; i < 3; i++) await failure(ask(a));
    clock += 10_000;
    fake.failNow({ kind: "hang" });
    // The caller's own signal never fires: only the probe's limit can end this call.
    const probe = await failure(a.complete({ model: "openai/gpt-4o-mini", prompt: "x", signal: new AbortController().signal }));
    expect(probe.kind).toBe("timeout");
    expect(await a.breakerState("openai")).toBe("open");
    fake.recover();
    clock += 10_000;
    await expect(ask(a)).resolves.toMatchObject({ provider: "openai" });
    expect(await a.breakerState("openai")).toBe("closed");
  });

  it("requests per minute are shared: the third request of a 2/min budget is rejected before reaching the provider", async () => {
    const limits = { rateLimits: { openai: { requestsPerMinute: 2 } }, maxRateLimitWaitMs: 0 };
    const a = gateway("a", coordA, limits);
    const b = gateway("b", coordB, limits);
    await ask(a);
    await ask(b);
    const err = await failure(ask(a));
    expect(err.kind).toBe("rate_limited");
    expect(err.options.retryAfterMs).toBe(30_000);
    expect(fake.requestCount()).toBe(2);
    expect(events.at(-1)).toMatchObject({ outcome: "rate_limited", providerCalled: false });
    // anthropic has no limit configured
    await ask(b, "anthropic/claude-haiku-4-5");
    clock += 30_000;
    await expect(ask(b)).resolves.toMatchObject({ provider: "openai" });
  });

  it("tokens per minute: estimated before the call, settled with the real usage after", async () => {
    const limits = { rateLimits: { local: { tokensPerMinute: 100 } }, maxRateLimitWaitMs: 0 };
    const a = gateway("a", coordA, limits);
    const b = gateway("b", coordB, limits);
    const prompt = Array.from({ length: 30 }, (_, i) => `w${i}`).join(" "); // 30 tokens
    // estimate 30 + 40 = 70; local/echo truncated to 20 tokens: real 50, so 20 are refunded
    const first = await a.complete({ model: "local/echo", prompt, maxTokens: 20, signal: signal() });
    expect(first.usage).toMatchObject({ inputTokens: 30, outputTokens: 20 });
    // 50 left: an estimate of 30 + 20 fits exactly
    await b.complete({ model: "local/echo", prompt, maxTokens: 20, signal: signal() });
    // empty bucket: 50 tokens at 100/min takes 30 s
    const err = await failure(a.complete({ model: "local/echo", prompt, maxTokens: 20, signal: signal() }));
    expect(err.kind).toBe("rate_limited");
    expect(err.options.retryAfterMs).toBe(30_000);
  });

  it("a rejection by the token budget gives the request token back", async () => {
    const limits = { rateLimits: { local: { requestsPerMinute: 2, tokensPerMinute: 10 } }, maxRateLimitWaitMs: 0 };
    const a = gateway("a", coordA, limits);
    const big = Array.from({ length: 20 }, () => "x").join(" ");
    await a.complete({ model: "local/echo", prompt: "x", maxTokens: 1, signal: signal() }); // 2 tokens, 1 request
    await failure(a.complete({ model: "local/echo", prompt: big, maxTokens: 1, signal: signal() })); // tpm refuses
    await a.complete({ model: "local/echo", prompt: "x", maxTokens: 1, signal: signal() }); // still 1 request left
  });
});

describe("gateway behaviour", () => {
  let coordination: Coordination;
  beforeAll(async () => {
    coordination = await createCoordination();
  });
  afterAll(async () => {
    await coordination.close();
  });
  beforeEach(() => fake.reset());

  it("waits in-process for the shared limiter when the wait is short, gives up when it is long", async () => {
    // 120 per minute: a burst of 120, then one every 500 ms
    const patient = createLlmGateway({ coordination, rateLimits: { local: { requestsPerMinute: 120 } }, maxRateLimitWaitMs: 2_000 });
    const started = Date.now();
    await Promise.all(Array.from({ length: 121 }, () => patient.complete({ model: "local/echo", prompt: "x", signal: signal() })));
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);

    const own = await createCoordination(); // a fresh bucket
    const hasty = createLlmGateway({ coordination: own, rateLimits: { local: { requestsPerMinute: 1 } }, maxRateLimitWaitMs: 2_000 });
    await hasty.complete({ model: "local/summarize", prompt: "x", signal: signal() });
    const err = await failure(hasty.complete({ model: "local/summarize", prompt: "x", signal: signal() }));
    expect(err.kind).toBe("rate_limited");
    expect(err.options.retryAfterMs).toBeGreaterThan(58_000);
    await own.close();
  });

  it("rejects unknown providers, unconfigured providers and unpriced models before any call, naming the problem", async () => {
    const g = createLlmGateway({ coordination, openai: { apiKey: "k", baseURL: fake.openaiBaseUrl } });
    const cases: [string, RegExp][] = [
      ["gpt-4o", /provider\/model/],
      ["mistral/large", /unknown provider "mistral"/],
      ["anthropic/claude-sonnet-4-5", /not configured \(set ANTHROPIC_API_KEY\)/],
      ["openai/gpt-9-ultra", /no price in price table/],
      ["local/poem", /provider "local" has no model "poem" \(known: echo, summarize\)/],
    ];
    for (const [model, message] of cases) {
      expect(g.checkModel(model)).toMatch(message);
      const err = await failure(g.complete({ model, prompt: "x", signal: signal() }));
      expect(err.kind).toBe("invalid_request");
      expect(err.message).toMatch(message);
    }
    expect(g.checkModel("openai/gpt-4o-mini")).toBeUndefined();
    expect(g.providers).toEqual(["openai", "local"]);
    expect(fake.requestCount()).toBe(0);
  });

  it("allowUnpricedModels calls the model at cost 0 and reports it", async () => {
    const unpriced: string[] = [];
    const g = createLlmGateway({
      coordination,
      openai: { apiKey: "k", baseURL: fake.openaiBaseUrl },
      allowUnpricedModels: true,
      onUnpricedModel: (m) => unpriced.push(m),
    });
    const result = await g.complete({ model: "openai/gpt-9-ultra", prompt: "x", signal: signal() });
    expect(result.costUsd).toBe(0);
    expect(unpriced).toEqual(["openai/gpt-9-ultra"]);
  });

  it("prices what answered: a known dated response model, else the requested one", async () => {
    const g = createLlmGateway({ coordination, openai: { apiKey: "k", baseURL: fake.openaiBaseUrl } });
    fake.enqueue({ kind: "success", model: "gpt-4o-2024-08-06", usage: { input: 1_000_000, output: 0 } });
    expect((await g.complete({ model: "openai/gpt-4o-mini", prompt: "x", signal: signal() })).costUsd).toBe(2.5);
    fake.enqueue({ kind: "success", model: "some-internal-snapshot", usage: { input: 1_000_000, output: 0 } });
    expect((await g.complete({ model: "openai/gpt-4o-mini", prompt: "x", signal: signal() })).costUsd).toBe(0.15);
  });

  it("fails open when coordination (Redis) errors, and reports it", async () => {
    const broken: Coordination = {
      ...coordination,
      breakers: {
        state: async () => { throw new Error("redis down"); },
        admit: async () => { throw new Error("redis down"); },
        admitCall: async () => { throw new Error("redis down"); },
        recordSuccess: async () => { throw new Error("redis down"); },
        recordFailure: async () => { throw new Error("redis down"); },
        release: async () => { throw new Error("redis down"); },
      },
      rateLimiter: {
        take: async () => { throw new Error("redis down"); },
        adjust: async () => { throw new Error("redis down"); },
      },
    };
    const errors: unknown[] = [];
    const g = createLlmGateway({ coordination: broken, rateLimits: { local: { requestsPerMinute: 1 } }, onCoordinationError: (e) => errors.push(e) });
    await expect(g.complete({ model: "local/echo", prompt: "still works", signal: signal() })).resolves.toMatchObject({ text: "still works" });
    expect(errors).toHaveLength(1); // then coordination is skipped for coordinationBackoffMs
  });

  it("an observer that throws does not fail the call", async () => {
    const g = createLlmGateway({
      coordination,
      onCall: () => {
        throw new Error("telemetry bug");
      },
      onBreakerState: () => {
        throw new Error("telemetry bug");
      },
    });
    await expect(g.complete({ model: "local/echo", prompt: "ok", signal: signal() })).resolves.toMatchObject({ text: "ok" });
  });

  it("an already-aborted signal is cancelled before anything else happens", async () => {
    const g = createLlmGateway({ coordination, openai: { apiKey: "k", baseURL: fake.openaiBaseUrl } });
    const ac = new AbortController();
    ac.abort();
    expect((await failure(g.complete({ model: "openai/gpt-4o", prompt: "x", signal: ac.signal }))).kind).toBe("cancelled");
    expect(fake.requestCount()).toBe(0);
  });

  it("validates rate-limit config naming the key", () => {
    expect(() => createLlmGateway({ coordination, rateLimits: { openai: { requestsPerMinute: -1 } } })).toThrow(/rateLimits\.openai\.requestsPerMinute/);
    expect(() => createLlmGateway({ coordination, rateLimits: { nope: {} } as never })).toThrow(/rateLimits\.nope/);
    expect(() => createLlmGateway({ coordination, breaker: { cooldownMs: Number.NaN } })).toThrow(/cooldownMs/);
  });

  it("reports provider latency (not breaker or limiter time) to onCall", async () => {
    const events: LlmCallEvent[] = [];
    const g = createLlmGateway({ coordination, openai: { apiKey: "k", baseURL: fake.openaiBaseUrl }, onCall: (e) => events.push(e) });
    fake.enqueue({ kind: "success", delayMs: 120 });
    const result = await g.complete({ model: "openai/gpt-4o-mini", prompt: "x", signal: signal() });
    expect(result.latencyMs).toBeGreaterThanOrEqual(100);
    expect(events[0]?.latencyMs).toBe(result.latencyMs);
  });

  it("reads provider keys and base URLs from the contract's env vars", () => {
    expect(llmProvidersFromEnv({})).toEqual({});
    expect(llmProvidersFromEnv({ OPENAI_API_KEY: "  ", ANTHROPIC_API_KEY: "" })).toEqual({});
    expect(
      llmProvidersFromEnv({ OPENAI_API_KEY: "sk-1", OPENAI_BASE_URL: "http://127.0.0.1:9/v1", ANTHROPIC_API_KEY: "sk-2" }),
    ).toEqual({ openai: { apiKey: "sk-1", baseURL: "http://127.0.0.1:9/v1" }, anthropic: { apiKey: "sk-2", baseURL: undefined } });
    expect(() => llmProvidersFromEnv({ ANTHROPIC_API_KEY: "k", ANTHROPIC_BASE_URL: "ftp://x" })).toThrow(/ANTHROPIC_BASE_URL/);
  });
});
