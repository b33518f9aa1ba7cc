/**
 * The runtime's Postgres store over TLS the way it reaches RDS (docs/aws.md): DATABASE_URL with
 * `sslmode=verify-full&sslrootcert=<CA bundle>`, against a private Postgres cluster with ssl=on, a
 * server certificate from a CA generated here, and a pg_hba that refuses the app user without TLS
 * (what rds.force_ssl=1 does). The store must connect when the chain and the host name check out,
 * and refuse a server whose certificate comes from another CA, or names another host.
 */
import { chownSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config";
import { PostgresDb } from "../src/store/postgres";
import { startPrivatePostgres, type PrivatePostgres } from "./helpers/private-postgres";
import { makeCa, makeServerCert } from "./helpers/test-ca";

const APP_PASSWORD = "tls-test-password-0123456789";

let pg: PrivatePostgres;
let certDir: string;
const ca = () => join(certDir, "ca.pem");
const otherCa = () => join(certDir, "other-ca.pem");

const url = (host: string, params: string) => `postgres://apex:${APP_PASSWORD}@${host}:${pg.port}/postgres?${params}`;

/** Opens the runtime's store on `databaseUrl` and reports whether this session is encrypted. */
async function sessionSsl(databaseUrl: string): Promise<boolean> {
  const db = new PostgresDb(databaseUrl, 1, { connectTimeoutMs: 5_000 });
  try {
    const r = await db.query<{ ssl: boolean }>("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    return r.rows[0]?.ssl === true;
  } finally {
    await db.close();
  }
}

beforeAll(async () => {
  pg = await startPrivatePostgres();
  await pg.start();
  certDir = mkdtempSync(join(tmpdir(), "apex-tls-"));
  await makeCa(certDir, "ca", "Apex Test CA");
  await makeCa(certDir, "other-ca", "Some Other CA");
  const server = await makeServerCert(certDir, "ca");
  // The server reads its certificate and key from its data directory, owned by its OS user (0600 key).
  const { uid, gid } = statSync(pg.dataDir);
  const place = (from: string, name: string, mode: number) => {
    const to = join(pg.dataDir, name);
    writeFileSync(to, readFileSync(from), { mode });
    chownSync(to, uid, gid);
  };
  place(server.cert, "server.crt", 0o644);
  place(server.key, "server.key", 0o600);
  writeFileSync(join(pg.dataDir, "postgresql.auto.conf"), "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nlisten_addresses = '127.0.0.1,::1'\n", { flag: "a" });
  // The app user only over TLS with a password (rds.force_ssl=1); the helper's own `postgres` user as before.
  writeFileSync(join(pg.dataDir, "pg_hba.conf"), [
    "local all all trust",
    "hostnossl all apex 0.0.0.0/0 reject",
    "hostnossl all apex ::/0 reject",
    "hostssl all apex 127.0.0.1/32 scram-sha-256",
    "hostssl all apex ::1/128 scram-sha-256",
    "host all postgres 127.0.0.1/32 trust",
    "host all postgres ::1/128 trust",
    "",
  ].join("\n"));
  await pg.restart();
  const admin = new Client({ connectionString: pg.url });
  await admin.connect();
  await admin.query(`CREATE ROLE apex LOGIN PASSWORD '${APP_PASSWORD}'`);
  await admin.end();
}, 120_000);

afterAll(async () => {
  await pg?.destroy();
  if (certDir) rmSync(certDir, { recursive: true, force: true });
});

describe("the Postgres store over TLS (sslmode=verify-full, sslrootcert)", () => {
  it("connects encrypted when the server's certificate chains to the CA file and names the host", async () => {
    expect(await sessionSsl(url("localhost", `sslmode=verify-full&sslrootcert=${encodeURIComponent(ca())}`))).toBe(true);
  });

  it("takes the same URL through the runtime's config (DATABASE_URL, the password spliced or inline)", async () => {
    const inline = loadConfig({ DATABASE_URL: url("localhost", `sslmode=verify-full&sslrootcert=${encodeURIComponent(ca())}`) });
    expect(await sessionSsl(inline.databaseUrl!)).toBe(true);
    const spliced = loadConfig({
      DATABASE_URL: `postgres://apex@localhost:${pg.port}/postgres?sslmode=verify-full&sslrootcert=${encodeURIComponent(ca())}`,
      DATABASE_PASSWORD: APP_PASSWORD,
    });
    expect(await sessionSsl(spliced.databaseUrl!)).toBe(true);
  });

  it("refuses a server whose certificate comes from another CA", async () => {
    await expect(sessionSsl(url("localhost", `sslmode=verify-full&sslrootcert=${encodeURIComponent(otherCa())}`))).rejects.toThrow(/self[- ]signed|unable to (get|verify)|certificate/i);
  });

  it("refuses a certificate that does not name the host connected to (verify-full checks the name)", async () => {
    await expect(sessionSsl(url("127.0.0.1", `sslmode=verify-full&sslrootcert=${encodeURIComponent(ca())}`))).rejects.toThrow(/IP: 127\.0\.0\.1 is not in the cert's list|altnames|Hostname/i);
  });

  it("is refused without TLS, as RDS with rds.force_ssl=1 refuses it", async () => {
    await expect(sessionSsl(url("localhost", "sslmode=disable"))).rejects.toThrow(/no encryption|pg_hba\.conf rejects/i);
  });
});
