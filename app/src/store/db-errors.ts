/**
 * Which errors mean "the database is unavailable right now" (retry later) rather than "this query
 * is wrong": the one classification the API (503 + Retry-After, gRPC UNAVAILABLE) and the logs use.
 *
 * Unavailable: the server refused, reset or closed the connection; it is shutting down, restarting
 * or in recovery (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now); any
 * connection exception (class 08); too many connections (53300); a statement cancelled by
 * statement_timeout (57014) or a session ended by idle_in_transaction_session_timeout (25P03); the
 * client's connect, pool-wait or query timeouts.
 */

/** SQLSTATEs that mean the server cannot serve us now; every class-08 code counts too. */
const unavailableSqlStates = new Set(["57P01", "57P02", "57P03", "57P05", "53300", "57014", "25P03"]);

/** Node socket and DNS errors of a connection that cannot be made or was lost. */
const unavailableSystemCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** node-postgres and pg-pool errors that carry no code, matched on their (stable) messages. */
const unavailableMessages = [
  /^Connection terminated/, // "… unexpectedly", "… due to connection timeout"
  /^timeout exceeded when trying to connect$/, // pg-pool: no client within connectionTimeoutMillis
  /^timeout expired$/, // pg Client.connect past connectionTimeoutMillis (the LISTEN connection)
  /^Query read timeout$/, // query_timeout
  /is not queryable$/, // a client whose connection already failed or ended
  /^Cannot use a pool after calling end on the pool$/,
];

/** True when `error` (or an error it wraps, as `cause` or in an AggregateError) says the database is unreachable. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  const visit = (e: unknown): boolean => {
    if (typeof e !== "object" || e === null || seen.has(e)) return false;
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") {
      if (/^08[0-9A-Z]{3}$/.test(code) || unavailableSqlStates.has(code) || unavailableSystemCodes.has(code)) return true;
    }
    const message = (e as { message?: unknown }).message;
    if (typeof message === "string" && unavailableMessages.some((m) => m.test(message))) return true;
    const nested = (e as { errors?: unknown }).errors;
    if (Array.isArray(nested) && nested.some(visit)) return true;
    return visit((e as { cause?: unknown }).cause);
  };
  return visit(error);
}

/** A short, secret-free description of a database error for logs: SQLSTATE or errno code, and message. */
export function describeDbError(error: unknown): { code?: string; err: string } {
  if (typeof error !== "object" || error === null) return { err: String(error) };
  const code = (error as { code?: unknown }).code;
  const message = (error as { message?: unknown }).message;
  return { ...(typeof code === "string" ? { code } : {}), err: typeof message === "string" ? message : String(error) };
}
