/**
 * The API's abuse limits (api/rate-limit.ts): token buckets per API key and per client IP on HTTP
 * (429 + Retry-After) and gRPC (RESOURCE_EXHAUSTED + retry-after metadata), taken before the key
 * lookup for the IP (a flood of bad keys costs no queries once limited), never on health,
 * readiness or metrics; shared by two replicas through a real Redis; judged per replica when the
 * shared limiter fails; a cap on open DAG watches per key (SSE and gRPC); config named in errors.
 */
import { status as GrpcStatus } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildHttpServer } from "../src/api/http/server";
import { peerIp } from "../src/api/grpc/server";
import { ApiRateLimiter, bucketOf, type ApiLimits } from "../src/api/rate-limit";
import { ApiKeyStore } from "../src/auth/keys";
import { loadConfig } from "../src/config";
import { runtimeEnv } from "../src/contract/env";
import { createCoordination } from "../src/coord";
import type { Coordination, RateLimiter } from "../src/coord/types";
import type { Db } from "../src/store/db";
import { createApiFixture, type ApiFixture, type Caller } from "./api-support/fixture";
import { connectGrpc } from "./api-support/grpc-client";

const off: ApiLimits = { perKeyPerMinute: 0, perIpPerMinute: 0, maxWatchesPerKey: 0 };

describe("ApiRateLimiter buckets", () => {
  it("a key gets a burst of ten seconds' worth, then waits for the refill; Retry-After is that wait", async () => {
    let clock = 1_000_000;
    const limiter = new ApiRateLimiter({ ...off, perKeyPerMinute: 60 }, { now: () => clock });
    expect(bucketOf(60)).toEqual({ perMinute: 60, burst: 10 });
    for (let i = 0; i < 10; i++) await limiter.admitKey("k1");
    const refused = await limiter.admitKey("k1").catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "resource_exhausted", retryAfterSeconds: 1 });
    expect((refused as Error).message).toMatch(/more than 60 requests per minute with this API key; retry in 1 s/);
    // Another key has its own bucket.
    await limiter.admitKey("k2");
    clock += 1_000;
    await limiter.admitKey("k1");
    await expect(limiter.admitKey("k1")).rejects.toMatchObject({ code: "resource_exhausted" });
  });

  it("0 turns a limit off", async () => {
    const limiter = new ApiRateLimiter(off, { now: () => 0 });
    for (let i = 0; i < 5_000; i++) {
      await limiter.admitKey("k");
      await limiter.admitIp("127.0.0.1");
    }
    const releases = Array.from({ length: 1_000 }, () => limiter.openWatch("k"));
    expect(limiter.openWatches("k")).toBe(1_000);
    for (const release of releases) release();
    expect(limiter.openWatches("k")).toBe(0);
  });

  it("a failing or slow shared limiter is not waited for: this replica's bucket judges", async () => {
    const failing: RateLimiter = { take: () => Promise.reject(new Error("Connection is closed.")), adjust: async () => undefined };
    const hanging: RateLimiter = { take: () => new Promise<number>(() => undefined), adjust: async () => undefined };
    for (const shared of [failing, hanging]) {
      const limiter = new ApiRateLimiter({ ...off, perIpPerMinute: 6 }, { shared, sharedTimeoutMs: 20, now: () => 0 });
      await limiter.admitIp("10.0.0.1");
      await expect(limiter.admitIp("10.0.0.1")).rejects.toMatchObject({ code: "resource_exhausted" });
    }
  });

  it("peerIp takes the port off gRPC peer strings", () => {
    expect(peerIp("127.0.0.1:50123")).toBe("127.0.0.1");
    expect(peerIp("ipv4:10.1.2.3:443")).toBe("10.1.2.3");
    expect(peerIp("[::1]:50123")).toBe("::1");
    expect(peerIp("ipv6:[fe80::1]:80")).toBe("fe80::1");
  });
});

