/** The bench's own database on the server of DATABASE_URL: dropped and created at start, dropped at the end. */
import { Client, Pool } from "pg";

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

async function onMaintenanceDb<T>(serverUrl: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: withDatabase(serverUrl, "postgres") });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Drops `database` if it exists (whoever is connected) and creates it empty; returns its URL. */
export async function recreateDatabase(serverUrl: string, database: string): Promise<string> {
  await onMaintenanceDb(serverUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${quoteIdent(database)}`);
  });
  return withDatabase(serverUrl, database);
}

export async function dropDatabase(serverUrl: string, database: string): Promise<void> {
  await onMaintenanceDb(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`));
}

/** The bench's own connections (progress polls, latency queries): not counted as round trips. */
export function observerPool(url: string): Pool {
  return new Pool({ connectionString: url, max: 2 });
}

/** Loopback only: the bench never sends traffic anywhere else. */
export function assertLoopback(url: string, variable: string): void {
  const host = new URL(url).hostname;
  if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(host)) {
    throw new Error(`${variable} must point at 127.0.0.1 (got host ${host}): the bench only talks to loopback`);
  }
}
