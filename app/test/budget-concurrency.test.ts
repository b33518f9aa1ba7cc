/**
 * The budget guarantee under concurrency (issue 16): 50 LLM tasks, all ready at once, run by two
 * workers of 25 slots each (two processes on Postgres; two workers sharing one PGlite in one
 * process, the only way two workers can share an embedded database) through the real gateway and
 * the official OpenAI SDK against the fake provider. The agent's budget fits exactly N calls'
 * worst case: exactly N reach the provider, the others fail with budget_exceeded, and the spend
 * stays within the budget to the micro-dollar.
 *
 * The fake answers each call with exactly its worst case (prompt tokens as the tokenizer counts
 * them, max_tokens out, at gpt-4.1's whole-micro-dollar prices), so no settlement ever frees room
 * for an (N+1)th call: a count other than N is a broken reservation. The answers are held back until
 * N calls have arrived, so every other task tries to reserve while N reservations are held.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInProcessCoordination } from "../src/coord/in-process";
import { Worker } from "../src/engine/worker";
import { createLlmGateway } from "../src/llm/gateway";
import { StoreApexService } from "../src/service/apex-service";
import type { DagView } from "../src/service/types";
import { replaceBudgets } from "../src/store/queries/budgets";
import { startFakeLlmServer, type FakeLlmServer } from "./fakes/fake-llm-server";
import { openMigratedDb, storeKinds, type MigratedDb } from "./helpers/db";
import { refusingSandbox, testTools } from "./helpers/engine-doubles";
import { waitFor } from "./helpers/wait";

const tasks = 50;
const fitting = 7;
const slotsPerWorker = 25;
const model = "openai/gpt-4.1";
const prompt = "Write one line about queues that never lose a job.";
const maxTokens = 200;
const admin = { keyId: "budget-concurrency", role: "admin" } as const;

describe.each(storeKinds)("budget under concurrency on %s: 50 calls, 2 workers, a budget that fits exactly N", (kind) => {
  let store: MigratedDb;
  let fake: FakeLlmServer;
  const children: ChildProcess[] = [];
  const workers: Worker[] = [];

  const gateway = () =>
    createLlmGateway({
      coordination: createInProcessCoordination(),
      openai: { apiKey: "sk-budget", baseURL: fake.openaiBaseUrl },
      local: false,
    });

  beforeAll(async () => {
    store = await openMigratedDb(kind);
    fake = await startFakeLlmServer();
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await Promise.all(workers.map((w) => w.stop(1_000)));
    await fake.close();
    await store.close();
  });

  async function startWorkers(): Promise<void> {
    if (kind === "pglite") {
      for (const id of ["w1", "w2"]) {
        const w = new Worker(
          { db: store.db, events: store.events, llm: gateway(), tools: testTools(), sandbox: refusingSandbox },
          { id, concurrency: slotsPerWorker, leaseMs: 30_000 },
        );
        await w.start();
        workers.push(w);
      }
      return;
    }
    await Promise.all(
      ["p1", "p2"].map(
        (id) =>
          new Promise<void>((resolve, reject) => {
            const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "helpers/worker-child.ts")], {
              env: {
                ...process.env,
                DATABASE_URL: store.url,
                APEX_LEASE_MS: "30000",
                WORKER_ID: id,
                WORKER_CONCURRENCY: String(slotsPerWorker),
                FAKE_LLM_URL: fake.url,
                LOG_LEVEL: "error",
              },
              stdio: ["ignore", "pipe", "inherit"],
            });
            children.push(child);
            child.once("exit", (code) => reject(new Error(`worker ${id} exited with ${code} before it was ready`)));
            child.stdout!.on("data", (d: Buffer) => {
              if (d.toString().includes("ready")) resolve();
            });
          }),
      ),
    );
  }

  it(`exactly ${fitting} of ${tasks} concurrent calls are made, the rest fail budget_exceeded, spend <= budget to the micro-dollar`, async () => {
    const llm = gateway();
    const worst = llm.worstCase({ model, prompt, maxTokens })!;
    const promptTokens = worst.tokens - maxTokens;
    // gpt-4.1: $2 and $8 per 1M tokens = 2 and 8 µ$ per token, so the worst case is exact and an
    // answer of promptTokens in, maxTokens out costs exactly as much.
    expect(worst.microUsd).toBe(promptTokens * 2 + maxTokens * 8);
    const limit = fitting * worst.microUsd + worst.microUsd - 1;

    const service = new StoreApexService({ db: store.db, events: store.events, tools: testTools(), models: llm });
    const agentId = (await service.createAgent({ name: `budget-${kind}` })).id;
    await replaceBudgets(store.db, "agent", agentId, { total: { microUsd: limit } }, "test");

    let release!: () => void;
    const answersHeld = new Promise<void>((r) => (release = r));
    fake.setDefault({ kind: "success", usage: { input: promptTokens, output: maxTokens }, after: answersHeld });

    const { id: dagId } = await service.submitDag(
      {
        agent_id: agentId,
        name: "fifty",
        tasks: Array.from({ length: tasks }, (_, i) => ({ id: `t${i}`, kind: "llm", model, prompt, max_tokens: maxTokens, max_attempts: 3 })),
      },
      admin,
    );
    await startWorkers();

    // Hold the answers until N calls are out (and a little longer, for any call that should not be).
    await waitFor("the calls that fit to reach the provider", () => (fake.requestCount("openai") >= fitting ? true : undefined), { timeoutMs: 60_000 });
    await waitFor("the other tasks to find no room", async () => {
      const r = await store.db.query<{ n: string }>("SELECT count(*) AS n FROM tasks WHERE dag_id = $1 AND waiting_for = 'budget'", [dagId]);
      return Number(r.rows[0]!.n) > 0 ? true : undefined;
    });
    release();

    const dag = await waitFor(
      "the DAG to end",
      async () => {
        const v: DagView = await service.getDag(dagId);
        return v.status === "failed" || v.status === "succeeded" ? v : undefined;
      },
      { timeoutMs: 90_000 },
    );

    expect(fake.requestCount("openai")).toBe(fitting);
    const succeeded = dag.tasks.filter((t) => t.status === "succeeded");
    const refused = dag.tasks.filter((t) => t.status === "failed");
    expect(succeeded).toHaveLength(fitting);
    expect(refused).toHaveLength(tasks - fitting);
    for (const t of refused) expect(t.error).toMatch(/^budget_exceeded: agent .* budget: worst case \$0\.\d{6} does not fit/);
    // Refused without a retry: one attempt each (a wait for calls in flight is handed back uncounted).
    for (const t of refused) expect(t.attempts.filter((a) => a.spent !== false)).toHaveLength(1);

    const window = await store.db.query<{ spent: string; reserved: string }>(
      `SELECT w.spent_micro_usd AS spent, w.reserved_micro_usd AS reserved
         FROM budget_windows w JOIN budgets b ON b.id = w.budget_id WHERE b.scope = 'agent' AND b.scope_id = $1`,
      [agentId],
    );
    expect(Number(window.rows[0]!.spent)).toBe(fitting * worst.microUsd);
    expect(Number(window.rows[0]!.spent)).toBeLessThanOrEqual(limit);
    expect(Number(window.rows[0]!.reserved)).toBe(0);
    const paid = await store.db.query<{ micro: string }>("SELECT sum(round(cost_usd * 1000000))::text AS micro FROM usage WHERE dag_id = $1", [dagId]);
    expect(Number(paid.rows[0]!.micro)).toBe(fitting * worst.microUsd);
    const held = await store.db.query("SELECT 1 FROM budget_reservations WHERE dag_id = $1", [dagId]);
    expect(held.rowCount).toBe(0);
  }, 150_000);
});
