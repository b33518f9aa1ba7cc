/**
 * The queue's guarantees: no task runs twice at once under racing workers, leases are renewed by
 * heartbeat and reclaimed when they expire, and a stopping worker gives its tasks back.
 */
import { recordAnswer } from "../src/store/queries/llm-calls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Worker } from "../src/engine/worker";
import { engineContext } from "../src/engine/context";
import { CompletionBatcher } from "../src/engine/completion-batcher";
import { claimTasks, finishAttempt, finishAttempts, reclaimExpiredLeases, type FinishedAttempt } from "../src/engine/lifecycle";
import { StoreApexService } from "../src/service/apex-service";
import type { DagView, Principal } from "../src/service/types";
import { openDb, type Db } from "../src/store/db";
import { openMigratedDb, storeKinds, type MigratedDb } from "./helpers/db";
import { ConcurrencyProbe, refusingSandbox, ScriptedGateway, testTools } from "./helpers/engine-doubles";

const admin: Principal = { keyId: "key-admin", role: "admin" };

async function waitFor(service: StoreApexService, id: string, pred: (v: DagView) => boolean, timeoutMs = 20_000): Promise<DagView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await service.getDag(id);
    if (pred(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out; dag ${v.status}: ${JSON.stringify(v.tasks.map((t) => [t.id, t.status]))}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const done = (v: DagView) => ["succeeded", "failed", "cancelled"].includes(v.status);

describe.each(storeKinds)("queue on %s", (kind) => {
  let store: MigratedDb;
  let second: Db;
  let agentId: string;
  const tools = testTools();
  const service = () => new StoreApexService({ db: store.db, events: store.events, tools });
  const ctx = (db: Db) => engineContext(db, store.events);

  beforeAll(async () => {
    store = await openMigratedDb(kind);
    // Postgres: the second worker has its own pool, as another replica would. PGlite: one database.
    second = store.url ? await openDb({ databaseUrl: store.url, poolSize: 4 }) : store.db;
    agentId = (await service().createAgent({ name: "queue-agent" })).id;
  });
  afterAll(async () => {
    if (second !== store.db) await second.close();
    await store.close();
  });

  it("two workers racing on one DAG: one attempt holds a task at a time, and one result is written", async () => {
    // What a lease-based queue promises, and no more: a worker starved past its 400 ms lease may
    // lose the task to the other worker (the machine may be loaded), but then its attempt is ended
    // before the next begins, and its late result is fenced off. Exactly one attempt succeeds.
    const probe = new ConcurrencyProbe();
    const raceTools = testTools({ probe });
    const svc = new StoreApexService({ db: store.db, events: store.events, tools: raceTools });
    const tasks = [
      ...Array.from({ length: 150 }, (_, i) => ({ id: `w${i}`, kind: "tool", tool: "sleep", args: { key: `w${i}`, ms: 5 } })),
      { id: "join", kind: "tool", tool: "sleep", args: { key: "join", ms: 1 }, depends_on: Array.from({ length: 150 }, (_, i) => `w${i}`) },
    ].map((t) => ({ ...t, max_attempts: 10 })); // a lease lost to a starved event loop is not this test's failure
    const { id } = await svc.submitDag({ agent_id: agentId, name: "race", tasks }, admin);
    const ran = new Map<string, number>();
    const workers = [store.db, second].map((db, i) => {
      const w = new Worker({ db, llm: new ScriptedGateway(), tools: raceTools, sandbox: refusingSandbox }, { id: `racer-${i}`, concurrency: 4, leaseMs: 400 });
      w.onTaskFinished = () => ran.set(w.id, (ran.get(w.id) ?? 0) + 1);
      return w;
    });
    await Promise.all(workers.map((w) => w.start()));
    const v = await waitFor(svc, id, done);
    await Promise.all(workers.map((w) => w.stop()));
    expect(v.status).toBe("succeeded");
    for (const t of v.tasks) {
      const spent = t.attempts.filter((a) => a.spent !== false);
      expect(spent.filter((a) => a.status === "succeeded"), `${t.id}: one attempt wrote the result`).toHaveLength(1);
      expect(spent.at(-1)?.status, `${t.id}: the last attempt is the one that succeeded`).toBe("succeeded");
      for (const [previous, next] of spent.slice(0, -1).map((a, i) => [a, spent[i + 1]!] as const)) {
        expect(previous.status, `${t.id}#${previous.number} was superseded, so it failed`).toBe("failed");
        expect(Date.parse(previous.finishedAt!), `${t.id}#${previous.number} ended before #${next.number} began`).toBeLessThanOrEqual(
          Date.parse(next.startedAt),
        );
      }
      // Every execution of the tool belongs to an attempt the store knows about.
      expect(probe.runs.get(t.id) ?? 0, t.id).toBeLessThanOrEqual(spent.length);
    }
    // Both workers took part: the work was really contended. The short lease means many heartbeats
    // race the claims: none may abort a task it did not ask about.
    expect([...ran.keys()].sort()).toEqual(["racer-0", "racer-1"]);
  });

  it("heartbeats keep a long task's short lease alive: a second worker does not steal it", async () => {
    const probe = new ConcurrencyProbe();
    const t2 = testTools({ probe });
    const svc = new StoreApexService({ db: store.db, events: store.events, tools: t2 });
    const { id } = await svc.submitDag(
      { agent_id: agentId, name: "long", tasks: [{ id: "long", kind: "tool", tool: "sleep", args: { key: "long", ms: 1_500 } }] },
      admin,
    );
    const workers = [store.db, second].map(
      (db, i) => new Worker({ db, llm: new ScriptedGateway(), tools: t2, sandbox: refusingSandbox }, { id: `hb-${i}`, leaseMs: 500, fallbackPollMs: 100 }),
    );
    await Promise.all(workers.map((w) => w.start()));
    const v = await waitFor(svc, id, done);
    await Promise.all(workers.map((w) => w.stop()));
    expect(v.status).toBe("succeeded");
    expect(probe.runs.get("long")).toBe(1);
    expect(v.tasks[0]?.attempts).toHaveLength(1);
  });

  it("a worker that claims a task again after its own stale claim was reclaimed: the stale attempt cannot finish", async () => {
    const svc = service();
    const { id } = await svc.submitDag(
      { agent_id: agentId, name: "reclaimed-by-itself", tasks: [{ id: "t", kind: "tool", tool: "sleep", args: { key: "t", ms: 1 }, max_attempts: 5 }] },
      admin,
    );
    const mine = ctx(store.db);
    const claim = async (leaseMs: number) => (await claimTasks(mine, "same-worker", { limit: 10, leaseMs })).find((t) => t.dagId === id)!;
    const expireAndReclaim = () => expect.poll(() => reclaimExpiredLeases(ctx(second)), { interval: 25, timeout: 5_000 }).toBeGreaterThanOrEqual(1);

    const stale = await claim(100);
    await expireAndReclaim();
    const current = await claim(5_000);
    expect(current.attempt).toBe(stale.attempt! + 1);
    expect(await finishAttempt(mine, stale, stale.attempt!, { kind: "succeeded", output: "stale" })).toBe("lease_lost");
    await expect(finishAttempt(mine, current, current.attempt!, { kind: "failed", error: "boom", errorType: "tool_error", retryDelayMs: 0 })).resolves.toBe("retrying");

    // Again, with both results in one batch: the stale one is fenced off, the fresh one lands.
    const staleAgain = await claim(100);
    await expireAndReclaim();
    const fresh = await claim(5_000);
    expect(
      await finishAttempts(mine, [
        { task: staleAgain, attempt: staleAgain.attempt!, outcome: { kind: "succeeded", output: "stale" } },
        { task: fresh, attempt: fresh.attempt!, outcome: { kind: "succeeded", output: "fresh" } },
      ]),
    ).toEqual(["lease_lost", "succeeded"]);

    const t = (await svc.getDag(id)).tasks[0]!;
    expect(t.output).toBe("fresh");
    expect(t.attempts.map((a) => a.status)).toEqual(["failed", "failed", "failed", "succeeded"]);
  });

  it("a batch of finished attempts: one outcome the store refuses fails only itself", async () => {
    // A server-side refusal of one row (NUL text no longer is one: outputs are stored escaped).
    await store.db.exec!(`
      CREATE FUNCTION refuse_poisoned_output() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'output refused by the test trigger'; END $$;
      CREATE TRIGGER refuse_poisoned_output BEFORE UPDATE ON tasks FOR EACH ROW
        WHEN (NEW.output = '"poison"'::jsonb) EXECUTE FUNCTION refuse_poisoned_output();`);
    const svc = service();
    const { id } = await svc.submitDag(
      {
        agent_id: agentId,
        name: "batch-with-a-bad-one",
        tasks: ["good", "bad"].map((t) => ({ id: t, kind: "tool", tool: "sleep", args: { key: t, ms: 1 } })),
      },
      admin,
    );
    const mine = ctx(store.db);
    const claimed = (await claimTasks(mine, "batcher", { limit: 10, leaseMs: 5_000 })).filter((t) => t.dagId === id);
    expect(claimed).toHaveLength(2);
    const batcher = new CompletionBatcher((items: readonly FinishedAttempt[]) => finishAttempts(mine, items));
    const [good, bad] = ["good", "bad"].map((name) => claimed.find((t) => t.taskId === name)!);
    const results = await Promise.allSettled([
      batcher.submit({ task: good!, attempt: good!.attempt!, outcome: { kind: "succeeded", output: "fine" } }),
      batcher.submit({ task: bad!, attempt: bad!.attempt!, outcome: { kind: "succeeded", output: "poison" } }),
    ]);
    expect(results[0]).toEqual({ status: "fulfilled", value: "succeeded" });
    expect(results[1]?.status).toBe("rejected");
    const v = await svc.getDag(id);
    expect(v.tasks.map((t) => [t.id, t.status])).toEqual([["good", "succeeded"], ["bad", "running"]]);
    await svc.cancelDag(id);
    await store.db.exec!("DROP TRIGGER refuse_poisoned_output ON tasks; DROP FUNCTION refuse_poisoned_output()");
  });

  it("a reschedule past the integer range of milliseconds (a provider's 40-day Retry-After) is capped, not refused", async () => {
    const svc = service();
    const { id } = await svc.submitDag(
      { agent_id: agentId, name: "far-retry", tasks: [{ id: "t", kind: "tool", tool: "sleep", args: { key: "t", ms: 1 } }] },
      admin,
    );
    const mine = ctx(store.db);
    const [task] = (await claimTasks(mine, "far", { limit: 10, leaseMs: 5_000 })).filter((t) => t.dagId === id);
    const fortyDaysMs = 40 * 86_400_000;
    await expect(finishAttempt(mine, task!, task!.attempt!, { kind: "rescheduled", reason: "rate_limited", delayMs: fortyDaysMs })).resolves.toBe("rescheduled");
    const { rows } = await store.db.query<{ days: number }>(
      "SELECT extract(epoch FROM next_run_at - now()) / 86400 AS days FROM tasks WHERE dag_id = $1",
      [id],
    );
    expect(Number(rows[0]!.days)).toBeGreaterThan(24);
    await svc.cancelDag(id);
  });

  it("an expired lease is reclaimed by another worker; the old holder's late result is fenced off", async () => {
    const svc = service();
    const { id } = await svc.submitDag(
      { agent_id: agentId, name: "reclaim", tasks: [{ id: "t", kind: "tool", tool: "sleep", args: { key: "t", ms: 1 }, max_attempts: 3 }] },
      admin,
    );
    const [mine] = (await claimTasks(ctx(store.db), "dead-worker", { limit: 10, leaseMs: 150 })).filter((t) => t.dagId === id);
    expect(mine).toBeDefined();
    const attempt = mine!.attempt!;
    expect(await reclaimExpiredLeases(ctx(second))).toBe(0);
    // The 150 ms lease runs out by the clock; reclaim as soon as it has.
    await expect.poll(() => reclaimExpiredLeases(ctx(second)), { interval: 25, timeout: 5_000 }).toBeGreaterThanOrEqual(1);
    const [theirs] = (await claimTasks(ctx(second), "live-worker", { limit: 10, leaseMs: 5_000 })).filter((t) => t.dagId === id);
    // The lost attempt was spent: this claim spent the second.
    expect(theirs?.attempts).toBe(2);
    const n = theirs!.attempt!;
    // The late result is fenced off, but the provider was paid: its usage, written with the answer
    // when it arrived (unfenced), counts once (a repeat, as after a lost COMMIT reply, adds nothing);
    // the result does not write it again.
    const paid = { agentId: mine!.agentId, provider: "local", model: "echo", responseModel: "echo", inputTokens: 7, outputTokens: 5, cachedTokens: 0, costUsd: 0.25, costMicroUsd: 250_000, priceVersion: "t", latencyMs: 3 };
    const answer = { text: "stale", responseModel: "echo", finishReasons: ["stop"] };
    for (let i = 0; i < 2; i++) {
      await recordAnswer(store.db, { dagId: id, taskId: mine!.taskId, call: 1 }, attempt, answer, paid);
      expect(await finishAttempt(ctx(store.db), mine!, attempt, { kind: "succeeded", output: "stale", usage: [paid] })).toBe("lease_lost");
    }
    expect(await finishAttempt(ctx(second), theirs!, n, { kind: "succeeded", output: "fresh" })).toBe("succeeded");
    const v = await svc.getDag(id);
    expect(v.status).toBe("succeeded");
    expect(v.tasks[0]?.output).toBe("fresh");
    expect(v.totals).toMatchObject({ inputTokens: 7, outputTokens: 5, costUsd: 0.25 });
    expect(v.tasks[0]?.attempts.map((a) => [a.workerId, a.status, a.error])).toEqual([
      ["dead-worker", "failed", "lease of worker dead-worker expired"],
      ["live-worker", "succeeded", undefined],
    ]);
  });

  it("a live worker does not keep alive a lease it is not working on: the orphan expires and runs", async () => {
    const svc = service();
    const orphanDag = await svc.submitDag(
      { agent_id: agentId, name: "orphan", tasks: [{ id: "o", kind: "tool", tool: "sleep", args: { key: "o", ms: 1 } }] },
      admin,
    );
    // Claimed under the worker's own id, but outside its in-flight set (as after a lost result).
    const [orphan] = (await claimTasks(ctx(store.db), "same-id", { limit: 10, leaseMs: 300 })).filter((t) => t.dagId === orphanDag.id);
    expect(orphan).toBeDefined();
    const busyDag = await svc.submitDag(
      { agent_id: agentId, name: "busy", tasks: [{ id: "b", kind: "tool", tool: "sleep", args: { key: "busy", ms: 4_000 } }] },
      admin,
    );
    const w = new Worker({ db: store.db, events: store.events, llm: new ScriptedGateway(), tools, sandbox: refusingSandbox }, { id: "same-id", leaseMs: 300, fallbackPollMs: 100 });
    await w.start();
    try {
      // The worker heartbeats while it runs "busy"; the orphan must expire anyway and run meanwhile.
      const v = await waitFor(svc, orphanDag.id, done, 10_000);
      expect(v.status).toBe("succeeded");
      expect(v.tasks[0]?.attempts.map((a) => a.status)).toEqual(["failed", "succeeded"]);
      expect((await svc.getDag(busyDag.id)).tasks[0]?.status).toBe("running");
    } finally {
      await svc.cancelDag(busyDag.id);
      await w.stop();
    }
  });

  it("stop() releases in-flight tasks after the grace period without spending their attempt", async () => {
    const probe = new ConcurrencyProbe();
    const t3 = testTools({ probe });
    const svc = new StoreApexService({ db: store.db, events: store.events, tools: t3 });
    const { id } = await svc.submitDag(
      { agent_id: agentId, name: "drain", tasks: [{ id: "slow", kind: "tool", tool: "sleep", args: { key: "slow", ms: 30_000 }, max_attempts: 1 }] },
      admin,
    );
    const deps = { llm: new ScriptedGateway(), tools: t3, sandbox: refusingSandbox };
    const first = new Worker({ db: store.db, events: store.events, ...deps }, { id: "stopping" });
    await first.start();
    await expect.poll(() => probe.running.get("slow"), { timeout: 5_000 }).toBe(1);
    const t0 = Date.now();
    await first.stop(200);
    expect(Date.now() - t0).toBeLessThan(3_000);
    let v = await svc.getDag(id);
    expect(v.tasks[0]?.status).toBe("ready");
    expect(v.tasks[0]?.attempts[0]).toMatchObject({ status: "failed", spent: false, error: "rescheduled: worker shut down" });
    // max_attempts is 1 and it was not spent: the next worker still runs it (quickly, this time).
    await store.db.query(`UPDATE tasks SET spec = jsonb_set(spec, '{args,ms}', '5') WHERE dag_id = $1`, [id]);
    const next = new Worker({ db: second, ...deps }, { id: "successor" });
    await next.start();
    v = await waitFor(svc, id, done);
    await next.stop();
    expect(v.status).toBe("succeeded");
    expect(v.tasks[0]?.attempts.map((a) => a.workerId)).toEqual(["stopping", "successor"]);
  });
});
