/**
 * API key lookups cached for APEX_API_KEY_CACHE_MS, on real Postgres: a repeated request costs no
 * query (counted through the Db seam), a revocation is refused at once by the store that made it
 * and by another process's store within its TTL, a lookup racing a revocation is not cached, the
 * cache is bounded, and a bad setting is refused naming the variable.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ApiKeyCache } from "../src/auth/key-cache";
import { ApiKeyStore } from "../src/auth/keys";
import { openRuntime, type Runtime } from "../src/bin/runtime";
import { defaultApiKeyCacheMs, loadConfig } from "../src/config";
import { runtimeEnv } from "../src/contract/env";
import { openDb, type Db } from "../src/store/db";
import { openMigratedDb, type MigratedDb } from "./helpers/db";

/** A Db that counts the statements sent through it, and can hold a query's result back. */
function observedDb(db: Db) {
  const state = { queries: 0, holdResults: undefined as Promise<void> | undefined, onResult: () => {} };
  const observed: Db = {
    kind: db.kind,
    async query<T>(sql: string, params?: readonly unknown[]) {
      state.queries++;
      const result = await db.query<T>(sql, params);
      state.onResult();
      if (state.holdResults) await state.holdResults;
      return result;
    },
    transaction: (fn) => db.transaction(fn),
    close: () => db.close(),
  };
  return { db: observed, state };
}

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("ApiKeyStore with a lookup cache, on Postgres", () => {
  let store: MigratedDb;
  /** Another pool on the same database: what another replica's store sees. */
  let otherProcessDb: Db;
  let uncached: ApiKeyStore;

  beforeAll(async () => {
    store = await openMigratedDb("postgres");
    otherProcessDb = await openDb({ databaseUrl: store.url, poolSize: 2 });
    uncached = new ApiKeyStore(store.db);
  });
  afterAll(async () => {
    await otherProcessDb?.close();
    await store?.close();
  });
  beforeEach(async () => {
    await store.db.query("DELETE FROM api_keys");
  });

  it("a second request within the TTL costs no query; a refused key is remembered too", async () => {
    const { db, state } = observedDb(store.db);
    const keys = new ApiKeyStore(db, { cacheMs: 5_000 });
    const v = await uncached.create({ name: "v", role: "viewer" });

    expect(await keys.authenticate(v.secret)).toEqual({ keyId: v.key.id, role: "viewer" });
    expect(state.queries).toBe(1);
    for (let i = 0; i < 3; i++) expect(await keys.authenticate(v.secret)).toEqual({ keyId: v.key.id, role: "viewer" });
    expect(state.queries).toBe(1);
    // The one lookup also recorded the use.
    expect((await uncached.list())[0]?.lastUsedAt).toBeDefined();

    const unknown = `apex_${"x".repeat(43)}`;
    expect(await keys.authenticate(unknown)).toBeUndefined();
    expect(await keys.authenticate(unknown)).toBeUndefined();
    expect(state.queries).toBe(2);
  });

  it("without a TTL (APEX_API_KEY_CACHE_MS=0) every request is a query", async () => {
    const { db, state } = observedDb(store.db);
    const keys = new ApiKeyStore(db, { cacheMs: 0 });
    const v = await uncached.create({ name: "v", role: "viewer" });
    for (let i = 0; i < 3; i++) await keys.authenticate(v.secret);
    expect(state.queries).toBe(3);
  });

  it("a revoked key is refused at once by the revoking store, and by another process's store within its TTL", async () => {
    const ttlMs = 200;
    const here = new ApiKeyStore(store.db, { cacheMs: ttlMs });
    const elsewhere = new ApiKeyStore(otherProcessDb, { cacheMs: ttlMs });
    const v = await uncached.create({ name: "v", role: "viewer" });
    expect(await here.authenticate(v.secret)).toBeDefined();
    expect(await elsewhere.authenticate(v.secret)).toBeDefined();

    await here.revoke(v.key.id);
    const revokedAt = performance.now();
    expect(await here.authenticate(v.secret)).toBeUndefined();

    await until(async () => (await elsewhere.authenticate(v.secret)) === undefined, 5_000);
    expect(performance.now() - revokedAt).toBeLessThan(ttlMs + 1_000);
  });

  it("another process keeps accepting a revoked key until its entry expires, and not a moment longer", async () => {
    let clock = 0;
    const elsewhere = new ApiKeyStore(otherProcessDb, { cacheMs: 5_000, now: () => clock });
    const v = await uncached.create({ name: "v", role: "viewer" });
    expect(await elsewhere.authenticate(v.secret)).toBeDefined();
    await uncached.revoke(v.key.id);
    clock = 4_999;
    expect(await elsewhere.authenticate(v.secret)).toBeDefined();
    clock = 5_000;
    expect(await elsewhere.authenticate(v.secret)).toBeUndefined();
  });

  it("a lookup that read the row before a revocation by the same store is not cached", async () => {
    const { db, state } = observedDb(store.db);
    const keys = new ApiKeyStore(db, { cacheMs: 60_000 });
    const v = await uncached.create({ name: "v", role: "viewer" });

    let release = () => {};
    state.holdResults = new Promise<void>((resolve) => (release = resolve));
    const read = new Promise<void>((resolve) => (state.onResult = resolve));
    const inFlight = keys.authenticate(v.secret);
    await read;
    state.holdResults = undefined;
    await keys.revoke(v.key.id);
    release();

    // It read the row before the revocation committed, so it answers with the key, but must not keep it.
    expect(await inFlight).toBeDefined();
    expect(await keys.authenticate(v.secret)).toBeUndefined();
  });
});