describe("shared by two replicas through Redis", () => {
  let coordination: Coordination;
  beforeAll(async () => {
    coordination = await createCoordination({ redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379", keyPrefix: `apex-test-rl-${process.pid}-${Date.now()}:` });
  });
  afterAll(async () => coordination?.close());

  it("one key's budget is spent across both replicas, not once per replica", async () => {
    expect(coordination.kind).toBe("redis");
    const limits = { ...off, perKeyPerMinute: 60 };
    const a = new ApiRateLimiter(limits, { shared: coordination.rateLimiter });
    const b = new ApiRateLimiter(limits, { shared: coordination.rateLimiter });
    let admitted = 0;
    for (let i = 0; i < 20; i++) {
      const replica = i % 2 === 0 ? a : b;
      if (await replica.admitKey("shared-key").then(() => true, () => false)) admitted++;
    }
    // A burst of 10 (plus at most what refilled at 1 per second while the loop ran).
    expect(admitted).toBeGreaterThanOrEqual(10);
    expect(admitted).toBeLessThanOrEqual(11);
  });
});

/** A Db that counts statements, to show a refused request cost no lookup. */
function countingDb(db: Db): { db: Db; count: () => number } {
  let n = 0;
  return {
    db: { ...db, kind: db.kind, query: (sql, params) => (n++, db.query(sql, params)), transaction: (fn) => db.transaction(fn), close: () => db.close() },
    count: () => n,
  };
}

describe("HTTP: 429 with Retry-After; health, readiness and metrics never limited", () => {
  let fx: ApiFixture;
  beforeAll(async () => {
    fx = await createApiFixture({ service: "double" });
  });
  afterAll(async () => fx?.close());

  const as = (caller: Caller) => (fx.tokens[caller] ? { authorization: `Bearer ${fx.tokens[caller]}` } : {});

  it("per key: the key over its rate gets 429 naming the limit; another key from the same address goes on", async () => {
    const app = buildHttpServer({ ...fx.deps, limits: new ApiRateLimiter({ ...off, perKeyPerMinute: 12 }) });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await app.inject({ method: "GET", url: "/v1/agents", headers: as("viewer") })).statusCode);
    // 12 a minute: a burst of 2, then one more every 5 s.
    expect(statuses).toEqual([200, 200, 429]);
    const limited = await app.inject({ method: "GET", url: "/v1/agents", headers: as("viewer") });
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(limited.json()).toEqual({ error: { code: "resource_exhausted", message: expect.stringContaining("12 requests per minute with this API key") } });
    expect((await app.inject({ method: "GET", url: "/v1/agents", headers: as("operator") })).statusCode).toBe(200);
    await app.close();
  });

  it("per IP, before the key lookup: a flood of unknown keys stops costing queries once limited", async () => {
    const counted = countingDb(fx.store.db);
    // No lookup cache at all: without the IP limit every request would be a query.
    const keys = new ApiKeyStore(counted.db, { cacheMs: 0, missCacheMs: 0 });
    const app = buildHttpServer({ ...fx.deps, keys, limits: new ApiRateLimiter({ ...off, perIpPerMinute: 30 }) });
    const statuses = new Map<number, number>();
    for (let i = 0; i < 40; i++) {
      const res = await app.inject({ method: "GET", url: "/v1/agents", headers: { authorization: `Bearer apex_guess_${i}_${"x".repeat(30)}` } });
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    }
    // A burst of 5 (30/min): 5 lookups answered 401, the rest refused before any lookup.
    expect(statuses.get(401)).toBe(5);
    expect(statuses.get(429)).toBe(35);
    expect(counted.count()).toBe(5);

    for (const url of ["/healthz", "/readyz", "/openapi.json"]) {
      for (let i = 0; i < 20; i++) expect((await app.inject({ method: "GET", url })).statusCode).toBe(200);
    }
    await app.close();
  });
});

