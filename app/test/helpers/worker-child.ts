/**
 * A worker in its own process, for the crash test: `node --import tsx worker-child.ts`.
 * Env: DATABASE_URL, APEX_LEASE_MS, WORKER_ID. Uses the test tools; prints "ready" once started.
 */
import { Worker } from "../../src/engine/worker";
import { openDb } from "../../src/store/db";
import { refusingSandbox, ScriptedGateway, testTools } from "./engine-doubles";

async function main() {
  const db = await openDb({ databaseUrl: process.env.DATABASE_URL, poolSize: 4 });
  const worker = new Worker(
    { db, llm: new ScriptedGateway(), tools: testTools(), sandbox: refusingSandbox },
    { id: process.env.WORKER_ID, leaseMs: Number(process.env.APEX_LEASE_MS ?? 1000), concurrency: 2 },
  );
  await worker.start();
  process.stdout.write("ready\n");
}

void main();
