/**
 * Budgets as the engine applies them, on Postgres and PGlite, through the real gateway: the local
 * provider (token budgets: its counts are exact) and the official OpenAI SDK against the fake
 * provider (USD budgets, failures). Covered: budgets on three scopes combine and the tightest one
 * refuses; a daily budget resets at midnight UTC on the budgets' clock (a DAG that asked waits for
 * it, one that did not fails naming the reset); a call the provider answered with an error releases
 * its reservation; a call that ended without an answer is charged its worst case; an answer that
 * costs more than its reservation is charged what it cost; a cancel settles calls in flight.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createInProcessCoordination } from "../src/coord/in-process";
import type { BudgetLimit, BudgetPeriod, BudgetScope } from "../src/domain/budget";
import { Worker } from "../src/engine/worker";
import { createLlmGateway } from "../src/llm/gateway";
import { countTokens } from "../src/llm/providers/local";
import { StoreApexService } from "../src/service/apex-service";
import type { DagView } from "../src/service/types";
import { replaceBudgets } from "../src/store/queries/budgets";
import { apexMetrics } from "../src/telemetry/metrics";
import { startFakeLlmServer, type FakeLlmServer } from "./fakes/fake-llm-server";
import { openMigratedDb, storeKinds, type MigratedDb } from "./helpers/db";
import { refusingSandbox, testTools } from "./helpers/engine-doubles";

const prompt = "Budgets hold under any concurrency.";
/** local/echo answers with the prompt: with max_tokens = its token count, a call uses exactly its worst case. */
const promptTokens = countTokens(prompt);
const callTokens = 2 * promptTokens;

interface WindowRow {
  starts_at: Date;
  spent_micro_usd: string;
  spent_tokens: string;
  reserved_micro_usd: string;
  reserved_tokens: string;
}

