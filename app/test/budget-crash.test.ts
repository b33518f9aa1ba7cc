/**
 * A worker process SIGKILLed while its LLM call is in flight (issue 16): the reservation it held
 * must not stay held for ever, and must not be forgotten either (the provider may have been paid).
 * The reclaimer of the expired lease settles it: the hold leaves `reserved` and its worst case is
 * charged to `spent`; the retry reserves anew and sends the call again under the same idempotency
 * key. Postgres only (separate processes need a shared server).
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createInProcessCoordination } from "../src/coord/in-process";
import { Worker } from "../src/engine/worker";
import { createLlmGateway } from "../src/llm/gateway";
import { StoreApexService } from "../src/service/apex-service";
import { startFakeLlmServer, type FakeLlmServer } from "./fakes/fake-llm-server";
import { openMigratedDb, type MigratedDb } from "./helpers/db";
import { refusingSandbox, testTools } from "./helpers/engine-doubles";

const leaseMs = 1_500;
const model = "openai/gpt-4.1";
const prompt = "Summarise why budgets are reserved before a call.";
const maxTokens = 100;

describe("a worker killed mid-call: the reclaimer settles its budget reservation", () => {
  let store: MigratedDb;
  let fake: FakeLlmServer;
  let child: ChildProcess | undefined;
  let survivor: Worker | undefined;

  const gateway = () => createLlmGateway({ coordination: createInProcessCoordination(), openai: { apiKey: "sk-crash", baseURL: fake.openaiBaseUrl } });

  beforeAll(async () => {
    store = await openMigratedDb("postgres");
    fake = await startFakeLlmServer();
  });
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await survivor?.stop(1_000);
  });
  afterAll(async () => {
    await fake.close();
    await store.close();
  });

  const window = async (dagId: string) =>
    (
      await store.db.query<{ spent: string; reserved: string }>(
        `SELECT w.spent_micro_usd::text AS spent, w.reserved_micro_usd::text AS reserved
           FROM budget_windows w JOIN budgets b ON b.id = w.budget_id WHERE b.scope = 'dag' AND b.scope_id = $1`,
        [dagId],
      )
    ).rows[0]!;

  it("the hold is released into spent at its worst case, and the retry (same idempotency key) runs within the budget", async () => {
    const llm = gateway();
    const worst = llm.worstCase({ model, prompt, maxTokens })!.microUsd;
    const service = new StoreApexService({ db: store.db, events: store.events, tools: testTools(), models: llm });
    const agentId = (await service.createAgent({ name: "budget-crash" })).id;
    const { id: dagId } = await service.submitDag(
      { agent_id: agentId, name: "crash", tasks: [{ id: "ask", kind: "llm", model, prompt, max_tokens: maxTokens, max_attempts: 2 }] },
      { keyId: "crash-key", role: "admin" },
    );
    await store.db.query("INSERT INTO budgets (scope, scope_id, period, limit_micro_usd) VALUES ('dag', $1, 'total', $2)", [dagId, 2 * worst]);

    fake.enqueueFor("openai", { kind: "hang" }, { kind: "success", usage: { input: 20, output: 10 } });
    child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "helpers/worker-child.ts")], {
      env: { ...process.env, DATABASE_URL: store.url, APEX_LEASE_MS: String(leaseMs), WORKER_ID: "doomed", FAKE_LLM_URL: fake.url, LOG_LEVEL: "error" },
      stdio: ["ignore", "ignore", "inherit"],
    });
    await expect.poll(() => fake.requestCount("openai"), { timeout: 45_000, interval: 20 }).toBe(1);
    expect(await window(dagId)).toEqual({ spent: "0", reserved: String(worst) });

    const exited = new Promise((r) => child!.once("exit", r));
    child.kill("SIGKILL");
    await exited;
    // Dead, its hold stays until someone reclaims the lease.
    expect(await window(dagId)).toEqual({ spent: "0", reserved: String(worst) });

    survivor = new Worker({ db: store.db, events: store.events, llm: gateway(), tools: testTools(), sandbox: refusingSandbox }, { id: "survivor", leaseMs });
    await survivor.start();
    await expect.poll(async () => (await service.getDag(dagId)).status, { timeout: 30_000, interval: 50 }).toBe("succeeded");

    expect(fake.requestCount("openai")).toBe(2);
    const keys = fake.requests.map((r) => r.headers["idempotency-key"]);
    expect(keys[1]).toBe(keys[0]);
    // Charged: the lost call at its worst case, the retry at what it cost. Nothing held.
    expect(await window(dagId)).toEqual({ spent: String(worst + 20 * 2 + 10 * 8), reserved: "0" });
    const r = await store.db.query<{ attempt: number; status: string }>("SELECT attempt, status FROM budget_reservations WHERE dag_id = $1", [dagId]);
    expect(r.rows).toEqual([{ attempt: 1, status: "charged" }]);
  }, 120_000);
});
