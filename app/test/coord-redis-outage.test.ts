/**
 * Redis going away under a running gateway: through a TCP proxy that we cut and restore, the
 * gateway keeps serving (fails open, reports the error) and coordination resumes once Redis is back.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createCoordination, type Coordination } from "../src/coord";
import { createLlmGateway } from "../src/llm";
import { startTcpProxy, type TcpProxy } from "./helpers/tcp-proxy";

const target = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");

let proxy: TcpProxy;
let coordination: Coordination;
beforeAll(async () => {
  proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
  const auth = target.password ? `:${target.password}@` : "";
  coordination = await createCoordination({ redisUrl: `redis://${auth}127.0.0.1:${proxy.port}`, keyPrefix: `apex-test:${randomUUID()}:` });
});
afterAll(async () => {
  await coordination.close();
  await proxy.close();
});

/** Counts calls to `target`'s methods: which Redis commands the gateway attempted. */
function counting<T extends object>(target: T, count: () => void): T {
  return new Proxy(target, {
    get(t, key) {
      const v: unknown = Reflect.get(t, key);
      return typeof v === "function" ? (...args: unknown[]) => (count(), v.apply(t, args)) : v;
    },
  });
}

it("fails open while Redis is unreachable and shares state again once it is back", async () => {
  const errors: unknown[] = [];
  let redisCalls = 0;
  const count = () => void redisCalls++;
  // The gateway's clock: the test moves it past the back-off instead of sleeping through it, and a
  // back-off this long cannot run out by itself while the test looks inside it, however slow the machine.
  const backoffMs = 60_000;
  let skippedMs = 0;
  const gateway = createLlmGateway({
    coordination: {
      kind: coordination.kind,
      breakers: counting(coordination.breakers, count),
      rateLimiter: counting(coordination.rateLimiter, count),
      events: coordination.events,
      close: () => coordination.close(),
    },
    rateLimits: { local: { requestsPerMinute: 1_000 } },
    breaker: { failureThreshold: 2 },
    coordinationBackoffMs: backoffMs,
    now: () => Date.now() + skippedMs,
    onCoordinationError: (e) => errors.push(e),
  });
  const ask = () => gateway.complete({ model: "local/echo", prompt: "ping", signal: AbortSignal.timeout(10_000) });
  await expect(ask()).resolves.toMatchObject({ text: "ping" });
  expect(errors).toHaveLength(0);
  expect(redisCalls).toBeGreaterThan(0);

  proxy.cut();
  const started = Date.now();
  await expect(ask()).resolves.toMatchObject({ text: "ping" });
  expect(errors.length).toBe(1); // then the gateway stops trying Redis for coordinationBackoffMs
  // At most one Redis command timeout (2 s), not the whole outage; the rest is room for a loaded machine.
  expect(Date.now() - started).toBeLessThan(6_000);
  const callsBeforeBackoff = redisCalls;
  await expect(ask()).resolves.toMatchObject({ text: "ping" });
  expect(redisCalls, "no Redis command during the back-off").toBe(callsBeforeBackoff);
  expect(errors.length).toBe(1);

  proxy.restore();
  const policy = { failureThreshold: 1, cooldownMs: 60_000, probeLeaseMs: 1_000, probeTimeoutMs: 500 };
  await expect
    .poll(() => coordination.breakers.recordFailure("llm:other", policy).catch(() => "down"), { timeout: 10_000, interval: 200 })
    .toBe("open");
  expect(await coordination.breakers.state("llm:other", policy)).toBe("open");
  // and the gateway uses Redis again once its back-off has passed
  skippedMs = backoffMs;
  const callsAfterBackoff = redisCalls;
  await expect(ask()).resolves.toMatchObject({ text: "ping" });
  expect(redisCalls, "Redis is used again").toBeGreaterThan(callsAfterBackoff);
  expect(errors.length).toBe(1);
});
