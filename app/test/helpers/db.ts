/**
 * Test databases: each test file gets its own Postgres database (created through the `postgres`
 * database, dropped after) or an in-memory PGlite, both migrated. Tests run in parallel.
 */
import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { createInProcessEventBus } from "../../src/coord/in-process";
import type { EventBus } from "../../src/coord/types";
import { openDb, type Db } from "../../src/store/db";
import { migrate } from "../../src/store/migrate";

export const baseDatabaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface TestDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates an empty database `apex_t_<random>` on the server of DATABASE_URL. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `apex_t_${randomBytes(6).toString("hex")}`;
  const admin = new Client({ connectionString: withDatabase(baseDatabaseUrl, "postgres") });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(baseDatabaseUrl, name),
    async drop() {
      const c = new Client({ connectionString: withDatabase(baseDatabaseUrl, "postgres") });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export type StoreKind = "postgres" | "pglite";
export const storeKinds: readonly StoreKind[] = ["postgres", "pglite"];

export interface MigratedDb {
  readonly db: Db;
  /** One in-process DAG event bus per store: pass it to the file's services and workers, as the runtime passes its own. */
  readonly events: EventBus;
  /** Set for postgres: the URL of this file's database (for child processes). */
  readonly url?: string;
  close(): Promise<void>;
}

/** A migrated store of the given kind, private to the caller. */
export async function openMigratedDb(kind: StoreKind): Promise<MigratedDb> {
  if (kind === "pglite") {
    const db = await openDb();
    await migrate(db);
    return { db, events: createInProcessEventBus(), close: () => db.close() };
  }
  const t = await createTestDatabase();
  const db = await openDb({ databaseUrl: t.url, poolSize: 8 });
  await migrate(db);
  return {
    db,
    events: createInProcessEventBus(),
    url: t.url,
    async close() {
      await db.close();
      await t.drop();
    },
  };
}
