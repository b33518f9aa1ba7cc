/**
 * Process lifecycle around faults: a worker restarted while its metrics port is still held (the
 * previous process draining) waits for the port instead of exiting with EADDRINUSE, and gives up
 * with an error naming the port, not a crash; a real apex-worker process whose metrics port is
 * taken keeps running tasks. StoreApexService.close() stops the reconcile timers of open watches.
 * The database-unavailable classification and the APEX_DB_*_TIMEOUT_MS variables.
 */
import { spawn } from "node:child_process";
import { createServer, type AddressInfo, type Server } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMetricsServer } from "../src/bin/metrics-server";
import { defaultDbTimeouts, loadConfig } from "../src/config";
import { runtimeEnv } from "../src/contract/env";
import { StoreApexService } from "../src/service/apex-service";
import type { Db } from "../src/store/db";
import { isDatabaseUnavailable } from "../src/store/db-errors";
import { openMigratedDb, type MigratedDb } from "./helpers/db";
import { testTools } from "./helpers/engine-doubles";

async function holdPort(): Promise<Server> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return server;
}
const portOf = (s: Server) => (s.address() as AddressInfo).port;
const closeServer = (s: Server) => new Promise<void>((r) => s.close(() => r()));

describe("metrics port in use at start", () => {
  it("binds once the previous holder lets go", async () => {
    const previous = await holdPort();
    const port = portOf(previous);
    const starting = startMetricsServer(port, () => true, "127.0.0.1", { bindRetryMs: 20_000 });
    // Still retrying while held; then the holder exits.
    const early = await Promise.race([starting.then(() => "bound"), new Promise((r) => setTimeout(() => r("waiting"), 600))]);
    expect(early).toBe("waiting");
    await closeServer(previous);
    const metrics = await starting;
    expect(metrics.port).toBe(port);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    await metrics.close();
  });

  it("gives up after bindRetryMs with an error naming the port", async () => {
    const holder = await holdPort();
    const port = portOf(holder);
    try {
      await expect(startMetricsServer(port, () => true, "127.0.0.1", { bindRetryMs: 500 })).rejects.toThrow(
        `metrics server cannot listen on 127.0.0.1:${port}`,
      );
    } finally {
      await closeServer(holder);
    }
  });

  describe("a real apex-worker whose metrics port is taken", () => {
    let store: MigratedDb;
    beforeAll(async () => {
      store = await openMigratedDb("postgres");
    });
    afterAll(async () => store?.close());

    it("does not exit: it runs tasks without its metrics server", async () => {
      const holder = await holdPort();
      const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: store.url, APEX_METRICS_PORT: String(portOf(holder)), APEX_SANDBOX_HARDENED: "off", LOG_LEVEL: "info" };
      delete env.REDIS_URL;
      const child = spawn(process.execPath, ["--import", "tsx", path.resolve(__dirname, "../src/bin/apex-worker.ts")], {
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.setEncoding("utf8").on("data", (c: string) => (output += c));
      child.stderr.setEncoding("utf8").on("data", (c: string) => (output += c));
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      try {
        await expect.poll(() => output.includes("apex-worker running") || child.exitCode !== null, { timeout: 30_000, interval: 50 }).toBe(true);
        expect(output).toContain("metrics port in use");
        const service = new StoreApexService({ db: store.db, tools: testTools() });
        const agent = await service.createAgent({ name: "metrics-port" });
        const { id } = await service.submitDag(
          { agent_id: agent.id, name: "runs", tasks: [{ id: "a", kind: "llm", model: "local/echo", prompt: "hi" }] },
          { keyId: "k", role: "admin" },
        );
        await expect.poll(async () => (await service.getDag(id)).status, { timeout: 30_000, interval: 100 }).toBe("succeeded");
        expect(child.exitCode, output).toBeNull();
        await service.close();
      } finally {
        child.kill("SIGTERM");
        await exited;
        await closeServer(holder);
      }
    }, 60_000);
  });
});

describe("StoreApexService.close()", () => {
  it("stops the reconcile timers of open watches", async () => {
    const store = await openMigratedDb("pglite");
    let reads = 0;
    const counting: Db = {
      kind: store.db.kind,
      query: (sql, params) => {
        reads++;
        return store.db.query(sql, params);
      },
      transaction: (fn) => store.db.transaction(fn),
      close: () => store.db.close(),
    };
    try {
      const service = new StoreApexService({ db: counting, tools: testTools(), events: store.events, watchReconcileMs: 20 });
      const agent = await service.createAgent({ name: "close" });
      const { id } = await service.submitDag(
        { agent_id: agent.id, name: "open", tasks: [{ id: "a", kind: "llm", model: "local/echo", prompt: "no worker" }] },
        { keyId: "k", role: "admin" },
      );
      await service.watchDag(id, () => undefined);
      // The reconcile timer reads the DAG while the watch is open...
      const before = reads;
      await expect.poll(() => reads - before, { timeout: 5_000, interval: 10 }).toBeGreaterThan(2);
      await service.close();
      // ...and never again once the service is closed (let any read already in flight land first).
      await new Promise((r) => setTimeout(r, 50));
      const atClose = reads;
      await new Promise((r) => setTimeout(r, 200));
      expect(reads).toBe(atClose);
    } finally {
      await store.close();
    }
  });
});

describe("database-unavailable classification", () => {
  const err = (props: Record<string, unknown>, message = "x") => Object.assign(new Error(message), props);
  it.each([
    ["57P01 admin shutdown", err({ code: "57P01" })],
    ["57P02 crash shutdown", err({ code: "57P02" })],
    ["57P03 cannot connect now", err({ code: "57P03" })],
    ["08006 connection failure", err({ code: "08006" })],
    ["57014 statement timeout", err({ code: "57014" })],
    ["ECONNREFUSED", err({ code: "ECONNREFUSED" })],
    ["ECONNRESET", err({ code: "ECONNRESET" })],
    ["terminated", new Error("Connection terminated unexpectedly")],
    ["pool timeout", new Error("timeout exceeded when trying to connect")],
    ["query timeout", new Error("Query read timeout")],
    ["connect timeout", new Error("timeout expired")],
    ["wrapped", new Error("claim failed", { cause: err({ code: "57P01" }) })],
    ["aggregate", new AggregateError([err({ code: "ECONNREFUSED" })], "connect failed")],
  ])("%s is unavailable", (_name, e) => expect(isDatabaseUnavailable(e)).toBe(true));

  it.each([
    ["syntax error", err({ code: "42601" })],
    ["unique violation", err({ code: "23505" })],
    ["a bug", new TypeError("cannot read properties of undefined")],
    ["not an error", "57P01"],
  ])("%s is not", (_name, e) => expect(isDatabaseUnavailable(e)).toBe(false));
});

describe("APEX_DB_*_TIMEOUT_MS", () => {
  it("default to 3 s connect, 3.5 s query, 3 s statement, and parse when given", () => {
    expect(loadConfig({}).dbTimeouts).toEqual(defaultDbTimeouts);
    expect(defaultDbTimeouts).toEqual({ connectTimeoutMs: 3_000, queryTimeoutMs: 3_500, statementTimeoutMs: 3_000 });
    const c = loadConfig({ [runtimeEnv.dbConnectTimeoutMs]: "1500", [runtimeEnv.dbQueryTimeoutMs]: " 0 ", [runtimeEnv.dbStatementTimeoutMs]: "60000" });
    expect(c.dbTimeouts).toEqual({ connectTimeoutMs: 1_500, queryTimeoutMs: 0, statementTimeoutMs: 60_000 });
  });

  it.each([
    ["APEX_DB_CONNECT_TIMEOUT_MS", "-1"],
    ["APEX_DB_QUERY_TIMEOUT_MS", "soon"],
    ["APEX_DB_STATEMENT_TIMEOUT_MS", "2.5"],
    ["APEX_DB_STATEMENT_TIMEOUT_MS", "3600001"],
  ])("%s=%j is refused naming the variable", (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(`${name}: expected milliseconds from 0 (none) to 3600000`);
  });
});
