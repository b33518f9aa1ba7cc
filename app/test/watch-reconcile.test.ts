/**
 * Bus events are at most once: a publish lost while Redis was down must not leave a watcher
 * waiting forever for a DAG that has ended. The service's watch re-reads an unfinished DAG every
 * `watchReconcileMs` and, once it has ended, sends its final snapshot and ends. Here the service's
 * bus drops every publish, so only that check can end the watch.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from "vitest";
import { z } from "zod";
import { createInProcessEventBus } from "../src/coord/in-process";
import type { EventBus } from "../src/coord/types";
import { Worker } from "../src/engine/worker";
import { StoreApexService } from "../src/service/apex-service";
import type { DagEvent } from "../src/service/types";
import type { ToolDefinition, ToolRegistry } from "../src/tools/types";
import { openMigratedDb, type MigratedDb } from "./helpers/db";
import { refusingSandbox, ScriptedGateway, testTools } from "./helpers/engine-doubles";

const admin = { keyId: "reconcile-test", role: "admin" } as const;

/** Subscriptions work; every publish is lost. */
function losingBus(): EventBus {
  const inner = createInProcessEventBus();
  return { kind: "in-process", publish: async () => undefined, subscribe: (channel, onEvent) => inner.subscribe(channel, onEvent) };
}

/** The "held" tool runs until the test releases its key: the DAG is certainly unfinished when the watch starts. */
const opened = new Set<string>();
const gates = new Map<string, () => void>();
const release = (key: string) => {
  opened.add(key);
  gates.get(key)?.();
};
const held: ToolDefinition = {
  name: "held",
  description: "Returns once the test releases its key.",
  args: z.object({ key: z.string() }),
  requiresApproval: false,
  async run(args, ctx) {
    const { key } = args as { key: string };
    if (!opened.has(key)) {
      await new Promise<void>((resolve, reject) => {
        gates.set(key, resolve);
        ctx.signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
      });
    }
    return { key };
  },
};

describe("a watch whose events were lost", () => {
  let store: MigratedDb;
  let worker: Worker;
  const base = testTools();
  const tools: ToolRegistry = { get: (n) => (n === held.name ? held : base.get(n)), list: () => [...base.list(), held] };
  // A clock counted in reconcile periods: a watch with a 100 ms check on a DAG that never ends
  // (parked for approval) re-reads it once a period. "Nothing happened for three of its periods"
  // then means the same whatever the machine's speed, unlike a fixed sleep.
  let control: StoreApexService;
  let controlReads: MockInstance<StoreApexService["getDag"]>;
  let stopControl: (() => Promise<void>) | undefined;
  const reconcilePeriods = async (n: number) => {
    const from = controlReads.mock.calls.length;
    await expect.poll(() => controlReads.mock.calls.length, { timeout: 20_000, interval: 10 }).toBeGreaterThanOrEqual(from + n);
  };

  beforeAll(async () => {
    store = await openMigratedDb("pglite");
    worker = new Worker({ db: store.db, events: store.events, llm: new ScriptedGateway(), tools, sandbox: refusingSandbox }, { concurrency: 2, leaseMs: 5_000 });
    await worker.start();
    control = new StoreApexService({ db: store.db, tools, events: losingBus(), watchReconcileMs: 100 });
    const agent = await control.createAgent({ name: `reconcile-control-${randomUUID().slice(0, 8)}` });
    const { id } = await control.submitDag({ agent_id: agent.id, name: "parked", tasks: [{ id: "d", kind: "tool", tool: "deploy", args: { target: "x" } }] }, admin);
    controlReads = vi.spyOn(control, "getDag");
    stopControl = await control.watchDag(id, () => undefined);
  });
  afterAll(async () => {
    await stopControl?.();
    await control?.close();
    await worker?.stop(200);
    await store?.close();
  });

  async function watchLostDag(watchReconcileMs: number) {
    const service = new StoreApexService({ db: store.db, tools, events: losingBus(), watchReconcileMs });
    const reads = vi.spyOn(service, "getDag");
    const agent = await service.createAgent({ name: `reconcile-${randomUUID().slice(0, 8)}` });
    const key = randomUUID();
    const { id } = await service.submitDag({ agent_id: agent.id, name: "lost", tasks: [{ id: "t1", kind: "tool", tool: "held", args: { key } }] }, admin);
    const events: DagEvent[] = [];
    const stop = await service.watchDag(id, (e) => events.push(e));
    expect(events.at(-1)).toMatchObject({ type: "dag_status", status: "running" });
    release(key);
    await expect.poll(async () => (await service.getDag(id)).status, { timeout: 10_000 }).toBe("succeeded");
    /** Reads of this DAG so far (the watch's checks and the test's own). */
    const readsOf = () => reads.mock.calls.filter(([dagId]) => dagId === id).length;
    return { events, stop, service, readsOf };
  }

  it("ends with the final snapshot once the DAG has finished", async () => {
    const { events, service, readsOf } = await watchLostDag(100);
    await expect.poll(() => events.at(-1), { timeout: 10_000 }).toMatchObject({ type: "dag_status", status: "succeeded" });
    expect(events.filter((e) => e.taskId === "t1").at(-1)?.status).toBe("succeeded");
    const count = events.length;
    const reads = readsOf();
    // A watch that went on checking would have read the DAG again (and re-sent it) by now.
    await reconcilePeriods(3);
    expect(readsOf(), "the watch stopped checking").toBe(reads);
    expect(events, "the watch stopped").toHaveLength(count);
    await service.close();
  });

  it("without the check (0) the same watch never ends: the events were really lost", async () => {
    const { events, stop, service, readsOf } = await watchLostDag(0);
    const reads = readsOf();
    // Three periods of a 100 ms check: with 0 the watch does not check at all.
    await reconcilePeriods(3);
    expect(readsOf(), "no check").toBe(reads);
    expect(events.at(-1)).toMatchObject({ type: "dag_status", status: "running" });
    await stop();
    await service.close();
  });
});
