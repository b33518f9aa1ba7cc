import { Client, Pool, type ClientConfig, type PoolClient, type QueryConfig } from "pg";
import { logger } from "../telemetry/logger";
import { describeDbError, isDatabaseUnavailable } from "./db-errors";
import { runCommitHooks, type Db, type DbTimeouts, type QueryResult } from "./db";

/** TCP keepalive probes start after this much idle time, so a silently dead link is eventually noticed. */
const keepAliveInitialDelayMs = 10_000;
/** The LISTEN connection receives but never queries: it is pinged this often to notice a dead link. */
const listenerPingMs = 10_000;
/** Ping answer deadline when no query timeout is configured. */
const defaultListenerPingTimeoutMs = 5_000;
/** First re-LISTEN delay after the connection is lost; doubles up to the max. */
const relistenMinMs = 250;
const relistenMaxMs = 5_000;
/** idle_in_transaction_session_timeout whenever a statement timeout is set (see DbTimeouts). */
const defaultIdleInTransactionMs = 10_000;
/** Migrations and other scripts: they may wait on another replica's lock and build indexes. */
const scriptQueryTimeoutMs = 60 * 60_000;

/**
 * Db over a node-postgres pool, with one extra connection for LISTEN. Connection errors never
 * crash the process: the pool's idle clients, clients checked out by a transaction and the LISTEN
 * connection all have error handlers; a query on a lost connection rejects, and the connection is
 * discarded rather than returned to the pool. Timeouts come from `DbTimeouts`.
 */