describe.each(storeKinds)("budgets in the engine on %s", (kind) => {
  let store: MigratedDb;
  let fake: FakeLlmServer;
  let service: StoreApexService;
  let worker: Worker | undefined;

  const gateway = () =>
    createLlmGateway({
      coordination: createInProcessCoordination(),
      openai: { apiKey: "sk-budget", baseURL: fake.openaiBaseUrl },
    });

  beforeAll(async () => {
    store = await openMigratedDb(kind);
    fake = await startFakeLlmServer();
    service = new StoreApexService({ db: store.db, events: store.events, tools: testTools(), models: gateway() });
  });
  afterEach(async () => {
    await worker?.stop(1_000);
    worker = undefined;
    fake.reset();
  });
  afterAll(async () => {
    await fake.close();
    await store.close();
  });

  async function startWorker(clock?: () => number): Promise<void> {
    worker = new Worker(
      { db: store.db, events: store.events, llm: gateway(), tools: testTools(), sandbox: refusingSandbox },
      { concurrency: 4, leaseMs: 10_000, ...(clock ? { budgetClock: clock } : {}) },
    );
    await worker.start();
  }

  const newAgent = async () => (await service.createAgent({ name: `budget-${randomUUID().slice(0, 8)}` })).id;

  /** Submits a chain of local/echo tasks (each depends on the one before) under `keyId`. */
  async function submitChain(agentId: string, keyId: string, length: number, extra: Record<string, unknown> = {}): Promise<string> {
    const tasks = Array.from({ length }, (_, i) => ({
      id: `step${i}`,
      kind: "llm",
      model: "local/echo",
      prompt,
      max_tokens: promptTokens,
      max_attempts: 1,
      depends_on: i === 0 ? [] : [`step${i - 1}`],
    }));
    const { id } = await service.submitDag({ agent_id: agentId, name: "chain", tasks, ...extra }, { keyId, role: "admin" });
    return id;
  }

  async function setDagBudget(dagId: string, limit: BudgetLimit, onExhausted: "fail" | "wait_for_reset" = "fail"): Promise<void> {
    await store.db.query("INSERT INTO budgets (scope, scope_id, period, limit_micro_usd, limit_tokens) VALUES ('dag', $1, 'total', $2, $3)", [
      dagId,
      limit.microUsd ?? null,
      limit.tokens ?? null,
    ]);
    await store.db.query("UPDATE dags SET budget_on_exhausted = $2 WHERE id = $1", [dagId, onExhausted]);
  }

  async function ended(dagId: string): Promise<DagView> {
    await expect.poll(async () => (await service.getDag(dagId)).status, { timeout: 30_000, interval: 50 }).toMatch(/^(succeeded|failed|cancelled)$/);
    return service.getDag(dagId);
  }

  /** apex_budget_rejections_total{scope} of this process (the worker runs in it). */
  const rejections = async (scope: BudgetScope) =>
    (await apexMetrics.budgetRejectionsTotal.get()).values.find((v) => v.labels.scope === scope)?.value ?? 0;

  async function windows(scope: BudgetScope, scopeId: string, period: BudgetPeriod = "total"): Promise<WindowRow[]> {
    const r = await store.db.query<WindowRow>(
      `SELECT w.starts_at, w.spent_micro_usd::text, w.spent_tokens::text, w.reserved_micro_usd::text, w.reserved_tokens::text
         FROM budget_windows w JOIN budgets b ON b.id = w.budget_id
        WHERE b.scope = $1 AND b.scope_id = $2 AND b.period = $3 ORDER BY w.starts_at`,
      [scope, scopeId, period],
    );
    return r.rows;
  }

  it.each([
    { tightest: "dag", fits: 2, dag: 2, agent: { period: "total", calls: 3 }, key: { period: "total", calls: 4 }, named: /^budget_exceeded: dag \S+ budget:/ },
    { tightest: "agent", fits: 3, dag: 4, agent: { period: "day", calls: 3 }, key: { period: "total", calls: 5 }, named: /^budget_exceeded: agent \S+ daily budget:/ },
    { tightest: "api_key", fits: 1, dag: 5, agent: { period: "total", calls: 4 }, key: { period: "month", calls: 1 }, named: /^budget_exceeded: API key \S+ monthly budget:/ },
  ] as const)("budgets on all three scopes combine: the tightest ($tightest) stops the chain after $fits calls", async (c) => {
    const agentId = await newAgent();
    const keyId = randomUUID();
    // Each limit leaves room for its calls and one token short of one more.
    const tokensFor = (calls: number) => ({ tokens: calls * callTokens + callTokens - 1 });
    await replaceBudgets(store.db, "agent", agentId, { [c.agent.period]: tokensFor(c.agent.calls) }, "test");
    await replaceBudgets(store.db, "api_key", keyId, { [c.key.period]: tokensFor(c.key.calls) }, "test");
    const dagId = await submitChain(agentId, keyId, 6);
    await setDagBudget(dagId, tokensFor(c.dag));
    const rejectionsBefore = await rejections(c.tightest);
    await startWorker();

    const dag = await ended(dagId);
    expect(await rejections(c.tightest)).toBe(rejectionsBefore + 1);
    expect(dag.status).toBe("failed");
    expect(dag.tasks.filter((t) => t.status === "succeeded")).toHaveLength(c.fits);
    const refused = dag.tasks[c.fits]!;
    expect(refused.status).toBe("failed");
    expect(refused.error).toMatch(c.named);
    expect(dag.tasks.slice(c.fits + 1).every((t) => t.status === "skipped")).toBe(true);
    // Every scope was charged the same calls, and nothing is left reserved.
    for (const [scope, id, period] of [
      ["dag", dagId, "total"],
      ["agent", agentId, c.agent.period],
      ["api_key", keyId, c.key.period],
    ] as const) {
      const [w] = await windows(scope, id, period);
      expect(Number(w!.spent_tokens)).toBe(c.fits * callTokens);
      expect(Number(w!.reserved_tokens)).toBe(0);
    }
  });

  it("a daily budget resets at midnight UTC on the budgets' clock: a DAG that asked waits for the reset, then runs", async () => {
    const agentId = await newAgent();
    await replaceBudgets(store.db, "agent", agentId, { day: { tokens: callTokens } }, "test");
    const dagId = await submitChain(agentId, randomUUID(), 2);
    await setDagBudget(dagId, { tokens: 10 * callTokens }, "wait_for_reset");
    // The budgets' clock runs from five seconds before midnight: step0 spends the day, step1 waits.
    const midnight = Date.parse("2026-12-09T00:00:00.000Z");
    const startedAt = Date.now();
    await startWorker(() => midnight - 5_000 + (Date.now() - startedAt));

    await expect
      .poll(async () => (await service.getDag(dagId)).tasks[1]?.waitingFor, { timeout: 5_000, interval: 25 })
      .toBe("budget");
    const dag = await ended(dagId);
    expect(dag.status).toBe("succeeded");
    const days = await windows("agent", agentId, "day");
    expect(days.map((w) => new Date(w.starts_at).toISOString())).toEqual(["2026-12-08T00:00:00.000Z", "2026-12-09T00:00:00.000Z"]);
    expect(days.map((w) => Number(w.spent_tokens))).toEqual([callTokens, callTokens]);
    // The wait was handed back without counting: one attempt row, spent.
    expect(dag.tasks[1]!.attempts).toHaveLength(1);
  });

  it("a DAG that did not ask to wait fails on a spent daily budget, naming when it resets", async () => {
    const agentId = await newAgent();
    await replaceBudgets(store.db, "agent", agentId, { day: { tokens: callTokens } }, "test");
    const dagId = await submitChain(agentId, randomUUID(), 3);
    await startWorker(() => Date.parse("2026-12-08T12:00:00.000Z"));

    const dag = await ended(dagId);
    expect(dag.tasks.map((t) => t.status)).toEqual(["succeeded", "failed", "skipped"]);
    expect(dag.tasks[1]!.error).toContain("daily budget");
    expect(dag.tasks[1]!.error).toContain("resets at 2026-12-09T00:00:00.000Z");
  });

  /** A one-task DAG on openai/gpt-4.1 (whole micro-dollar prices) under a USD budget of its own, `limit(worst case)`. */
  async function submitPaid(limit: (worst: number) => number, task: Record<string, unknown> = {}): Promise<{ dagId: string; worst: number }> {
    const agentId = await newAgent();
    const worst = gateway().worstCase({ model: "openai/gpt-4.1", prompt, maxTokens: 100 })!.microUsd;
    const { id } = await service.submitDag(
      { agent_id: agentId, name: "paid", tasks: [{ id: "ask", kind: "llm", model: "openai/gpt-4.1", prompt, max_tokens: 100, ...task }] },
      { keyId: randomUUID(), role: "admin" },
    );
    await setDagBudget(id, { microUsd: limit(worst) });
    return { dagId: id, worst };
  }

  it("a call the provider answered with an error paid nothing: its reservation is released, and the retry fits", async () => {
    const { dagId } = await submitPaid((worst) => worst, { max_attempts: 2 });
    fake.enqueueFor("openai", { kind: "error", status: 500 }, { kind: "success", usage: { input: 10, output: 5 } });
    await startWorker();

    const dag = await ended(dagId);
    expect(dag.status).toBe("succeeded");
    expect(fake.requestCount("openai")).toBe(2);
    const [w] = await windows("dag", dagId);
    expect(Number(w!.spent_micro_usd)).toBe(10 * 2 + 5 * 8);
    expect(Number(w!.reserved_micro_usd)).toBe(0);
  });

  it("a call that ended without an answer may have been paid: its worst case is charged, so a budget for one call refuses the retry", async () => {
    const { dagId, worst } = await submitPaid((w) => 2 * w - 1, { max_attempts: 2, timeout_ms: 300 });
    fake.enqueueFor("openai", { kind: "hang" });
    await startWorker();

    const dag = await ended(dagId);
    expect(dag.status).toBe("failed");
    expect(fake.requestCount("openai")).toBe(1);
    expect(dag.tasks[0]!.error).toMatch(/^budget_exceeded: dag /);
    const [w] = await windows("dag", dagId);
    expect(Number(w!.spent_micro_usd)).toBe(worst);
    expect(Number(w!.reserved_micro_usd)).toBe(0);
    const r = await store.db.query<{ status: string }>("SELECT status FROM budget_reservations WHERE dag_id = $1", [dagId]);
    expect(r.rows.map((x) => x.status)).toEqual(["charged"]);
  });

  it("an answer that cost more than its reservation (the provider went past max_tokens) is charged what it cost", async () => {
    const { dagId, worst } = await submitPaid((w) => w);
    fake.enqueueFor("openai", { kind: "success", usage: { input: 10, output: 400 } });
    await startWorker();

    const dag = await ended(dagId);
    expect(dag.status).toBe("succeeded");
    const [w] = await windows("dag", dagId);
    expect(Number(w!.spent_micro_usd)).toBe(10 * 2 + 400 * 8);
    expect(Number(w!.spent_micro_usd)).toBeGreaterThan(worst);
    expect(Number(w!.reserved_micro_usd)).toBe(0);
  });

  it("cancelling a DAG settles its call in flight at once: charged at its worst case, nothing left reserved", async () => {
    const { dagId, worst } = await submitPaid(() => 1_000_000);
    fake.enqueueFor("openai", { kind: "hang" });
    await startWorker();
    await expect.poll(() => fake.requestCount("openai"), { timeout: 10_000, interval: 25 }).toBe(1);
    expect(Number((await windows("dag", dagId))[0]!.reserved_micro_usd)).toBe(worst);

    await service.cancelDag(dagId, undefined, "test");
    const [w] = await windows("dag", dagId);
    expect(Number(w!.reserved_micro_usd)).toBe(0);
    expect(Number(w!.spent_micro_usd)).toBe(worst);
  });
});
