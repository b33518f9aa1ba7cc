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
}
