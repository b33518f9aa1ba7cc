/**
 * One suite, two implementations: the Redis coordination (real Redis at REDIS_URL, random key
 * prefix per test) and the in-process stand-in must behave identically. A fake clock drives the
 * breaker and the token buckets.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { createCoordination, type BreakerPolicy, type Coordination } from "../src/coord";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const policy: BreakerPolicy = { failureThreshold: 3, cooldownMs: 10_000, probeLeaseMs: 5_000, probeTimeoutMs: 1_000 };

const implementations = [
  { name: "in-process", shared: false },
  { name: "redis", shared: true },
] as const;

describe.each(implementations)("coordination ($name)", ({ name }) => {
  let clock = 1_700_000_000_000;
  const now = () => clock;
  let prefix: string;
  const opened: Coordination[] = [];

  const open = async () => {
    const c = await createCoordination({ redisUrl: name === "redis" ? redisUrl : undefined, keyPrefix: prefix, now });
    opened.push(c);
    return c;
  };

  beforeEach(() => {
    clock = 1_700_000_000_000;
    prefix = `apex-test:${randomUUID()}:`;
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((c) => c.close()));
  });

  it("reports its kind", async () => {
    expect((await open()).kind).toBe(name);
  });

  describe("breaker", () => {
    it("opens after N consecutive failures, rejects during the cool-down, then admits exactly one probe", async () => {
      const { breakers } = await open();
      expect(await breakers.state("openai", policy)).toBe("closed");
      expect(await breakers.recordFailure("openai", policy)).toBe("closed");
      expect(await breakers.recordFailure("openai", policy)).toBe("closed");
      expect(await breakers.admit("openai", policy)).toBe(true);
      expect(await breakers.recordFailure("openai", policy)).toBe("open");
      expect(await breakers.admit("openai", policy)).toBe(false);
      clock += policy.cooldownMs - 1;
      expect(await breakers.state("openai", policy)).toBe("open");
      clock += 1;
      expect(await breakers.state("openai", policy)).toBe("half_open");
      expect(await breakers.admit("openai", policy)).toBe(true);
      expect(await breakers.admit("openai", policy)).toBe(false);
      expect(await breakers.recordSuccess("openai", policy)).toBe("closed");
      expect(await breakers.admit("openai", policy)).toBe(true);
      // other keys are independent
      expect(await breakers.state("anthropic", policy)).toBe("closed");
    });

    it("a success resets the consecutive-failure count", async () => {
      const { breakers } = await open();
      await breakers.recordFailure("k", policy);
      await breakers.recordFailure("k", policy);
      await breakers.recordSuccess("k", policy);
      await breakers.recordFailure("k", policy);
      expect(await breakers.recordFailure("k", policy)).toBe("closed");
      expect(await breakers.recordFailure("k", policy)).toBe("open");
    });

    it("a failed probe re-opens for a full cool-down; a late success while open does not close it", async () => {
      const { breakers } = await open();
      for (let i = 0; i < 3; i++) await breakers.recordFailure("k", policy);
      expect(await breakers.recordSuccess("k", policy)).toBe("open");
      clock += policy.cooldownMs;
      expect(await breakers.admit("k", policy)).toBe(true);
      expect(await breakers.recordFailure("k", policy)).toBe("open");
      clock += policy.cooldownMs - 1;
      expect(await breakers.admit("k", policy)).toBe(false);
      clock += 1;
      expect(await breakers.admit("k", policy)).toBe(true);
    });

    it("release frees the probe slot; a lost probe's slot frees itself after probeLeaseMs", async () => {
      const { breakers } = await open();
      for (let i = 0; i < 3; i++) await breakers.recordFailure("k", policy);
      clock += policy.cooldownMs;
      expect(await breakers.admit("k", policy)).toBe(true);
      expect(await breakers.release("k", policy)).toBe("half_open");
      expect(await breakers.admit("k", policy)).toBe(true);
      expect(await breakers.admit("k", policy)).toBe(false);
      clock += policy.probeLeaseMs;
      expect(await breakers.admit("k", policy)).toBe(true);
    });

    it("uses the default policy when none is passed, and rejects a bad one naming the field", async () => {
      const { breakers } = await open();
      for (let i = 0; i < 4; i++) expect(await breakers.recordFailure("d")).toBe("closed");
      expect(await breakers.recordFailure("d")).toBe("open");
      await expect(breakers.admit("d", { ...policy, failureThreshold: 0 })).rejects.toThrow(/failureThreshold/);
    });

    it("a healthy breaker admits every call; after a failure, calls in flight count against the failure budget left", async () => {
      const { breakers } = await open();
      const admit = (id: string) => breakers.admitCall("k", id, policy);
      for (let i = 0; i < 10; i++) expect(await admit(`healthy${i}`)).toBe("admitted"); // no failure: no limit
      expect(await breakers.recordFailure("k", policy, "healthy0")).toBe("closed");
      // one failure: the budget is 2, and calls admitted before it do not hold slots
      expect([await admit("a"), await admit("b")]).toEqual(["admitted", "admitted"]);
      expect(await admit("c")).toBe("refused"); // a third could be the third failure
      expect(await breakers.state("k", policy)).toBe("closed");
      expect(await breakers.release("k", policy, "a")).toBe("closed");
      expect(await admit("c")).toBe("admitted");
      expect(await breakers.recordFailure("k", policy, "b")).toBe("closed");
      expect(await admit("d")).toBe("refused"); // two failures: the budget is 1, and c holds it
      expect(await breakers.recordFailure("k", policy, "c")).toBe("open"); // the third failure: no fourth call went out after the first
      expect(await admit("e")).toBe("refused");
      clock += policy.cooldownMs;
      expect(await admit("probe")).toBe("probe");
      expect(await breakers.recordSuccess("k", policy, "probe")).toBe("closed");
      for (let i = 0; i < 10; i++) expect(await admit(`again${i}`)).toBe("admitted");
    });

    it("a tracked call whose worker died frees its slot after probeLeaseMs; a success ends the limit", async () => {
      const { breakers } = await open();
      await breakers.recordFailure("k", policy);
      for (const id of ["a", "b"]) expect(await breakers.admitCall("k", id, policy)).toBe("admitted");
      expect(await breakers.admitCall("k", "c", policy)).toBe("refused");
      clock += policy.probeLeaseMs;
      expect(await breakers.admitCall("k", "c", policy)).toBe("admitted");
      await breakers.release("k", policy, "c");
      await breakers.release("k", policy, "c"); // reported twice: the slot is freed once
      for (const id of ["d", "e"]) expect(await breakers.admitCall("k", id, policy)).toBe("admitted");
      expect(await breakers.admitCall("k", "f", policy)).toBe("refused");
      expect(await breakers.recordSuccess("k", policy, "d")).toBe("closed");
      for (const id of ["f", "g", "h", "i"]) expect(await breakers.admitCall("k", id, policy)).toBe("admitted");
    });

    it("admits only one half_open probe among many concurrent callers", async () => {
      const { breakers } = await open();
      for (let i = 0; i < 3; i++) await breakers.recordFailure("k", policy);
      clock += policy.cooldownMs;
      const results = await Promise.all(Array.from({ length: 20 }, () => breakers.admit("k", policy)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });
  });

  describe("rate limiter", () => {
    const limit = { perMinute: 60, burst: 5 }; // one unit per second, bursts of five

    it("allows a burst, then says how long to wait, and refills over time", async () => {
      const { rateLimiter } = await open();
      for (let i = 0; i < 5; i++) expect(await rateLimiter.take("rpm", 1, limit)).toBe(0);
      expect(await rateLimiter.take("rpm", 1, limit)).toBe(1_000);
      clock += 500;
      expect(await rateLimiter.take("rpm", 1, limit)).toBe(500);
      clock += 500;
      expect(await rateLimiter.take("rpm", 1, limit)).toBe(0);
      expect(await rateLimiter.take("rpm", 2, limit)).toBe(2_000);
      clock += 60_000;
      expect(await rateLimiter.take("rpm", 5, limit)).toBe(0);
    });

    it("clamps a cost above the bucket size; no limit means unlimited; bad input names the field", async () => {
      const { rateLimiter } = await open();
      expect(await rateLimiter.take("big", 50, limit)).toBe(0);
      expect(await rateLimiter.take("big", 1, limit)).toBe(1_000);
      expect(await rateLimiter.take("free", 1e9)).toBe(0);
      await expect(rateLimiter.take("x", -1, limit)).rejects.toThrow(/cost/);
      await expect(rateLimiter.take("x", 1, { perMinute: 0 })).rejects.toThrow(/perMinute/);
    });

    it("adjust takes into debt and refunds", async () => {
      const { rateLimiter } = await open();
      await rateLimiter.adjust("tpm", 8, limit); // 5 - 8 = -3
      expect(await rateLimiter.take("tpm", 1, limit)).toBe(4_000);
      await rateLimiter.adjust("tpm", -4, limit); // back to 1
      expect(await rateLimiter.take("tpm", 1, limit)).toBe(0);
      await rateLimiter.adjust("tpm", 100, limit); // floor at -5
      expect(await rateLimiter.take("tpm", 5, limit)).toBe(10_000);
    });

    it("is atomic under concurrency: exactly the bucket size is granted", async () => {
      const a = await open();
      const b = await open();
      const big = { perMinute: 1, burst: 25 };
      const takes = Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).rateLimiter.take("shared", 1, big));
      const waits = await Promise.all(takes);
      const granted = waits.filter((w) => w === 0).length;
      // in-process instances are separate processes' worth of state: each has its own bucket
      expect(granted).toBe(name === "redis" ? 25 : 50);
    });
  });

  describe("events", () => {
    it("fans an event out to every subscriber of the channel, JSON round-tripped, and stops after unsubscribe", async () => {
      const c = await open();
      const got1: unknown[] = [];
      const got2: unknown[] = [];
      const other: unknown[] = [];
      const un1 = await c.events.subscribe("dag:1", (e) => got1.push(e));
      const un2 = await c.events.subscribe("dag:1", (e) => got2.push(e));
      await c.events.subscribe("dag:2", (e) => other.push(e));
      await c.events.publish("dag:1", { type: "task_status", at: new Date(0) });
      await expect.poll(() => got1.length).toBe(1);
      await expect.poll(() => got2.length).toBe(1);
      expect(got1[0]).toEqual({ type: "task_status", at: "1970-01-01T00:00:00.000Z" });
      await un1();
      await c.events.publish("dag:1", { n: 2 });
      await expect.poll(() => got2.length).toBe(2);
      expect(got1).toHaveLength(1);
      expect(other).toHaveLength(0);
      await un2();
    });

    it("a subscriber that throws does not stop delivery to the others", async () => {
      const c = await open();
      const got: unknown[] = [];
      await c.events.subscribe("dag:t", () => {
        throw new Error("subscriber bug");
      });
      await c.events.subscribe("dag:t", (e) => got.push(e));
      await c.events.publish("dag:t", 1);
      await c.events.publish("dag:t", 2);
      await expect.poll(() => got).toEqual([1, 2]);
    });
  });
});

describe("coordination shared through one Redis", () => {
  const clients: Coordination[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });

  it("two instances (two replicas) see one breaker and one event stream", async () => {
    const keyPrefix = `apex-test:${randomUUID()}:`;
    const a = await createCoordination({ redisUrl, keyPrefix });
    const b = await createCoordination({ redisUrl, keyPrefix });
    clients.push(a, b);
    for (let i = 0; i < 3; i++) await a.breakers.recordFailure("openai", policy);
    expect(await b.breakers.state("openai", policy)).toBe("open");
    expect(await b.breakers.admit("openai", policy)).toBe(false);

    const seen: unknown[] = [];
    await b.events.subscribe("dag:x", (e) => seen.push(e));
    await a.events.publish("dag:x", { hello: "world" });
    await expect.poll(() => seen).toEqual([{ hello: "world" }]);
  });

  it("keys live under the prefix and expire", async () => {
    const keyPrefix = `apex-test:${randomUUID()}:`;
    const c = await createCoordination({ redisUrl, keyPrefix });
    clients.push(c);
    await c.breakers.recordFailure("p", policy);
    await c.rateLimiter.take("p", 1, { perMinute: 60 });
    const raw = new Redis(redisUrl);
    try {
      const keys = (await raw.keys(`${keyPrefix}*`)).sort();
      expect(keys).toEqual([`${keyPrefix}breaker:p`, `${keyPrefix}ratelimit:p`]);
      for (const k of keys) expect(await raw.pttl(k)).toBeGreaterThan(0);
    } finally {
      raw.disconnect();
    }
  });

  it("fails fast with a clear error when Redis is unreachable, without leaking the password", async () => {
    await expect(createCoordination({ redisUrl: "redis://:hunter2@127.0.0.1:1" })).rejects.toThrow(
      /cannot connect to Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1/,
    );
  });
});
