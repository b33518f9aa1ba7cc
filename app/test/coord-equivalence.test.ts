/**
 * The Redis Lua scripts and the TypeScript state machines must agree: random sequences of breaker
 * operations and bucket takes, with random clock jumps, are applied to both implementations and
 * every answer is compared step by step.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createCoordination, type BreakerPolicy, type Coordination } from "../src/coord";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
let clock = 1_700_000_000_000;
let redis: Coordination;
let memory: Coordination;

beforeAll(async () => {
  const now = () => clock;
  redis = await createCoordination({ redisUrl, keyPrefix: `apex-test:${randomUUID()}:`, now });
  memory = await createCoordination({ now });
});
afterAll(async () => {
  await redis.close();
  await memory.close();
});

/** Small deterministic PRNG (mulberry32), so a failure can be replayed from its seed. */
function prng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

it.each([1, 2, 3])("breaker: Lua and TypeScript agree on 300 random operations (seed %i)", async (seed) => {
  const rand = prng(seed);
  const policy: BreakerPolicy = { failureThreshold: 3, cooldownMs: 1_000, probeLeaseMs: 400, probeTimeoutMs: 200 };
  const ops = ["state", "admit", "recordSuccess", "recordFailure", "recordFailure", "release"] as const;
  const key = `eq-${seed}`;
  const seen = new Set<unknown>();
  for (let step = 0; step < 300; step++) {
    const op = ops[Math.floor(rand() * ops.length)]!;
    clock += Math.floor(rand() * 400);
    // Half the calls are tracked (a call id from a small pool, so ids are reused and reported twice).
    const callId = rand() < 0.5 ? `c${Math.floor(rand() * 5)}` : undefined;
    const run = (c: Coordination) =>
      callId === undefined
        ? c.breakers[op](key, policy)
        : op === "admit"
          ? c.breakers.admitCall(key, callId, policy)
          : op === "state"
            ? c.breakers.state(key, policy)
            : c.breakers[op](key, policy, callId);
    const [a, b] = await Promise.all([run(redis), run(memory)]);
    expect({ step, op, callId, answer: a }).toEqual({ step, op, callId, answer: b });
    seen.add(a);
  }
  // the walk must have visited every state, and every admit answer
  expect([...seen].sort()).toEqual(["admitted", "closed", false, "half_open", "open", "probe", "refused", true].sort());
});

it.each([1, 2, 3])("token bucket: Lua and TypeScript agree on 300 random takes and adjustments (seed %i)", async (seed) => {
  const rand = prng(seed + 100);
  const limit = { perMinute: 600, burst: 7 };
  const key = `eq-${seed}`;
  const waits: number[] = [];
  for (let step = 0; step < 300; step++) {
    clock += Math.floor(rand() * 250);
    if (rand() < 0.2) {
      const delta = Math.floor(rand() * 10) - 4;
      await Promise.all([redis.rateLimiter.adjust(key, delta, limit), memory.rateLimiter.adjust(key, delta, limit)]);
      continue;
    }
    const cost = Math.floor(rand() * 4);
    const [a, b] = await Promise.all([redis.rateLimiter.take(key, cost, limit), memory.rateLimiter.take(key, cost, limit)]);
    expect({ step, cost, wait: a }).toEqual({ step, cost, wait: b });
    waits.push(a);
  }
  expect(waits.filter((w) => w === 0).length).toBeGreaterThan(10);
  expect(waits.filter((w) => w > 0).length).toBeGreaterThan(10);
});
