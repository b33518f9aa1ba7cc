/**
 * Tasks blocked by an open breaker wait without creating attempts: a provider failing with 500s
 * opens its breaker after failureThreshold failures, its LLM tasks are then
 * left unclaimed (or, claimed in a race, handed back with their attempts row deleted) and show
 * waiting_for "provider"; when the provider recovers each task runs with one attempts row. The
 * invariant checked: every attempts row is a call that reached the provider. Real gateway, SDK and
 * fake provider over HTTP; both stores.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInProcessCoordination } from "../src/coord/in-process";
import { Worker } from "../src/engine/worker";
import { createLlmGateway } from "../src/llm/gateway";
import { StoreApexService } from "../src/service/apex-service";
import { dagJson } from "../src/api/present";
import { startFakeLlmServer, type FakeLlmServer } from "./fakes/fake-llm-server";
import { openMigratedDb, storeKinds, type MigratedDb } from "./helpers/db";
import { refusingSandbox, testTools } from "./helpers/engine-doubles";

const admin = { keyId: "k", role: "admin" } as const;

describe.each(storeKinds)("breaker-blocked tasks wait without attempts (%s)", (kind) => {
  let store: MigratedDb;
  let fake: FakeLlmServer;

  beforeAll(async () => {
    store = await openMigratedDb(kind);
    fake = await startFakeLlmServer();
  });
  afterAll(async () => {
    await fake.close();
    await store.close();
  });

  it("12 tasks behind an open breaker: no attempts row while waiting, one per run", async () => {
    const llm = createLlmGateway({
      coordination: createInProcessCoordination(),
      openai: { apiKey: "k", baseURL: fake.openaiBaseUrl },
      // A cool-down long enough that no probe goes out before the waiting tasks are checked.
      breaker: { failureThreshold: 2, cooldownMs: 5_000, probeLeaseMs: 10_000, probeTimeoutMs: 2_000 },
    });
    const service = new StoreApexService({ db: store.db, events: store.events, tools: testTools(), models: llm });
    const worker = new Worker(
      { db: store.db, events: store.events, llm, tools: testTools(), sandbox: refusingSandbox },
      { id: "breaker-worker", concurrency: 4, leaseMs: 10_000, fallbackPollMs: 200, backoff: { baseMs: 10, maxMs: 20 } },
    );
    const agent = await service.createAgent({ name: "breaker-wait" });
    fake.failNow({ kind: "error", status: 500 });
    const { id } = await service.submitDag(
      {
        agent_id: agent.id,
        name: "blocked",
        tasks: Array.from({ length: 12 }, (_, i) => ({ id: `t${i}`, kind: "llm" as const, model: "openai/gpt-4o-mini", prompt: `p${i}`, max_attempts: 10 })),
      },
      admin,
    );
    const attemptRows = async () => (await store.db.query<{ n: number }>("SELECT count(*)::int AS n FROM attempts WHERE dag_id = $1", [id])).rows[0]!.n;

    await worker.start();
    try {
      // Open, and every task waits for the provider (the two that failed included, once their retry came due).
      await expect
        .poll(async () => (await service.getDag(id)).tasks.filter((t) => t.status === "ready" && t.waitingFor === "provider").length, { timeout: 20_000, interval: 25 })
        .toBe(12);
      expect(await llm.breakerState("openai")).toBe("open");
      // The 4 claimed at once may all have been in the air before the first failure came back; after
      // it, at most failureThreshold - 1 more went out.
      const failedCalls = fake.requestCount();
      expect(failedCalls).toBeGreaterThanOrEqual(2);
      expect(failedCalls).toBeLessThanOrEqual(4 + 1);
      expect(await attemptRows()).toBe(failedCalls);
      expect(dagJson(await service.getDag(id)).tasks[0]).toMatchObject({ status: "ready", waiting_for: "provider" });

      fake.recover();
      await expect.poll(async () => (await service.getDag(id)).status, { timeout: 20_000, interval: 50 }).toBe("succeeded");
    } finally {
      await worker.stop();
    }
    const v = await service.getDag(id);
    // Every attempts row is a call that reached the provider; each task has one successful run.
    expect(await attemptRows()).toBe(fake.requestCount());
    for (const t of v.tasks) {
      expect(t.attempts.filter((a) => a.status === "succeeded")).toHaveLength(1);
      expect(t.attempts.map((a) => a.number)).toEqual(t.attempts.map((_, i) => i + 1));
      expect(t.waitingFor).toBeUndefined();
    }
    expect(fake.requestCount()).toBeLessThanOrEqual(12 + 5 + 2); // 12 runs, the failures before it opened, at most a failed probe or two
  }, 60_000);
});