describe("unknown keys: refused without a query after the first miss (APEX_API_KEY_MISS_CACHE_MS)", () => {
  let store: MigratedDb;
  let otherProcessDb: Db;

  beforeAll(async () => {
    store = await openMigratedDb("postgres");
    otherProcessDb = await openDb({ databaseUrl: store.url, poolSize: 2 });
  });
  afterAll(async () => {
    await otherProcessDb?.close();
    await store?.close();
  });

  it("a repeated unknown key costs one query, even with the found-key cache off", async () => {
    const { db, state } = observedDb(store.db);
    const keys = new ApiKeyStore(db, { cacheMs: 0, missCacheMs: 10_000 });
    const unknown = `apex_${"u".repeat(43)}`;
    for (let i = 0; i < 200; i++) expect(await keys.authenticate(unknown)).toBeUndefined();
    expect(state.queries).toBe(1);
    // A different unknown key is a first miss of its own.
    expect(await keys.authenticate(`apex_${"w".repeat(43)}`)).toBeUndefined();
    expect(state.queries).toBe(2);
  });

  it("with 0 every unknown key is a query", async () => {
    const { db, state } = observedDb(store.db);
    const keys = new ApiKeyStore(db, { cacheMs: 0, missCacheMs: 0 });
    for (let i = 0; i < 3; i++) await keys.authenticate(`apex_${"z".repeat(43)}`);
    expect(state.queries).toBe(3);
  });

  it("a key registered after its miss: at once by the registering store, by another within the miss TTL", async () => {
    let clock = 0;
    const chosen = `operator-chosen-bootstrap-key-${Date.now()}`;
    const registering = new ApiKeyStore(store.db, { cacheMs: 5_000, missCacheMs: 10_000, now: () => clock });
    const elsewhere = new ApiKeyStore(otherProcessDb, { cacheMs: 5_000, missCacheMs: 10_000, now: () => clock });
    expect(await registering.authenticate(chosen)).toBeUndefined();
    expect(await elsewhere.authenticate(chosen)).toBeUndefined();

    await registering.bootstrapAdmin(chosen);
    expect(await registering.authenticate(chosen)).toMatchObject({ role: "admin" });
    clock = 9_999;
    expect(await elsewhere.authenticate(chosen)).toBeUndefined();
    clock = 10_000;
    expect(await elsewhere.authenticate(chosen)).toMatchObject({ role: "admin" });
  });

  it("a flood of distinct unknown keys stays bounded and cannot push out the known ones", () => {
    const cache = new ApiKeyCache({ ttlMs: 0, missTtlMs: 10_000, maxEntries: 10, now: () => 0 });
    for (let i = 0; i < 50_000; i++) cache.remember(`random-${i}`, undefined, cache.beginLookup());
    expect(cache.size).toBeLessThanOrEqual(1_000);
    expect(cache.lookup("random-49999")).toEqual({ principal: undefined });
    expect(cache.lookup("random-0")).toBeUndefined();
  });

  it("defaults to 10 s; a bad value is refused naming the variable", () => {
    expect(loadConfig({}).apiKeyMissCacheMs).toBe(10_000);
    expect(loadConfig({ [runtimeEnv.apiKeyMissCacheMs]: "0" }).apiKeyMissCacheMs).toBe(0);
    expect(() => loadConfig({ [runtimeEnv.apiKeyMissCacheMs]: "-5" })).toThrow("APEX_API_KEY_MISS_CACHE_MS: expected milliseconds from 0 (no cache) to 300000");
  });
});

