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

it("fails open while Redis is unreachable and shares state again once it is back", async () => {
  const errors: unknown[] = [];
  const gateway = createLlmGateway({
    coordination,
    rateLimits: { local: { requestsPerMinute: 1_000 } },
    breaker: { failureThreshold: 2 },
    coordinationBackoffMs: 500,
    onCoordinationError: (e) => errors.push(e),
  });
  const ask = () => gateway.complete({ model: "local/echo", prompt: "ping", signal: AbortSignal.timeout(10_000) });
  await expect(ask()).resolves.toMatchObject({ text: "ping" });
  expect(errors).toHaveLength(0);

  proxy.cut();
  const started = Date.now();
  await expect(ask()).resolves.toMatchObject({ text: "ping" });
  expect(errors.length).toBe(1); // then the gateway stops trying Redis for coordinationBackoffMs
  expect(Date.now() - started).toBeLessThan(3_000);
  const quick = Date.now();
  await expect(ask()).resolves.toMatchObject({ text: "ping" });
  expect(Date.now() - quick).toBeLessThan(100);
  expect(errors.length).toBe(1);

  proxy.restore();
  const policy = { failureThreshold: 1, cooldownMs: 60_000, probeLeaseMs: 1_000 };
  await expect
    .poll(() => coordination.breakers.recordFailure("llm:other", policy).catch(() => "down"), { timeout: 10_000, interval: 200 })
    .toBe("open");
  expect(await coordination.breakers.state("llm:other", policy)).toBe("open");
  // and the gateway uses Redis again once its back-off has passed
  await new Promise((r) => setTimeout(r, 600));
  await expect(ask()).resolves.toMatchObject({ text: "ping" });
  expect(errors.length).toBe(1);
});
