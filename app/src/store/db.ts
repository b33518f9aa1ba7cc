/**
 * The database seam: a pg pool when DATABASE_URL is set, embedded PGlite otherwise, with the same
 * SQL and migrations. Everything that touches SQL goes through this interface.
 */
export interface QueryResult<T> {
  readonly rows: T[];
  readonly rowCount: number;
}

export interface Db {
  readonly kind: "postgres" | "pglite";
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  /** Runs fn in one transaction (BEGIN/COMMIT, ROLLBACK on throw) on one connection. */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** Runs a multi-statement SQL script without parameters (migrations). */
  exec?(sql: string): Promise<void>;
  /**
   * LISTEN on a channel (Postgres: one dedicated connection per Db; PGlite: its own notify).
   * Returns the function that stops listening. Absent on transaction handles.
   */
  listen?(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * On transaction handles only: runs `fn` once the transaction has committed (never after a
   * rollback). For side effects outside the database: metrics, ending spans.
   */
  afterCommit?(fn: () => void): void;
}

/** Runs `fn` once `db`'s transaction commits; on a handle outside a transaction (autocommit), now. */
export function onCommit(db: Db, fn: () => void): void {
  if (db.afterCommit) db.afterCommit(fn);
  else fn();
}

/**
 * Runs the hooks a committed transaction collected. A hook that throws is reported to
 * `onHookError` and affects neither the other hooks nor the transaction's result.
 */
export function runCommitHooks(hooks: readonly (() => void)[], onHookError: (err: unknown) => void): void {
  for (const hook of hooks) {
    try {
      hook();
    } catch (err) {
      onHookError(err);
    }
  }
}

/** Postgres timeouts (ms); unset or 0 = none. The runtime passes the config's (APEX_DB_*_TIMEOUT_MS). */
export interface DbTimeouts {
  /** Opening a connection, and waiting for a free one when the pool is full (connectionTimeoutMillis). */
  readonly connectTimeoutMs?: number;
  /** Client side: a query with no answer by then fails and its connection is dropped (a blackholed link). */
  readonly queryTimeoutMs?: number;
  /** Server side `statement_timeout`: Postgres cancels a statement that runs longer (SQLSTATE 57014). */
  readonly statementTimeoutMs?: number;
  /**
   * Server side `idle_in_transaction_session_timeout`: a session idle inside a transaction that
   * long is ended, releasing its locks (a client cut off mid-transaction by a partition). Default
   * 10 s when `statementTimeoutMs` is set (our transactions never wait between statements), else none.
   */
  readonly idleInTransactionTimeoutMs?: number;
}

export interface OpenDbOptions {
  /** postgres:// URL; unset means embedded PGlite. */
  readonly databaseUrl?: string;
  /** PGlite data directory; unset means in-memory. */
  readonly dataDir?: string;
  /** Pool size for Postgres (default 10). */
  readonly poolSize?: number;
  /** Postgres only; default none. Migration scripts (`exec`) are exempt from the query timeout. */
  readonly timeouts?: DbTimeouts;
}

/** Opens the store the config asks for. Migrations are applied separately (see migrate.ts). */
export async function openDb(options: OpenDbOptions = {}): Promise<Db> {
  if (options.databaseUrl) {
    const { PostgresDb } = await import("./postgres");
    return new PostgresDb(options.databaseUrl, options.poolSize, options.timeouts);
  }
  const { openPglite } = await import("./pglite");
  return openPglite(options.dataDir);
}
