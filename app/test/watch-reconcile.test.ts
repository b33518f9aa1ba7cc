/**
 * Bus events are at most once: a publish lost while Redis was down must not leave a watcher
 * waiting forever for a DAG that has ended. The service's watch re-reads an unfinished DAG every
 * `watchReconcileMs` and, once it has ended, sends its final snapshot and ends. Here the service's
 * bus drops every publish, so only that check can end the watch.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInProcessEventBus } from "../src/coord/in-process";
import type { EventBus } from "../src/coord/types";
import { Worker } from "../src/engine/worker";
import { StoreApexService } from "../src/service/apex-service";
import type { DagEvent } from "../src/service/types";
import { openMigratedDb, type MigratedDb } from "./helpers/db";
import { refusingSandbox, ScriptedGateway, testTools } from "./helpers/engine-doubles";

const admin = { keyId: "reconcile-test", role: "admin" } as const;

/** Subscriptions work; every publish is lost. */
function losingBus(): EventBus {
  const inner = createInProcessEventBus();
  return { kind: "in-process", publish: async () => undefined, subscribe: (channel, onEvent) => inner.subscribe(channel, onEvent) };
}

describe("a watch whose events were lost", () => {
  let store: MigratedDb;
  let worker: Worker;
  const tools = testTools();
  beforeAll(async () => {
    store = await openMigratedDb("pglite");
    worker = new Worker({ db: store.db, llm: new ScriptedGateway(), tools, sandbox: refusingSandbox }, { concurrency: 2, leaseMs: 5_000 });
    await worker.start();
  });
  afterAll(async () => {
    await worker?.stop(200);
    await store?.close();
  });

  async function watchLostDag(watchReconcileMs: number) {
    const service = new StoreApexService({ db: store.db, tools, events: losingBus(), watchReconcileMs });
    const agent = await service.createAgent({ name: `reconcile-${randomUUID().slice(0, 8)}` });
    const { id } = await service.submitDag(
      { agent_id: agent.id, name: "lost", tasks: [{ id: "t1", kind: "tool", tool: "sleep", args: { key: randomUUID(), ms: 300 } }] },
      admin,
    );
    const events: DagEvent[] = [];
    const stop = await service.watchDag(id, (e) => events.push(e));
    expect(events.at(-1)).toMatchObject({ type: "dag_status", status: "running" });
    await expect.poll(async () => (await service.getDag(id)).status, { timeout: 10_000 }).toBe("succeeded");
    return { events, stop, service };
  }

  it("ends with the final snapshot once the DAG has finished", async () => {
    const { events, service } = await watchLostDag(100);
    await expect.poll(() => events.at(-1), { timeout: 3_000 }).toMatchObject({ type: "dag_status", status: "succeeded" });
    expect(events.filter((e) => e.taskId === "t1").at(-1)?.status).toBe("succeeded");
    const count = events.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(events, "the watch stopped").toHaveLength(count);
    await service.close();
  });

  it("without the check (0) the same watch never ends: the events were really lost", async () => {
    const { events, stop, service } = await watchLostDag(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(events.at(-1)).toMatchObject({ type: "dag_status", status: "running" });
    await stop();
    await service.close();
  });
});