describe("ApiKeyCache bounds", () => {
  const principal = (keyId: string) => ({ keyId, role: "viewer" as const });

  it("keeps at most maxEntries found keys, dropping the least recently used", () => {
    const cache = new ApiKeyCache({ ttlMs: 1_000, maxEntries: 2, now: () => 0 });
    for (const hash of ["a", "b"]) cache.remember(hash, principal(hash), cache.beginLookup());
    expect(cache.lookup("a")).toBeDefined();
    cache.remember("c", principal("c"), cache.beginLookup());
    expect(cache.lookup("b")).toBeUndefined();
    expect(cache.lookup("a")?.principal).toEqual(principal("a"));
    expect(cache.lookup("c")?.principal).toEqual(principal("c"));
  });

  it("refused keys live apart, briefly, and cannot push found keys out", () => {
    let clock = 0;
    const cache = new ApiKeyCache({ ttlMs: 5_000, maxEntries: 1, now: () => clock });
    cache.remember("known", principal("known"), cache.beginLookup());
    for (let i = 0; i < 5_000; i++) cache.remember(`random-${i}`, undefined, cache.beginLookup());
    expect(cache.lookup("known")?.principal).toEqual(principal("known"));
    expect(cache.size).toBeLessThanOrEqual(1 + 1_000);
    expect(cache.lookup("random-4999")).toEqual({ principal: undefined });
    clock = 1_000;
    expect(cache.lookup("random-4999")).toBeUndefined();
    expect(cache.lookup("known")).toBeDefined();
  });
});

describe("APEX_API_KEY_CACHE_MS", () => {
  it("defaults to 5 s; 0 disables the cache; empty is the default", () => {
    expect(loadConfig({}).apiKeyCacheMs).toBe(defaultApiKeyCacheMs);
    expect(defaultApiKeyCacheMs).toBe(5_000);
    expect(loadConfig({ [runtimeEnv.apiKeyCacheMs]: "0" }).apiKeyCacheMs).toBe(0);
    expect(loadConfig({ [runtimeEnv.apiKeyCacheMs]: " 60000 " }).apiKeyCacheMs).toBe(60_000);
    expect(loadConfig({ [runtimeEnv.apiKeyCacheMs]: "" }).apiKeyCacheMs).toBe(defaultApiKeyCacheMs);
  });

  it.each(["60001", "-1", "5s", "2.5"])("refuses %j naming the variable and the range", (value) => {
    expect(() => loadConfig({ [runtimeEnv.apiKeyCacheMs]: value })).toThrow(
      "APEX_API_KEY_CACHE_MS: expected milliseconds from 0 (no cache) to 60000",
    );
  });

  describe("reaches the runtime's key store", () => {
    let store: MigratedDb;
    let cached: Runtime;
    let uncachedRt: Runtime;

    beforeAll(async () => {
      store = await openMigratedDb("postgres");
      const env = { [runtimeEnv.databaseUrl]: store.url, LOG_LEVEL: "silent" };
      cached = await openRuntime(loadConfig({ ...env, [runtimeEnv.apiKeyCacheMs]: "60000" }), { runs: "api" });
      uncachedRt = await openRuntime(loadConfig({ ...env, [runtimeEnv.apiKeyCacheMs]: "0" }), { runs: "api" });
    });
    afterAll(async () => {
      await cached?.close();
      await uncachedRt?.close();
      await store?.close();
    });

    it("a runtime with a 60 s TTL keeps accepting a key another process revoked; one with 0 refuses it at once", async () => {
      const keys = new ApiKeyStore(store.db);
      const v = await keys.create({ name: "v", role: "viewer" });
      expect(await cached.keys.authenticate(v.secret)).toBeDefined();
      expect(await uncachedRt.keys.authenticate(v.secret)).toBeDefined();
      await keys.revoke(v.key.id);
      expect(await cached.keys.authenticate(v.secret)).toBeDefined();
      expect(await uncachedRt.keys.authenticate(v.secret)).toBeUndefined();
    });
  });
});
