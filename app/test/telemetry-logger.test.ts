import { Writable } from "node:stream";
import { ROOT_CONTEXT, context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/telemetry/logger";
import { REDACTED, SecretScrubber, registerSecretValue } from "../src/telemetry/redaction";

/** Collects a logger's output as parsed JSON lines. */
function capture() {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      raw.push(...String(chunk).split("\n").filter(Boolean));
      cb();
    },
  });
  const logger = createLogger({ service: "apex-worker", level: "debug", destination: stream });
  return { logger, raw, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  await provider.shutdown();
  context.disable();
});

describe("log line shape", () => {
  it("has the seed's fields, trace ids from the active span and ids from baggage", async () => {
    const { logger, lines } = capture();
    const tracer = trace.getTracer("test");
    const baggage = propagation.createBaggage({
      agent_id: { value: "3b4c0f86-1d3c-4e4e-9d0a-7a0a3e1f2b11" },
      task_id: { value: "summarise" },
      dag_id: { value: "0c9d0b1e-2f3a-4b5c-8d7e-6f5a4b3c2d1e" },
    });
    await context.with(propagation.setBaggage(ROOT_CONTEXT, baggage), () =>
      tracer.startActiveSpan("task_execution", async (span) => {
        await Promise.resolve();
        logger.info({ tokens_used: 1500, cost: 0.003, duration_ms: 2500 }, "Task completed");
        span.end();
      }),
    );
    const [line] = lines();
    const [span] = exporter.getFinishedSpans();
    expect(span).toBeDefined();
    expect(line).toMatchObject({
      level: "INFO",
      message: "Task completed",
      service: "apex-worker",
      trace_id: span!.spanContext().traceId,
      span_id: span!.spanContext().spanId,
      agent_id: "3b4c0f86-1d3c-4e4e-9d0a-7a0a3e1f2b11",
      task_id: "summarise",
      dag_id: "0c9d0b1e-2f3a-4b5c-8d7e-6f5a4b3c2d1e",
      tokens_used: 1500,
      cost: 0.003,
      duration_ms: 2500,
    });
    expect(line!.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(line!.span_id).toMatch(/^[0-9a-f]{16}$/);
    expect(String(line!.timestamp)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(new Date(String(line!.timestamp)).toISOString()).toBe(line!.timestamp);
    expect(line).not.toHaveProperty("msg");
    expect(line).not.toHaveProperty("time");
  });

  it("upper-cases every level and omits trace fields outside a span", () => {
    const { logger, lines } = capture();
    logger.debug("d");
    logger.warn("w");
    logger.error({ err: new Error("boom") }, "e");
    expect(lines().map((l) => l.level)).toEqual(["DEBUG", "WARN", "ERROR"]);
    for (const l of lines()) {
      expect(l).not.toHaveProperty("trace_id");
      expect(l).not.toHaveProperty("agent_id");
    }
    expect(lines()[2]).toMatchObject({ err: { message: "boom", type: "Error" } });
  });

  it("lets the call site override a baggage field", () => {
    const { logger, lines } = capture();
    const ctx = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ task_id: { value: "a" } }));
    context.with(ctx, () => logger.info({ task_id: "b" }, "explicit"));
    expect(lines()[0]).toMatchObject({ task_id: "b" });
  });

  it("rejects an unknown LOG_LEVEL naming the variable", () => {
    expect(() => createLogger({ level: "verbose" })).toThrow(/LOG_LEVEL: expected one of .*got "verbose"/);
  });
});

describe("secrets never reach a log line", () => {
  const openaiKey = "sk-proj-Abc123Def456Ghi789Jkl012Mno345";
  const anthropicKey = "sk-ant-api03-ZyX987WvU654TsR321QpO";
  const vaultValue = "s3cr3t/with\"quote\\and-slash";
  const apexKey = "apx_live_7f3a9c2e1b4d";

  beforeAll(() => {
    registerSecretValue(vaultValue);
    registerSecretValue(apexKey);
  });

  it("censors secret fields by name, at the top level, nested and in headers", () => {
    const { logger, raw } = capture();
    logger.info(
      {
        apiKey: "aaaa-1111",
        headers: { authorization: "Bearer tok_123456789", "x-api-key": "bbbb-2222" },
        req: { headers: { authorization: "Basic dXNlcjpwYXNz" } },
        config: { password: "cccc-3333", OPENAI_API_KEY: "dddd-4444" },
        OPENAI_API_KEY: "eeee-5555",
        ANTHROPIC_API_KEY: "ffff-6666",
      },
      "request",
    );
    const text = raw.join("\n");
    for (const v of ["aaaa-1111", "tok_123456789", "bbbb-2222", "dXNlcjpwYXNz", "cccc-3333", "dddd-4444", "eeee-5555", "ffff-6666"]) {
      expect(text).not.toContain(v);
    }
    const line = JSON.parse(raw[0]!) as Record<string, Record<string, unknown>>;
    expect(line.headers!.authorization).toBe(REDACTED);
    expect(line.config!.password).toBe(REDACTED);
  });

  it("scrubs known secret values and key shapes wherever they appear", () => {
    const { logger, raw } = capture();
    logger.error(
      { err: new Error(`401 from provider: invalid key ${openaiKey}`), url: "postgres://apex:hunter22@db:5432/apex" },
      `calling anthropic with ${anthropicKey}`,
    );
    logger.info({ note: `vault said ${vaultValue}`, nested: { deep: { value: apexKey } } }, `key ${apexKey} used`);
    logger.warn(`header was Authorization: Bearer ${apexKey}xyz`);
    const text = raw.join("\n");
    for (const secret of [openaiKey, anthropicKey, "hunter22", vaultValue, JSON.stringify(vaultValue).slice(1, -1), apexKey]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain(REDACTED);
    for (const l of raw) expect(() => JSON.parse(l)).not.toThrow();
    const second = JSON.parse(raw[1]!) as { nested: { deep: { value: string } }; message: string };
    expect(second.nested.deep.value).toBe(REDACTED);
    expect(second.message).toBe(`key ${REDACTED} used`);
  });

  it("takes secret values from the environment, including URL passwords", () => {
    const scrubber = new SecretScrubber();
    scrubber.addFromEnv({
      OPENAI_API_KEY: "plainkey-1",
      DATABASE_PASSWORD: "pg-pass-2",
      REDIS_URL: "redis://:r%40dis-3@redis:6379",
      DATABASE_URL: "not a url",
    });
    const out = scrubber.scrub("plainkey-1 pg-pass-2 r@dis-3 r%40dis-3 ok");
    expect(out).toBe(`${REDACTED} ${REDACTED} ${REDACTED} ${REDACTED} ok`);
  });

  it("scrubs Apex API keys by shape, without touching metric names", () => {
    const scrubber = new SecretScrubber();
    const key = "apex_q9Xr2_kLmN0pQ4sT6uV8wY1zA3bC5dE7fG9hJ-KLMNO";
    expect(scrubber.scrub(`key ${key} on apex_tasks_total`)).toBe(`key ${REDACTED} on apex_tasks_total`);
  });

  it("leaves short values and ordinary text alone", () => {
    const scrubber = new SecretScrubber();
    scrubber.add("abc", "");
    expect(scrubber.scrub("abc task_id=summarise sk-short")).toBe("abc task_id=summarise sk-short");
  });
});
