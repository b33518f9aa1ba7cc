/**
 * A worker in its own process, for the crash test: `node --import tsx worker-child.ts`.
 * Env: DATABASE_URL, APEX_LEASE_MS, WORKER_ID, GRACE_MS. Uses the test tools; prints "ready"
 * once started. SIGTERM is handled like apex-worker: stop claiming, drain within GRACE_MS, exit.
 */
import { Worker } from "../../src/engine/worker";
import { onShutdownSignal } from "../../src/bin/signals";
import { openDb } from "../../src/store/db";
import { refusingSandbox, ScriptedGateway, testTools } from "./engine-doubles";

async function main() {
  const db = await openDb({ databaseUrl: process.env.DATABASE_URL, poolSize: 4 });
  const worker = new Worker(
    { db, llm: new ScriptedGateway(), tools: testTools(), sandbox: refusingSandbox },
    { id: process.env.WORKER_ID, leaseMs: Number(process.env.APEX_LEASE_MS ?? 1000), concurrency: 2 },
  );
  await worker.start();
  onShutdownSignal(async () => {
    await worker.stop(Number(process.env.GRACE_MS ?? 1000));
    await db.close();
  });
  process.stdout.write("ready\n");
}

void main();
