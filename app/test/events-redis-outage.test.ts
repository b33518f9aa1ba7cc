/**
 * The Redis event bus when Redis goes away (through a TCP proxy we cut and restore): a watch that
 * arrives while Redis is down fails, and the next one, once Redis is back, works (the failed
 * subscriber connection is not remembered); a subscription made before the cut is renewed by the
 * client after it, so events published afterwards arrive.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createRedisCoordination } from "../src/coord/redis";
import type { Coordination } from "../src/coord/types";
import { startTcpProxy, type TcpProxy } from "./helpers/tcp-proxy";

const target = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const auth = target.password ? `:${target.password}@` : "";

let proxy: TcpProxy;
let publisher: Coordination;
const opened: Coordination[] = [];
const prefix = `apex-test:${randomUUID()}:`;

beforeAll(async () => {
  proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
  // The publisher talks to Redis directly: only the subscribing side loses its connection.
  publisher = await createRedisCoordination({ redisUrl: target.toString(), keyPrefix: prefix });
});
afterAll(async () => {
  await Promise.all(opened.map((c) => c.close()));
  await publisher?.close();
  await proxy?.close();
});

const viaProxy = async () => {
  const c = await createRedisCoordination({ redisUrl: `redis://${auth}127.0.0.1:${proxy.port}`, keyPrefix: prefix, connectTimeoutMs: 5_000 });
  opened.push(c);
  return c;
};

it("a subscribe that failed while Redis was down is retried by the next one", async () => {
  const c = await viaProxy();
  proxy.cut();
  try {
    await expect(c.events.subscribe("dag:outage", () => undefined)).rejects.toThrow();
  } finally {
    proxy.restore();
  }
  const got: unknown[] = [];
  await c.events.subscribe("dag:outage", (e) => got.push(e));
  await publisher.events.publish("dag:outage", { after: "restore" });
  await expect.poll(() => got, { timeout: 10_000 }).toEqual([{ after: "restore" }]);
});

it("a live subscription comes back after a cut", { timeout: 20_000 }, async () => {
  const c = await viaProxy();
  const got: unknown[] = [];
  await c.events.subscribe("dag:resubscribe", (e) => got.push(e));
  await publisher.events.publish("dag:resubscribe", 1);
  await expect.poll(() => got, { timeout: 10_000 }).toEqual([1]);
  const refusedBefore = proxy.refused;
  proxy.cut();
  // Back once the client has noticed the cut and been refused a reconnection: a real outage.
  await expect.poll(() => proxy.refused, { timeout: 10_000, interval: 10 }).toBeGreaterThan(refusedBefore);
  proxy.restore();
  // ioredis reconnects and re-subscribes by itself; publish until an event gets through.
  await expect
    .poll(
      async () => {
        await publisher.events.publish("dag:resubscribe", 2);
        return got.includes(2);
      },
      { timeout: 15_000, interval: 250 },
    )
    .toBe(true);
});