describe("gRPC: RESOURCE_EXHAUSTED with retry-after metadata", () => {
  let fx: ApiFixture;
  beforeAll(async () => {
    fx = await createApiFixture({ service: "double", deps: { limits: new ApiRateLimiter({ ...off, perKeyPerMinute: 6 }) } });
  });
  afterAll(async () => fx?.close());

  it("the key over its rate is refused, naming the limit", async () => {
    const grpc = await connectGrpc(fx);
    try {
      const md = grpc.metadataFor("viewer");
      expect((await grpc.unary("ListAgents", {}, md)).error).toBeUndefined();
      const { error } = await grpc.unary("ListAgents", {}, md);
      expect(error?.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
      expect(error?.details).toContain("6 requests per minute with this API key");
      expect(Number(error?.metadata.get("retry-after")[0])).toBeGreaterThanOrEqual(1);
      expect(error?.metadata.get("apex-error-code")).toEqual(["resource_exhausted"]);
    } finally {
      await grpc.close();
    }
  });
});

describe("a cap on open DAG watches per key", () => {
  let fx: ApiFixture;
  const cap = 3;
  beforeAll(async () => {
    fx = await createApiFixture({ service: "double", deps: { limits: new ApiRateLimiter({ ...off, maxWatchesPerKey: cap }) } });
  });
  afterAll(async () => fx?.close());

  it("SSE: the watch past the cap gets 429 naming it; closing one frees a slot; other keys are not counted", async () => {
    const server = buildHttpServer(fx.deps);
    await server.listen({ port: 0, host: "127.0.0.1" });
    const address = server.server.address();
    if (!address || typeof address === "string") throw new Error("no address");
    const url = (id: string) => `http://127.0.0.1:${address.port}/v1/dags/${id}/events`;
    const headers = { authorization: `Bearer ${fx.tokens.viewer}` };
    const open: AbortController[] = [];
    try {
      for (let i = 0; i < cap; i++) {
        const controller = new AbortController();
        const res = await fetch(url(fx.double!.seedDag(fx.agentA.id).id), { headers, signal: controller.signal });
        expect(res.status).toBe(200);
        await res.body!.getReader().read();
        open.push(controller);
      }
      const refused = await fetch(url(fx.double!.seedDag(fx.agentA.id).id), { headers });
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("1");
      expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(`APEX_API_MAX_WATCHES_PER_KEY=${cap}`);
      const other = new AbortController();
      const byOperator = await fetch(url(fx.double!.seedDag(fx.agentA.id).id), { headers: { authorization: `Bearer ${fx.tokens.operator}` }, signal: other.signal });
      expect(byOperator.status).toBe(200);
      other.abort();

      open.shift()!.abort();
      await expect.poll(() => fx.deps.limits!.openWatches(fx.keyIds.viewer)).toBe(cap - 1);
      const again = new AbortController();
      const res = await fetch(url(fx.double!.seedDag(fx.agentA.id).id), { headers, signal: again.signal });
      expect(res.status).toBe(200);
      open.push(again);
    } finally {
      for (const c of open) c.abort();
      await server.close();
    }
    await expect.poll(() => fx.deps.limits!.openWatches(fx.keyIds.viewer)).toBe(0);
  });

  it("gRPC WatchDag past the cap: RESOURCE_EXHAUSTED; a watch of a finished DAG gives its slot back", async () => {
    const grpc = await connectGrpc(fx);
    try {
      const md = grpc.metadataFor("admin");
      for (let i = 0; i < 5; i++) {
        const done = fx.double!.seedDag(fx.agentA.id, "finished", "succeeded");
        expect((await grpc.stream("WatchDag", { id: done.id }, md)).error).toBeUndefined();
      }
      expect(fx.deps.limits!.openWatches(fx.keyIds.admin)).toBe(0);
      const calls = Array.from({ length: cap }, () => grpc.client.WatchDag as (r: unknown, m: unknown) => NodeJS.EventEmitter & { cancel(): void });
      const streams = calls.map((fn) => fn.call(grpc.client, { id: fx.double!.seedDag(fx.agentA.id).id }, md));
      for (const s of streams) s.on("error", () => undefined);
      await expect.poll(() => fx.deps.limits!.openWatches(fx.keyIds.admin)).toBe(cap);
      const { error } = await grpc.stream("WatchDag", { id: fx.double!.seedDag(fx.agentA.id).id }, md);
      expect(error?.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
      expect(error?.details).toContain("open DAG watches");
      for (const s of streams) s.cancel();
      await expect.poll(() => fx.deps.limits!.openWatches(fx.keyIds.admin)).toBe(0);
    } finally {
      await grpc.close();
    }
  });
});

describe("configuration", () => {
  it("defaults and 0 = off; bad values name the variable", () => {
    const c = loadConfig({});
    expect([c.apiRateLimitPerKey, c.apiRateLimitPerIp, c.apiMaxWatchesPerKey]).toEqual([1_200, 3_000, 50]);
    expect(loadConfig({ [runtimeEnv.apiRateLimitPerKey]: "0" }).apiRateLimitPerKey).toBe(0);
    expect(() => loadConfig({ [runtimeEnv.apiRateLimitPerIp]: "lots" })).toThrow("APEX_API_RATE_LIMIT_PER_IP: expected requests per minute");
    expect(() => loadConfig({ [runtimeEnv.apiMaxWatchesPerKey]: "-1" })).toThrow("APEX_API_MAX_WATCHES_PER_KEY: expected a whole number of watches");
    expect(loadConfig({}).approvalAllowSelf).toBe(false);
    expect(loadConfig({ [runtimeEnv.approvalAllowSelf]: "true" }).approvalAllowSelf).toBe(true);
    expect(() => loadConfig({ [runtimeEnv.approvalAllowSelf]: "yes" })).toThrow("APEX_APPROVAL_ALLOW_SELF: expected true or false");
    expect(loadConfig({}).approvalTtlMs).toBe(24 * 60 * 60_000);
    expect(() => loadConfig({ [runtimeEnv.approvalTtlMs]: "10" })).toThrow("APEX_APPROVAL_TTL_MS: expected milliseconds from 1000");
  });
});
