/**
 * The runtime's Redis coordination over TLS the way it reaches ElastiCache (docs/aws.md):
 * REDIS_URL `rediss://:<token>@<host>:6379`, against a private redis-server with only a TLS port,
 * a server certificate from a CA generated here, and requirepass. ioredis verifies the chain
 * against Node's trust store (ElastiCache chains to Amazon's public roots, which it holds): a
 * process that does not trust the test CA is refused, one given it (NODE_EXTRA_CA_CERTS, read at
 * process start, hence a child process) connects; a wrong token and plain redis:// are refused.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisCoordination } from "../src/coord/redis";
import { makeCa, makeServerCert } from "./helpers/test-ca";
import { freePort, waitFor } from "./helpers/wait";

const run = promisify(execFile);
const TOKEN = "tls-test-token-0123456789abcdef";
const repoRoot = join(__dirname, "..", "..");

let dir: string;
let port: number;
let server: ChildProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "apex-redis-tls-"));
  await makeCa(dir, "ca", "Apex Test CA");
  const cert = await makeServerCert(dir, "ca");
  port = await freePort();
  // Only a TLS port; the token on stdin, as the in-cluster Redis gets it.
  server = spawn("redis-server", ["-", "--port", "0", "--tls-port", String(port), "--bind", "127.0.0.1", "::1", "--tls-cert-file", cert.cert, "--tls-key-file", cert.key, "--tls-ca-cert-file", join(dir, "ca.pem"), "--tls-auth-clients", "no", "--save", "", "--appendonly", "no"], { stdio: ["pipe", "ignore", "inherit"] });
  server.stdin!.end(`requirepass ${TOKEN}\n`);
  await waitFor("redis-server TLS port", async () => {
    const r = await run("redis-cli", ["--tls", "--cacert", join(dir, "ca.pem"), "-h", "localhost", "-p", String(port), "--no-auth-warning", "-a", TOKEN, "ping"]).catch(() => undefined);
    return r?.stdout.includes("PONG") ? true : undefined;
  }, { timeoutMs: 15_000 });
}, 60_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.once("exit", resolve));
    server.kill("SIGTERM");
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** createRedisCoordination in a child process (NODE_EXTRA_CA_CERTS when `ca`): "ok <breaker state>" or the error. */
async function connectInChild(redisUrl: string, ca?: string): Promise<string> {
  const script = `
    const { createRedisCoordination } = require("./app/src/coord/redis");
    createRedisCoordination({ redisUrl: process.env.TEST_REDIS_URL, keyPrefix: "tls-test:" }).then(
      async (c) => { const state = await c.breakers.state("probe"); await c.close(); console.log("ok " + state); },
      (e) => { console.log("error " + e.message); });`;
  const env = { ...process.env, TEST_REDIS_URL: redisUrl, ...(ca ? { NODE_EXTRA_CA_CERTS: ca } : {}) };
  delete (env as Record<string, string | undefined>).NODE_OPTIONS;
  const { stdout } = await run(process.execPath, ["--import", "tsx", "--input-type=commonjs", "-e", script], { cwd: repoRoot, env, timeout: 30_000 });
  return stdout.trim();
}

describe("Redis coordination over TLS (rediss://)", () => {
  it("connects and runs its scripts when the process trusts the server's CA", async () => {
    expect(await connectInChild(`rediss://:${TOKEN}@localhost:${port}`, join(dir, "ca.pem"))).toBe("ok closed");
  }, 40_000);

  it("refuses the server when the process does not trust its CA (the chain is verified)", async () => {
    await expect(createRedisCoordination({ redisUrl: `rediss://:${TOKEN}@localhost:${port}`, connectTimeoutMs: 3_000 })).rejects.toThrow(/self[- ]signed certificate/i);
  });

  it("refuses a certificate that does not name the host connected to", async () => {
    expect(await connectInChild(`rediss://:${TOKEN}@127.0.0.1:${port}`, join(dir, "ca.pem"))).toMatch(/^error .*(altnames|IP: 127\.0\.0\.1 is not in the cert's list)/);
  }, 40_000);

  it("is refused with a wrong token, and without TLS", async () => {
    expect(await connectInChild(`rediss://:wrong-token-0123456789@localhost:${port}`, join(dir, "ca.pem"))).toMatch(/^error .*(WRONGPASS|invalid username-password)/);
    await expect(createRedisCoordination({ redisUrl: `redis://:${TOKEN}@localhost:${port}`, connectTimeoutMs: 3_000 })).rejects.toThrow(/cannot connect to Redis/);
  }, 40_000);
});