export class PostgresDb implements Db {
  readonly kind = "postgres" as const;
  private readonly pool: Pool;
  private readonly clientConfig: ClientConfig;
  private listener?: Promise<Client>;
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();
  /** Channels the current LISTEN connection has run LISTEN for. */
  private listening = new Set<string>();
  private relistenTimer?: NodeJS.Timeout;
  private relistenDelayMs = relistenMinMs;
  private pingTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    url: string,
    poolSize = 10,
    private readonly timeouts: DbTimeouts = {},
  ) {
    const idleInTransactionMs = timeouts.idleInTransactionTimeoutMs ?? (timeouts.statementTimeoutMs ? defaultIdleInTransactionMs : 0);
    this.clientConfig = {
      connectionString: url,
      keepAlive: true,
      keepAliveInitialDelayMillis: keepAliveInitialDelayMs,
      ...(timeouts.connectTimeoutMs ? { connectionTimeoutMillis: timeouts.connectTimeoutMs } : {}),
      ...(timeouts.queryTimeoutMs ? { query_timeout: timeouts.queryTimeoutMs } : {}),
      ...(timeouts.statementTimeoutMs ? { statement_timeout: timeouts.statementTimeoutMs } : {}),
      ...(idleInTransactionMs ? { idle_in_transaction_session_timeout: idleInTransactionMs } : {}),
    };
    this.pool = new Pool({ ...this.clientConfig, max: poolSize });
    // An idle client's error (the server restarted, or terminated the backend) must not crash the process.
    this.pool.on("error", (err) => logger.warn(describeDbError(err), "postgres pool: idle connection lost"));
  }

  async query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    const r = await this.pool.query(sql, params as unknown[] | undefined);
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(withQueryTimeout(sql, scriptQueryTimeoutMs));
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // pg-pool stops listening for errors on a checked-out client: without this, a termination that
    // arrives between two statements (57P01 on restart, pg_terminate_backend) is an unhandled
    // 'error' event, which kills the process. The statement in flight, if any, rejects on its own.
    let lost: Error | undefined;
    const onError = (err: Error) => {
      lost ??= err;
      logger.warn(describeDbError(err), "postgres connection lost during a transaction");
    };
    client.on("error", onError);
    const hooks: Array<() => void> = [];
    let result: T;
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      result = await fn(new ClientDb(client, hooks));
      await client.query("COMMIT");
    } catch (err) {
      if (lost || isDatabaseUnavailable(err)) broken = lost ?? (err as Error);
      else await client.query("ROLLBACK").catch((rollbackErr: Error) => (broken = rollbackErr));
      throw err;
    } finally {
      client.off("error", onError);
      // A connection that failed goes away instead of back to the pool for the next caller to trip on.
      client.release(broken ?? lost);
    }
    runCommitHooks(hooks, (err) => logger.error({ err: (err as Error).message }, "after-commit hook failed"));
    return result;
  }

  /**
   * LISTEN on `channel` on the shared LISTEN connection. Resolves once the server confirmed the
   * LISTEN; on failure rejects and keeps nothing, so a later call tries again. An established
   * subscription survives the connection's loss: it is re-LISTENed on a new connection (with
   * backoff) for as long as this Db is open. Notifications sent while it was down are lost.
   */
  async listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>> {
    if (this.closed) throw new Error("listen() on a closed database");
    let set = this.handlers.get(channel);
    const isNew = !set;
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(onPayload);
    try {
      await this.ensureListening(channel);
    } catch (err) {
      set.delete(onPayload);
      if (isNew && set.size === 0 && this.handlers.get(channel) === set) this.handlers.delete(channel);
      throw err;
    }
    let stopped = false;
    return async () => {
      if (stopped) return;
      stopped = true;
      const handlers = this.handlers.get(channel);
      handlers?.delete(onPayload);
      if (handlers && handlers.size === 0) {
        this.handlers.delete(channel);
        const client = this.listener && (await this.listener.catch(() => undefined));
        if (client && this.listening.delete(channel) && !this.closed) {
          await client.query(`UNLISTEN ${quoteIdent(channel)}`).catch(() => undefined);
        }
      }
    };
  }

  private async ensureListening(channel: string): Promise<void> {
    const client = await this.listenerClient();
    if (this.listening.has(channel)) return;
    try {
      await client.query(`LISTEN ${quoteIdent(channel)}`);
    } catch (err) {
      // A LISTEN that timed out or hit a lost link: the connection is no good for anyone.
      if (isDatabaseUnavailable(err)) this.listenerLost(client, err as Error);
      throw err;
    }
    // The connection may have been replaced meanwhile; its successor LISTENs to every channel in handlers.
    if (this.listener && (await this.listener.catch(() => undefined)) === client) this.listening.add(channel);
  }

  private listenerClient(): Promise<Client> {
    if (!this.listener) {
      const connecting = this.connectListener();
      this.listener = connecting;
      // A failed connection is not kept: the next listen() or re-LISTEN makes a new one.
      connecting.catch(() => {
        if (this.listener === connecting) this.listener = undefined;
      });
    }
    return this.listener;
  }

  private async connectListener(): Promise<Client> {
    const client = new Client(this.clientConfig);
    client.on("notification", (msg) => {
      for (const h of this.handlers.get(msg.channel) ?? []) {
        try {
          h(msg.payload ?? "");
        } catch (err) {
          logger.warn({ channel: msg.channel, err: (err as Error).message }, "LISTEN handler failed");
        }
      }
    });
    client.on("error", (err) => this.listenerLost(client, err));
    client.on("end", () => this.listenerLost(client, new Error("Connection terminated")));
    try {
      await client.connect();
    } catch (err) {
      await endOrDestroy(client);
      throw err;
    }
    this.listening = new Set();
    this.startPing(client);
    return client;
  }

  /** The LISTEN connection failed or ended: drop it and re-LISTEN every channel on a new one. */
  private listenerLost(client: Client, err: Error): void {
    void this.listener?.then(
      (current) => {
        if (current !== client) return;
        this.listener = undefined;
        this.listening = new Set();
        clearInterval(this.pingTimer);
        void endOrDestroy(client);
        if (this.closed) return;
        logger.warn(describeDbError(err), "postgres LISTEN connection lost; re-listening");
        this.scheduleRelisten();
      },
      () => undefined,
    );
  }

  /**
   * A silent LISTEN connection sees no error when the link is blackholed: ping it, and treat a
   * ping that fails or gets no answer in time as the connection's loss.
   */
  private startPing(client: Client): void {
    clearInterval(this.pingTimer);
    const timeoutMs = this.timeouts.queryTimeoutMs || defaultListenerPingTimeoutMs;
    this.pingTimer = setInterval(() => {
      client.query(withQueryTimeout("SELECT 1", timeoutMs)).catch((err: Error) => this.listenerLost(client, err));
    }, listenerPingMs);
    this.pingTimer.unref();
  }

  private scheduleRelisten(): void {
    if (this.closed || this.relistenTimer) return;
    const delay = this.relistenDelayMs;
    this.relistenDelayMs = Math.min(relistenMaxMs, delay * 2);
    this.relistenTimer = setTimeout(() => {
      this.relistenTimer = undefined;
      void this.relisten();
    }, delay);
    this.relistenTimer.unref();
  }

  private async relisten(): Promise<void> {
    if (this.closed || this.handlers.size === 0) return;
    try {
      for (const channel of [...this.handlers.keys()]) await this.ensureListening(channel);
      this.relistenDelayMs = relistenMinMs;
      logger.info({ channels: this.handlers.size }, "postgres LISTEN re-established");
    } catch (err) {
      logger.warn(describeDbError(err), "postgres re-LISTEN failed; retrying");
      this.scheduleRelisten();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.relistenTimer);
    clearInterval(this.pingTimer);
    const listener = this.listener;
    this.listener = undefined;
    const client = listener && (await listener.catch(() => undefined));
    if (client) await endOrDestroy(client);
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
    await this.client.query(withQueryTimeout(sql, scriptQueryTimeoutMs));
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

/** How long a graceful end of a connection may take before its socket is destroyed. */
const endGraceMs = 1_000;

/**
 * Ends a connection; one whose peer never answers (a blackholed link) would never finish ending,
 * so after `endGraceMs` its socket is destroyed.
 */
async function endOrDestroy(client: Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<"grace_over">((r) => (timer = setTimeout(() => r("grace_over"), endGraceMs)));
  const ended = client.end().then(
    () => "ended" as const,
    () => "ended" as const,
  );
  if ((await Promise.race([ended, graceOver])) === "grace_over") {
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  }
  clearTimeout(timer);
}

/** node-postgres reads a per-query `query_timeout` that its types do not declare. */
function withQueryTimeout(text: string, ms: number): QueryConfig {
  return { text, query_timeout: ms } as QueryConfig;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
