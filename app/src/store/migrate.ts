import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { Db } from "./db";

/** app/migrations, from src/store (tsx) and from dist/store (compiled) alike. */
export const migrationsDir = path.resolve(__dirname, "../../migrations");

/** Arbitrary constant that names "apex schema migrations" for pg_advisory_xact_lock. */
const MIGRATION_LOCK_KEY = 4_202_611_001;

export interface AppliedMigration {
  readonly name: string;
  readonly checksum: string;
}

/**
 * Applies every `NNNN_*.sql` file not yet recorded, in name order, in one transaction that holds
 * an advisory lock: replicas starting together wait for each other instead of racing. A recorded
 * migration whose file changed is refused (migrations are append-only).
 */
export async function migrate(db: Db, dir = migrationsDir): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
  const sources = await Promise.all(
    files.map(async (name) => {
      const sql = await readFile(path.join(dir, name), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    }),
  );
  return db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Map(
      (await tx.query<AppliedMigration>("SELECT name, checksum FROM schema_migrations")).rows.map((r) => [r.name, r.checksum]),
    );
    const applied: string[] = [];
    for (const m of sources) {
      const recorded = done.get(m.name);
      if (recorded !== undefined) {
        if (recorded !== m.checksum) throw new Error(`migration ${m.name} was changed after it was applied (checksum differs)`);
        continue;
      }
      await execScript(tx, m.sql);
      await tx.query("INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", [m.name, m.checksum]);
      applied.push(m.name);
    }
    return applied;
  });
}

async function execScript(tx: Db, sql: string): Promise<void> {
  if (!tx.exec) throw new Error(`this Db (${tx.kind}) cannot run multi-statement migration scripts`);
  await tx.exec(sql);
}
