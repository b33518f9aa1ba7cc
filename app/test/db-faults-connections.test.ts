/**
 * The Postgres store under server-side faults, on a private cluster this file may restart: a
 * backend terminated (pg_terminate_backend) or shut down (fast restart, 57P01) while a transaction
 * holds its connection idle does not crash the process (pg-pool stops listening for errors on a
 * checked-out client; an unhandled 'error' event would fail this file); the failure is classified
 * as "database unavailable"; the pool and LISTEN recover on their own; a LISTEN that failed is not
 * remembered, so a later one works. Through a blackholed link, queries and connects fail within
 * their timeouts instead of hanging.
 */
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresDb } from "../src/store/postgres";
import { isDatabaseUnavailable } from "../src/store/db-errors";
import { startPrivatePostgres, type PrivatePostgres, type StopMode } from "./helpers/private-postgres";
import { startTcpProxy, type TcpProxy } from "./helpers/tcp-proxy";

let pg: PrivatePostgres;
let db: PostgresDb;

beforeAll(async () => {
  pg = await startPrivatePostgres();
  db = new PostgresDb(pg.url, 4, { connectTimeoutMs: 3_000, queryTimeoutMs: 4_000, statementTimeoutMs: 3_000 });
}, 60_000);

afterAll(async () => {
  await db?.close();
  await pg?.destroy();
});

/** Resolves when `fn` stops throwing (the database is back). */
async function eventually<T>(fn: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A transaction that ran one statement and now waits, connection idle in transaction, until released. */
function idleTransaction() {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let began!: () => void;
  const begun = new Promise<void>((r) => (began = r));
  const done = db.transaction(async (tx) => {
    await tx.query("SELECT 1");
    began();
    await released;
    await tx.query("SELECT 2");
  });
  done.catch(() => undefined);
  return { begun, release, done };
}

/** Client backends other than the one asking. */
async function otherBackends(): Promise<number> {
  const c = new Client({ connectionString: pg.url });
  await c.connect();
  try {
    const r = await c.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    );
    return r.rows[0]?.n ?? -1;
  } finally {
    await c.end();
  }
}

async function notifyUntilHeard(channel: string, heard: string[], payload: string): Promise<void> {
  const c = new Client({ connectionString: pg.url });
  c.on("error", () => undefined);
  await eventually(() => c.connect());
  try {
    await expect
      .poll(
        async () => {
          await c.query("SELECT pg_notify($1, $2)", [channel, payload]);
          return heard.includes(payload);
        },
        { timeout: 20_000, interval: 200 },
      )
      .toBe(true);
  } finally {
    await c.end().catch(() => undefined);
  }
}

describe("server-side termination", () => {
  it("pg_terminate_backend of a connection idle in a transaction: the transaction rejects as unavailable, nothing crashes, the pool recovers", async () => {
    const t = idleTransaction();
    await t.begun;
    expect(await pg.terminateAll()).toBeGreaterThanOrEqual(1);
    // The termination reaches the idle connection (what used to be an unhandled 'error' event) before the next statement.
    await expect.poll(() => otherBackends(), { timeout: 5_000, interval: 50 }).toBe(0);
    await new Promise((r) => setTimeout(r, 100));
    t.release();
    const err = await t.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeDefined();
    expect(isDatabaseUnavailable(err)).toBe(true);
    expect((await db.query<{ n: number }>("SELECT 41 + 1 AS n")).rows[0]?.n).toBe(42);
  });

  it.each<[StopMode, string]>([
    ["fast", "57P01 admin shutdown"],
    ["immediate", "a crash: connections dropped without a message"],
  ])("a %s restart (%s) during an idle transaction and idle pool connections: queries fail as unavailable, then work again", async (mode) => {
    await Promise.all([1, 2, 3].map(() => db.query("SELECT pg_sleep(0.05)")));
    const t = idleTransaction();
    await t.begun;
    await pg.stop({ mode });
    const down = await db.query("SELECT 1").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDatabaseUnavailable(down)).toBe(true);
    t.release();
    expect(isDatabaseUnavailable(await t.done.catch((e: unknown) => e))).toBe(true);
    await pg.start();
    expect((await eventually(() => db.query<{ n: number }>("SELECT 7 AS n"))).rows[0]?.n).toBe(7);
    // A transaction works too: the broken connection did not go back to the pool.
    expect(await db.transaction(async (tx) => (await tx.query<{ n: number }>("SELECT 8 AS n")).rows[0]?.n)).toBe(8);
  });

  it("LISTEN resumes after pg_terminate_backend and after a fast restart", async () => {
    const heard: string[] = [];
    const unlisten = await db.listen("db_faults_wake", (p) => heard.push(p));
    await notifyUntilHeard("db_faults_wake", heard, "before");
    await pg.terminateAll();
    await notifyUntilHeard("db_faults_wake", heard, "after-terminate");
    await pg.restart({ mode: "fast" });
    await notifyUntilHeard("db_faults_wake", heard, "after-restart");
    await unlisten();
  }, 60_000);

  it("a LISTEN that failed while the database was down is not remembered: the next one listens", async () => {
    const fresh = new PostgresDb(pg.url, 2, { connectTimeoutMs: 2_000 });
    try {
      await pg.stop({ mode: "fast" });
      const heard: string[] = [];
      const failed = await fresh.listen("db_faults_late", (p) => heard.push(p)).catch((e: unknown) => e);
      expect(isDatabaseUnavailable(failed)).toBe(true);
      await pg.start();
      const unlisten = await eventually(() => fresh.listen("db_faults_late", (p) => heard.push(p)));
      await notifyUntilHeard("db_faults_late", heard, "heard");
      // One notification reaches one handler: the failed subscription's handler was not kept.
      const c = new Client({ connectionString: pg.url });
      await c.connect();
      await c.query("SELECT pg_notify('db_faults_late', 'single'), pg_notify('db_faults_late', 'end')");
      await c.end();
      await expect.poll(() => heard.includes("end"), { timeout: 10_000, interval: 20 }).toBe(true);
      expect(heard.filter((p) => p === "single")).toHaveLength(1);
      await unlisten();
    } finally {
      await pg.start();
      await fresh.close();
    }
  }, 60_000);
});

