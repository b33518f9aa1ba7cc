import { mkdtemp, rm, writeFile, copyFile, readdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDb } from "../src/store/db";
import { migrate, migrationsDir } from "../src/store/migrate";
import { createTestDatabase, type TestDatabase } from "./helpers/db";

const expectedTables = ["agents", "api_keys", "approvals", "attempts", "budget_reservations", "budget_windows", "budgets", "dags", "llm_calls", "schema_migrations", "task_edges", "tasks", "usage", "workers"];

async function tables(db: Awaited<ReturnType<typeof openDb>>): Promise<string[]> {
  const r = await db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  return r.rows.map((x) => x.table_name);
}

describe("migrations on Postgres", () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => t.drop());

  it("apply once even when four replicas start at the same time, then are a no-op", async () => {
    const dbs = await Promise.all([1, 2, 3, 4].map(() => openDb({ databaseUrl: t.url, poolSize: 2 })));
    try {
      const results = await Promise.all(dbs.map((db) => migrate(db)));
      const files = (await readdir(migrationsDir)).filter((f) => f.endsWith(".sql"));
      // Exactly one replica applied each migration; the others waited on the advisory lock.
      expect(results.flat().sort()).toEqual(files.sort());
      expect(await migrate(dbs[0]!)).toEqual([]);
      expect(await tables(dbs[0]!)).toEqual(expectedTables);
      const recorded = await dbs[0]!.query<{ n: number }>("SELECT count(*)::int AS n FROM schema_migrations");
      expect(recorded.rows[0]?.n).toBe(files.length);
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
    }
  });

  it("enforces the api_keys contract (role check, unique hash)", async () => {
    const db = await openDb({ databaseUrl: t.url, poolSize: 1 });
    try {
      await db.query("INSERT INTO api_keys (name, role, key_hash, key_prefix) VALUES ('a', 'viewer', 'h1', 'apx_')");
      await expect(
        db.query("INSERT INTO api_keys (name, role, key_hash, key_prefix) VALUES ('b', 'viewer', 'h1', 'apx_')"),
      ).rejects.toThrow(/unique/i);
      await expect(
        db.query("INSERT INTO api_keys (name, role, key_hash, key_prefix) VALUES ('c', 'root', 'h2', 'apx_')"),
      ).rejects.toThrow(/check constraint/i);
    } finally {
      await db.close();
    }
  });

  it("rolls a failed transaction back and delivers NOTIFY to listeners", async () => {
    const db = await openDb({ databaseUrl: t.url, poolSize: 2 });
    try {
      await expect(
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO agents (name) VALUES ('rolled-back')");
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      const n = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM agents WHERE name = 'rolled-back'");
      expect(n.rows[0]?.n).toBe(0);
      let notified!: (payload: string) => void;
      const got = new Promise<string>((resolve) => (notified = resolve));
      // listen() resolves once LISTEN is in effect: the NOTIFY after it cannot be missed.
      const unlisten = await db.listen!("apex_test", (payload) => notified(payload));
      await db.query("SELECT pg_notify('apex_test', 'hello')");
      expect(await got).toBe("hello");
      await unlisten();
    } finally {
      await db.close();
    }
  });
});

// PGlite (Postgres compiled to WebAssembly) spends seconds of CPU on start-up and each migration
// run: on a loaded machine that nears the default 30 s, so these get room.
describe("migrations on PGlite", { timeout: 120_000 }, () => {
  it("apply the same files in memory and are idempotent", async () => {
    const db = await openDb();
    try {
      const first = await migrate(db);
      expect(first.length).toBeGreaterThan(0);
      expect(await migrate(db)).toEqual([]);
      expect(await tables(db)).toEqual(expectedTables);
    } finally {
      await db.close();
    }
  });

  it("persist in a data directory and refuse an edited migration", async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "apex-pglite-"));
    const migDir = await mkdtemp(path.join(os.tmpdir(), "apex-mig-"));
    try {
      for (const f of await readdir(migrationsDir)) await copyFile(path.join(migrationsDir, f), path.join(migDir, f));
      let db = await openDb({ dataDir });
      await migrate(db, migDir);
      await db.query("INSERT INTO agents (name) VALUES ('kept')");
      await db.close();
      db = await openDb({ dataDir });
      expect(await migrate(db, migDir)).toEqual([]);
      expect((await db.query<{ name: string }>("SELECT name FROM agents")).rows).toEqual([{ name: "kept" }]);
      await writeFile(path.join(migDir, "0001_init.sql"), "-- edited\n", { flag: "a" });
      await expect(migrate(db, migDir)).rejects.toThrow(/0001_init.sql was changed/);
      await db.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
      await rm(migDir, { recursive: true, force: true });
    }
  });
});
