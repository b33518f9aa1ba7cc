/**
 * APEX_DB_POOL_SIZE: parsed with an error naming the variable; unset, the pool is sized to what
 * the process runs (API 10, worker concurrency + 4, local mode both, at most 100); and openRuntime
 * really opens that many Postgres connections at most (distinct backends under a burst of queries).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRuntime, type OpenRuntimeOptions } from "../src/bin/runtime";
import { dbPoolSizeOf, loadConfig } from "../src/config";
import { runtimeEnv } from "../src/contract/env";
import { createTestDatabase, type TestDatabase } from "./helpers/db";

describe("APEX_DB_POOL_SIZE", () => {
  it("is unset by default and parsed when given", () => {
    expect(loadConfig({}).dbPoolSize).toBeUndefined();
    expect(loadConfig({ [runtimeEnv.dbPoolSize]: "" }).dbPoolSize).toBeUndefined();
    expect(loadConfig({ [runtimeEnv.dbPoolSize]: " 25 " }).dbPoolSize).toBe(25);
  });

  it.each(["0", "-3", "2.5", "ten", "1001"])("refuses %j naming the variable", (value) => {
    expect(() => loadConfig({ [runtimeEnv.dbPoolSize]: value })).toThrow(
      "APEX_DB_POOL_SIZE: expected a whole number of connections from 1 to 1000",
    );
  });

  it("defaults to 10 for the API, concurrency + 4 for a worker, their sum in local mode, at most 100", () => {
    const config = loadConfig({ [runtimeEnv.workerConcurrency]: "8" });
    expect(dbPoolSizeOf(config, "api")).toBe(10);
    expect(dbPoolSizeOf(config, "worker")).toBe(12);
    expect(dbPoolSizeOf(config, "local")).toBe(22);
    expect(dbPoolSizeOf(loadConfig({}), "worker")).toBe(8);
    const wide = loadConfig({ [runtimeEnv.workerConcurrency]: "200" });
    expect(dbPoolSizeOf(wide, "worker")).toBe(100);
    expect(dbPoolSizeOf(wide, "api")).toBe(10);
  });

  it("when set, applies to every process, above the default cap too", () => {
    const config = loadConfig({ [runtimeEnv.workerConcurrency]: "200", [runtimeEnv.dbPoolSize]: "150" });
    for (const runs of ["api", "worker", "local"] as const) expect(dbPoolSizeOf(config, runs)).toBe(150);
  });
});

describe("openRuntime opens the pool it is told", () => {
  let pg: TestDatabase;
  beforeAll(async () => {
    pg = await createTestDatabase();
  });
  afterAll(async () => pg?.drop());

  /** Backends that served a burst of `burst` overlapping queries: the pool's size when the burst is larger. */
  async function connectionsUnderBurst(env: Record<string, string>, options: OpenRuntimeOptions, burst: number): Promise<number> {
    const rt = await openRuntime(loadConfig({ [runtimeEnv.databaseUrl]: pg.url, LOG_LEVEL: "silent", ...env }), options);
    try {
      const results = await Promise.all(
        Array.from({ length: burst }, () => rt.db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid, pg_sleep(0.2)")),
      );
      return new Set(results.map((r) => r.rows[0]!.pid)).size;
    } finally {
      await rt.close();
    }
  }

  it("a worker with 2 slots: 6 connections", async () => {
    expect(await connectionsUnderBurst({ [runtimeEnv.workerConcurrency]: "2" }, { runs: "worker" }, 12)).toBe(6);
  });

  it("the API: 10 connections", async () => {
    expect(await connectionsUnderBurst({}, { runs: "api" }, 14)).toBe(10);
  });

  it("APEX_DB_POOL_SIZE=3: 3 connections", async () => {
    expect(await connectionsUnderBurst({ [runtimeEnv.dbPoolSize]: "3" }, { runs: "worker" }, 8)).toBe(3);
  });
});
