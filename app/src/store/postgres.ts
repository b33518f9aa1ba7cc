import { Client, Pool, type PoolClient } from "pg";
import { logger } from "../telemetry/logger";
import { runCommitHooks, type Db, type QueryResult } from "./db";

/** Db over a node-postgres pool, with one extra connection for LISTEN. */
export class PostgresDb implements Db {
  readonly kind = "postgres" as const;
  private readonly pool: Pool;
  private listener?: Promise<Client>;
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();
  private closed = false;

  constructor(
    private readonly url: string,
    poolSize = 10,
  ) {
    this.pool = new Pool({ connectionString: url, max: poolSize });
    // An idle client's error (e.g. the server restarted) must not crash the process.
    this.pool.on("error", (err) => logger.warn({ err: err.message }, "postgres pool client error"));
  }

  async query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    const r = await this.pool.query(sql, params as unknown[] | undefined);
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const hooks: Array<() => void> = [];
    let result: T;
    try {
      await client.query("BEGIN");
      result = await fn(new ClientDb(client, hooks));
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    runCommitHooks(hooks, (err) => logger.error({ err: (err as Error).message }, "after-commit hook failed"));
    return result;
  }

  async listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>> {
    const client = await this.listenerClient();
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      await client.query(`LISTEN ${quoteIdent(channel)}`);
    }
    set.add(onPayload);
    return async () => {
      const handlers = this.handlers.get(channel);
      handlers?.delete(onPayload);
      if (handlers && handlers.size === 0) {
        this.handlers.delete(channel);
        if (!this.closed) await client.query(`UNLISTEN ${quoteIdent(channel)}`).catch(() => undefined);
      }
    };
  }

  private listenerClient(): Promise<Client> {
    if (!this.listener) {
      this.listener = this.connectListener();
      this.listener.catch(() => (this.listener = undefined));
    }
    return this.listener;
  }

  private async connectListener(): Promise<Client> {
    const client = new Client({ connectionString: this.url });
    client.on("notification", (msg) => {
      for (const h of this.handlers.get(msg.channel) ?? []) h(msg.payload ?? "");
    });
    client.on("error", (err) => {
      // Reconnect and re-LISTEN: callers keep their subscriptions across a server restart.
      logger.warn({ err: err.message }, "postgres LISTEN connection lost; reconnecting");
      this.listener = undefined;
      if (!this.closed) setTimeout(() => void this.relisten(), 1000).unref();
    });
    await client.connect();
    return client;
  }

  private async relisten(): Promise<void> {
    try {
      const client = await this.listenerClient();
      for (const channel of this.handlers.keys()) await client.query(`LISTEN ${quoteIdent(channel)}`);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, "postgres re-LISTEN failed; retrying");
      if (!this.closed) setTimeout(() => void this.relisten(), 2000).unref();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const listener = this.listener;
    this.listener = undefined;
    if (listener) await (await listener.catch(() => undefined))?.end().catch(() => undefined);
    await this.pool.end();
  }
}

/** A transaction's connection. Nested transaction() calls join the outer transaction. */
class ClientDb implements Db {
  readonly kind = "postgres" as const;
  constructor(
    private readonly client: PoolClient,
    private readonly hooks: Array<() => void>,
  ) {}
  async query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    const r = await this.client.query(sql, params as unknown[] | undefined);
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  }
  async exec(sql: string): Promise<void> {
    await this.client.query(sql);
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

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
