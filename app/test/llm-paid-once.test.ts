/**
 * LLM calls are steps paid once, attacked with the real fault: a worker process (real gateway,
 * official SDKs, fake provider over HTTP) is SIGKILLed right after the provider answered, or while
 * its call is in flight. The next worker must not pay an answered call again (0 new provider
 * requests, the stored answer is the task's output, even with max_attempts 1), and a call lost in
 * flight must show up in `usage` as unknown and be sent once more under the same idempotency key.
 * Postgres only (separate processes need a shared server).
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { Client } from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createInProcessCoordination } from "../src/coord/in-process";
import { Worker } from "../src/engine/worker";
import { createLlmGateway } from "../src/llm/gateway";
import { StoreApexService } from "../src/service/apex-service";
import type { DagView } from "../src/service/types";
import { openDb } from "../src/store/db";
import { startFakeLlmServer, type FakeLlmServer } from "./fakes/fake-llm-server";
import { openMigratedDb, type MigratedDb } from "./helpers/db";
import { refusingSandbox, testTools } from "./helpers/engine-doubles";
import { startTcpProxy } from "./helpers/tcp-proxy";

const leaseMs = 1_500;
const admin = { keyId: "k", role: "admin" } as const;

interface UsageRow {
  attempt: number;
  unknown: boolean;
  input_tokens: number | null;
  output_tokens: number | null;
}

describe("LLM calls paid once across a worker crash", () => {
  let store: MigratedDb;
  let fake: FakeLlmServer;
  let service: StoreApexService;
  let agentId: string;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    store = await openMigratedDb("postgres");
    fake = await startFakeLlmServer();
    service = new StoreApexService({ db: store.db, events: store.events, tools: testTools(), models: gateway() });
    agentId = (await service.createAgent({ name: "paid-once" })).id;
  });
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    fake.reset();
  });
  afterAll(async () => {
    await fake.close();
    await store.close();
  });

  function spawnWorker(workerId: string): ChildProcess {
    return spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "helpers/worker-child.ts")], {
      env: { ...process.env, DATABASE_URL: store.url, APEX_LEASE_MS: String(leaseMs), WORKER_ID: workerId, FAKE_LLM_URL: fake.url, LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "inherit"],
    });
  }

  async function kill(proc: ChildProcess): Promise<void> {
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGKILL");
    await exited;
  }

  const callStatus = async (dagId: string) =>
    (await store.db.query<{ status: string }>("SELECT status FROM llm_calls WHERE dag_id = $1", [dagId])).rows[0]?.status;

  const usageRows = async (dagId: string) =>
    (
      await store.db.query<UsageRow>("SELECT attempt, unknown, input_tokens, output_tokens FROM usage WHERE dag_id = $1 ORDER BY attempt, id", [
        dagId,
      ])
    ).rows;

  /** Sessions of this test's database waiting for a row lock (a worker recording a result against the held row). */
  const lockWaiters = async (client: Client) =>
    (
      await client.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
      )
    ).rows.map((r) => r.pid);

  async function submit(name: string, model: string, maxAttempts: number): Promise<string> {
    const { id } = await service.submitDag(
      { agent_id: agentId, name, tasks: [{ id: "ask", kind: "llm", model, prompt: "what is durable", max_attempts: maxAttempts }] },
      admin,
    );
    return id;
  }

  /** The real gateway to the fake provider, as the child worker builds it. */
  function gateway() {
    return createLlmGateway({
      coordination: createInProcessCoordination(),
      openai: { apiKey: "sk-survivor", baseURL: fake.openaiBaseUrl },
      anthropic: { apiKey: "sk-survivor", baseURL: fake.anthropicBaseUrl },
    });
  }

  /** A worker in this process, through the real gateway to the same fake provider; runs until the DAG ends. */
  async function surviveUntilDone(dagId: string): Promise<DagView> {
    const survivor = new Worker({ db: store.db, events: store.events, llm: gateway(), tools: testTools(), sandbox: refusingSandbox }, { id: "survivor", leaseMs });
    await survivor.start();
    try {
      await expect.poll(async () => (await service.getDag(dagId)).status, { timeout: 30_000, interval: 50 }).toMatch(/^(succeeded|failed)$/);
    } finally {
      await survivor.stop();
    }
    return service.getDag(dagId);
  }

  it.each([
    { api: "openai", model: "openai/gpt-4o-mini" },
    { api: "anthropic", model: "anthropic/claude-3-5-haiku" },
  ] as const)(
    "$api: killed right after the answer arrived, the next claim reuses it: 0 new provider calls, one usage row, max_attempts 1 still succeeds",
    async ({ api, model }) => {
      let answer!: () => void;
      fake.enqueueFor(api, { kind: "success", text: "stored \u0000 answer", usage: { input: 7, output: 3 }, after: new Promise<void>((r) => (answer = r)) });
      const dagId = await submit(`answered-${api}`, model, 1);
      child = spawnWorker(`answered-${api}`);
      await expect.poll(() => fake.requestCount(api), { timeout: 20_000, interval: 20 }).toBe(1);

      // Hold the task row so the child cannot record the task's result; the answer's own transaction needs no such lock.
      const holder = new Client({ connectionString: store.url });
      await holder.connect();
      try {
        await holder.query("BEGIN");
        await holder.query("SELECT 1 FROM tasks WHERE dag_id = $1 AND id = 'ask' FOR NO KEY UPDATE", [dagId]);
        answer();
        await expect.poll(() => callStatus(dagId), { timeout: 20_000, interval: 20 }).toBe("answered");
        // The child is recording the task's result now, waiting for the row: kill it there. Its
        // server-side session would go on waiting (Postgres notices a dead client only when it
        // writes to it), so end the waiting sessions as the dead client's TCP keepalive would.
        await expect.poll(() => lockWaiters(holder), { timeout: 20_000, interval: 20 }).not.toHaveLength(0);
        await kill(child);
        for (const pid of await lockWaiters(holder)) await holder.query("SELECT pg_terminate_backend($1)", [pid]);
      } finally {
        await holder.query("ROLLBACK");
        await holder.end();
      }
      expect((await service.getDag(dagId)).tasks[0]?.status).toBe("running");

      const v = await surviveUntilDone(dagId);
      expect(v.status).toBe("succeeded");
      expect(v.tasks[0]?.output).toBe("stored \u0000 answer");
      expect(fake.requestCount()).toBe(1);
      expect(v.tasks[0]?.attempts.map((a) => [a.workerId, a.status, a.spent])).toEqual([
        [`answered-${api}`, "failed", false],
        ["survivor", "succeeded", true],
      ]);
      expect(await usageRows(dagId)).toEqual([{ attempt: 1, unknown: false, input_tokens: 7, output_tokens: 3 }]);
    },
    60_000,
  );

  it("killed while the call was in flight: one unknown-usage row, one new call under the same idempotency key, the retry counted", async () => {
    fake.enqueueFor("openai", { kind: "hang" });
    const dagId = await submit("in-flight", "openai/gpt-4o-mini", 3);
    child = spawnWorker("in-flight");
    await expect.poll(() => fake.requestCount("openai"), { timeout: 20_000, interval: 20 }).toBe(1);
    expect(await callStatus(dagId)).toBe("in_flight");
    await kill(child);

    const v = await surviveUntilDone(dagId);
    expect(v.status).toBe("succeeded");
    expect(v.tasks[0]?.output).toBe("echo: what is durable");
    expect(fake.requestCount()).toBe(2);
    const [first, second] = fake.requests.map((r) => r.headers["idempotency-key"]);
    expect(first).toMatch(/^apex-[0-9a-f]{64}$/);
    expect(second).toBe(first);
    // The lost attempt is spent (the retry is counted), and its call appears in usage as unknown.
    expect(v.tasks[0]?.attempts.map((a) => [a.workerId, a.status, a.spent])).toEqual([
      ["in-flight", "failed", true],
      ["survivor", "succeeded", true],
    ]);
    expect(await usageRows(dagId)).toEqual([
      { attempt: 1, unknown: true, input_tokens: null, output_tokens: null },
      { attempt: 2, unknown: false, input_tokens: 3, output_tokens: 4 },
    ]);
    expect(await callStatus(dagId)).toBe("answered");
  }, 60_000);

  it("an answer that arrives while the database is down is kept until it can be written: no second call", async () => {
    const direct = new URL(store.url!);
    const proxy = await startTcpProxy(direct.hostname, Number(direct.port || 5432));
    const viaProxy = new URL(store.url!);
    viaProxy.hostname = "127.0.0.1";
    viaProxy.port = String(proxy.port);
    const workerDb = await openDb({ databaseUrl: viaProxy.toString(), poolSize: 2 });
    // Long lease and poll: during the cut the only database work is writing the answer.
    const worker = new Worker(
      { db: workerDb, events: store.events, llm: gateway(), tools: testTools(), sandbox: refusingSandbox },
      { id: "outage-worker", concurrency: 1, leaseMs: 60_000, fallbackPollMs: 60_000 },
    );
    let answer!: () => void;
    fake.enqueueFor("openai", { kind: "success", text: "kept", after: new Promise<void>((r) => (answer = r)) });
    const dagId = await submit("outage", "openai/gpt-4o-mini", 3);
    await worker.start();
    try {
      await expect.poll(() => fake.requestCount("openai"), { timeout: 20_000, interval: 20 }).toBe(1);
      proxy.cut();
      answer();
      // The write is tried again and again (each try a refused connection), well past a few quick retries.
      await expect.poll(() => proxy.refused, { timeout: 20_000, interval: 50 }).toBeGreaterThanOrEqual(8);
      proxy.restore();
      await expect.poll(async () => (await service.getDag(dagId)).status, { timeout: 30_000, interval: 50 }).toBe("succeeded");
    } finally {
      await worker.stop();
      await workerDb.close();
      await proxy.close();
    }
    const v = await service.getDag(dagId);
    expect(v.tasks[0]?.output).toBe("kept");
    expect(fake.requestCount()).toBe(1);
    expect(v.tasks[0]?.attempts.map((a) => a.status)).toEqual(["succeeded"]);
    expect(await usageRows(dagId)).toEqual([{ attempt: 1, unknown: false, input_tokens: 3, output_tokens: 1 }]);
  }, 60_000);
});
