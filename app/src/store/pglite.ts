import { PGlite, type Transaction } from "@electric-sql/pglite";
import { logger } from "../telemetry/logger";
import { runCommitHooks, type Db, type QueryResult } from "./db";

/** Db over embedded PGlite (one in-process Postgres; queries are serialised by PGlite itself). */
class PgliteDb implements Db {
  readonly kind = "pglite" as const;
  constructor(private readonly pg: PGlite) {}

  async query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    const r = await this.pg.query<T>(sql, params as unknown[] | undefined);
    return { rows: r.rows, rowCount: rowCount(r) };
  }

  async exec(sql: string): Promise<void> {
    await this.pg.exec(sql);
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const hooks: Array<() => void> = [];
    const result = await this.pg.transaction((tx) => fn(new PgliteTxDb(tx, hooks)));
    runCommitHooks(hooks, (err) => logger.error({ err: (err as Error).message }, "after-commit hook failed"));
    return result;
  }

  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>> {
    return this.pg.listen(channel, onPayload).then((unlisten) => () => unlisten());
  }

  close(): Promise<void> {
    return this.pg.close();
  }
}

class PgliteTxDb implements Db {
  readonly kind = "pglite" as const;
  constructor(
    private readonly tx: Transaction,
    private readonly hooks: Array<() => void>,
  ) {}
  async query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    const r = await this.tx.query<T>(sql, params as unknown[] | undefined);
    return { rows: r.rows, rowCount: rowCount(r) };
  }
  async exec(sql: string): Promise<void> {
    await this.tx.exec(sql);
  }
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return fn(this);
  }
  afterCommit(fn: () => void): void {
    this.hooks.push(fn);
  }
  async close(): Promise<void> {
    throw new Error("close() on a transaction handle");
  }
}

/** In-memory when dataDir is unset; otherwise a persistent directory. */
export async function openPglite(dataDir?: string): Promise<Db> {
  const pg = await PGlite.create(dataDir ? { dataDir } : {});
  return new PgliteDb(pg);
}

/** pg's rowCount: rows returned by a SELECT, rows touched by INSERT/UPDATE/DELETE (PGlite reports 0 affected for SELECT). */
function rowCount(r: { rows: unknown[]; affectedRows?: number }): number {
  return Math.max(r.rows.length, r.affectedRows ?? 0);
}
