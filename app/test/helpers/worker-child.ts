/**
 * A worker in its own process, for the crash test: `node --import tsx worker-child.ts`.
 * Env: DATABASE_URL, APEX_LEASE_MS, WORKER_ID, GRACE_MS, WORKER_CONCURRENCY (default 2). Uses the test tools; prints "ready"
 * once started. With FAKE_LLM_URL (a fake-llm-server's url) LLM calls go through the real gateway
 * and the official SDKs to that server (in-process breaker); else a scripted gateway answers. SIGTERM is handled like apex-worker: stop claiming, drain within GRACE_MS, exit.
 */
import { Worker } from "../../src/engine/worker";
import { onShutdownSignal } from "../../src/bin/signals";
import { createInProcessCoordination } from "../../src/coord/in-process";
import { createLlmGateway } from "../../src/llm/gateway";
import { openDb } from "../../src/store/db";
import { refusingSandbox, ScriptedGateway, testTools } from "./engine-doubles";

async function main() {
  const concurrency = Number(process.env.WORKER_CONCURRENCY ?? 2);
  const db = await openDb({ databaseUrl: process.env.DATABASE_URL, poolSize: Math.max(4, Math.ceil(concurrency / 2)) });
  const worker = new Worker(
    { db, llm: childGateway(), tools: testTools(), sandbox: refusingSandbox },
    { id: process.env.WORKER_ID, leaseMs: Number(process.env.APEX_LEASE_MS ?? 1000), concurrency },
  );
  await worker.start();
  onShutdownSignal(async () => {
    await worker.stop(Number(process.env.GRACE_MS ?? 1000));
    await db.close();
  });
  process.stdout.write("ready\n");
}

function childGateway() {
  const url = process.env.FAKE_LLM_URL;
  if (!url) return new ScriptedGateway();
  return createLlmGateway({
    coordination: createInProcessCoordination(),
    openai: { apiKey: "sk-child", baseURL: `${url}/v1` },
    anthropic: { apiKey: "sk-child", baseURL: url },
  });
}

void main();