describe("blackholed database (packets dropped, not refused)", () => {
  let proxy: TcpProxy;
  let viaProxy: PostgresDb;
  beforeAll(async () => {
    proxy = await startTcpProxy("127.0.0.1", pg.port);
    const url = new URL(pg.url);
    url.port = String(proxy.port);
    viaProxy = new PostgresDb(url.toString(), 2, { connectTimeoutMs: 1_000, queryTimeoutMs: 1_500, statementTimeoutMs: 1_000 });
  });
  afterAll(async () => {
    proxy.restore();
    await viaProxy?.close();
    await proxy?.close();
  });

  it("a query on an open connection fails at the query timeout, a new connection at the connect timeout; both recover after", async () => {
    await viaProxy.query("SELECT 1");
    proxy.blackhole();
    let t0 = Date.now();
    const onOpen = await viaProxy.query("SELECT 1").catch((e: unknown) => e);
    const queryMs = Date.now() - t0;
    expect(isDatabaseUnavailable(onOpen)).toBe(true);
    expect(queryMs).toBeGreaterThanOrEqual(1_400);
    expect(queryMs).toBeLessThan(4_000);
    // The timed-out connection was dropped: the next query needs a new one, which is held.
    t0 = Date.now();
    const onNew = await viaProxy.query("SELECT 1").catch((e: unknown) => e);
    expect(isDatabaseUnavailable(onNew)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(4_000);
    expect(proxy.held).toBeGreaterThanOrEqual(1);
    proxy.restore();
    expect((await eventually(() => viaProxy.query<{ n: number }>("SELECT 5 AS n"))).rows[0]?.n).toBe(5);
  }, 30_000);

  it("a LISTEN that timed out on a blackholed link is not remembered: after the link heals, LISTEN on that channel works", async () => {
    const heard: string[] = [];
    const first = await viaProxy.listen("db_faults_first", (p) => heard.push(p));
    proxy.blackhole();
    const failed = await viaProxy.listen("db_faults_blackholed", (p) => heard.push(p)).catch((e: unknown) => e);
    expect(isDatabaseUnavailable(failed)).toBe(true);
    proxy.restore();
    const unlisten = await eventually(() => viaProxy.listen("db_faults_blackholed", (p) => heard.push(p)));
    await notifyUntilHeard("db_faults_blackholed", heard, "through");
    await notifyUntilHeard("db_faults_first", heard, "first-again");
    await unlisten();
    await first();
  }, 30_000);

  it("a transaction cut off mid-way by a partition is ended by the server (idle_in_transaction_session_timeout), releasing its locks", async () => {
    const url = new URL(pg.url);
    url.port = String(proxy.port);
    const partitioned = new PostgresDb(url.toString(), 2, { queryTimeoutMs: 1_000, statementTimeoutMs: 1_000, idleInTransactionTimeoutMs: 500 });
    await db.query("CREATE TABLE IF NOT EXISTS partition_probe (id int PRIMARY KEY)");
    await db.query("INSERT INTO partition_probe VALUES (1) ON CONFLICT DO NOTHING");
    let locked!: () => void;
    const holding = new Promise<void>((r) => (locked = r));
    const tx = partitioned.transaction(async (t) => {
      await t.query("SELECT id FROM partition_probe WHERE id = 1 FOR UPDATE");
      locked();
      proxy.blackhole();
      await t.query("SELECT 1"); // never answered: the client gives up at its query timeout
    });
    try {
      await holding;
      expect(isDatabaseUnavailable(await tx.catch((e: unknown) => e))).toBe(true);
      // The server ends the abandoned session: the row lock is free again though the link is still down.
      const free = await eventually(() => db.query<{ id: number }>("SELECT id FROM partition_probe WHERE id = 1 FOR UPDATE NOWAIT"), 10_000);
      expect(free.rows).toHaveLength(1);
    } finally {
      proxy.restore();
      await partitioned.close();
    }
  }, 30_000);

  it("close() finishes while the link is blackholed (a graceful end never gets its answer)", async () => {
    const url = new URL(pg.url);
    url.port = String(proxy.port);
    const closing = new PostgresDb(url.toString(), 2, { connectTimeoutMs: 1_000, queryTimeoutMs: 1_500 });
    const unlisten = await closing.listen("db_faults_closing", () => undefined);
    await closing.query("SELECT 1");
    proxy.blackhole();
    try {
      const t0 = Date.now();
      await closing.close();
      expect(Date.now() - t0).toBeLessThan(5_000);
      await unlisten();
    } finally {
      proxy.restore();
    }
  }, 30_000);

  it("the server's statement_timeout cancels a slow statement (57014, classified unavailable)", async () => {
    const slow = await viaProxy.query("SELECT pg_sleep(5)").catch((e: unknown) => e);
    expect((slow as { code?: string }).code).toBe("57014");
    expect(isDatabaseUnavailable(slow)).toBe(true);
  }, 30_000);
});
