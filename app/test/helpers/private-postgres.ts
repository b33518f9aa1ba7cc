/**
 * A throwaway PostgreSQL cluster on a free loopback port, in its own temp directory, that a test (or
 * the chaos script) may stop, restart and terminate from the server side without touching the
 * shared server other test files use. Binaries come from /usr/lib/postgresql/<version>/bin (or
 * APEX_PG_BIN_DIR); as root, the server runs as the `postgres` OS user since Postgres refuses root.
 *
 * API: `startPrivatePostgres()` → { url, port, dataDir, start(), stop({ mode }), restart({ mode }),
 * terminateAll(), destroy() }. `url` names the `postgres` database, user `postgres`, no password.
 */
import { execFile } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client } from "pg";

const run = promisify(execFile);

export type StopMode = "smart" | "fast" | "immediate";

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Starts the server (no-op when running); resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops the server; `fast` (default) terminates sessions with 57P01, `immediate` drops them like a crash. */
  stop(options?: { mode?: StopMode }): Promise<void>;
  /** stop(options) then start(). */
  restart(options?: { mode?: StopMode }): Promise<void>;
  /** pg_terminate_backend of every other client backend; returns how many were terminated. */
  terminateAll(): Promise<number>;
  /** Stops the server (immediate) and deletes its directory. */
  destroy(): Promise<void>;
}

function findBinDir(): string {
  const fromEnv = process.env.APEX_PG_BIN_DIR;
  if (fromEnv) return fromEnv;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, "bin", "pg_ctl")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const newest = versions[0];
  if (newest === undefined) throw new Error(`no PostgreSQL binaries under ${root}/*/bin (set APEX_PG_BIN_DIR)`);
  return join(root, newest, "bin");
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const asRoot = typeof process.getuid === "function" && process.getuid() === 0;

/** Runs a Postgres binary, as the `postgres` OS user when we are root. */
async function pgExec(binDir: string, binary: string, args: string[]): Promise<void> {
  const path = join(binDir, binary);
  if (!asRoot) {
    await run(path, args, { timeout: 60_000 });
    return;
  }
  const quoted = [path, ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
  await run("su", ["postgres", "-s", "/bin/sh", "-c", quoted], { timeout: 60_000 });
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const binDir = findBinDir();
  const dir = mkdtempSync(join(tmpdir(), "apex-pg-"));
  const dataDir = join(dir, "data");
  const logFile = join(dir, "server.log");
  if (asRoot) {
    chmodSync(dir, 0o755);
    const { uid, gid } = await postgresUser();
    chownSync(dir, uid, gid);
  }
  await pgExec(binDir, "initdb", ["-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "-N"]);
  const port = await freePort();
  writeFileSync(
    join(dataDir, "postgresql.auto.conf"),
    [
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      "fsync = off",
      "synchronous_commit = off",
      "full_page_writes = off",
      "max_connections = 100",
      "",
    ].join("\n"),
  );
  if (asRoot) {
    const { uid, gid } = await postgresUser();
    chownSync(join(dataDir, "postgresql.auto.conf"), uid, gid);
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let running = false;

  async function waitAccepting(): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const c = new Client({ connectionString: url, connectionTimeoutMillis: 1000 });
      c.on("error", () => undefined);
      try {
        await c.connect();
        await c.query("SELECT 1");
        await c.end();
        return;
      } catch (e) {
        await c.end().catch(() => undefined);
        if (Date.now() > deadline) throw new Error(`private postgres on ${port} did not accept connections: ${String(e)}`, { cause: e });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  const cluster: PrivatePostgres = {
    url,
    port,
    dataDir,
    async start() {
      if (running) return;
      await pgExec(binDir, "pg_ctl", ["-D", dataDir, "-l", logFile, "-w", "-t", "30", "start"]);
      running = true;
      await waitAccepting();
    },
    async stop(options) {
      if (!running) return;
      await pgExec(binDir, "pg_ctl", ["-D", dataDir, "-m", options?.mode ?? "fast", "-w", "-t", "30", "stop"]);
      running = false;
    },
    async restart(options) {
      await cluster.stop(options);
      await cluster.start();
    },
    async terminateAll() {
      const c = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
      c.on("error", () => undefined);
      await c.connect();
      try {
        const r = await c.query<{ n: string }>(
          `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity
            WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'`,
        );
        return Number(r.rows[0]?.n ?? 0);
      } finally {
        await c.end();
      }
    },
    async destroy() {
      try {
        await cluster.stop({ mode: "immediate" });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  try {
    await cluster.start();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return cluster;
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const [{ stdout: uid }, { stdout: gid }] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}
