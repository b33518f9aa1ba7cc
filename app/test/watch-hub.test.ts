/**
 * The DAG event fan-out of one API process, over any EventBus: a subscription that failed (bus
 * unreachable at that moment) is retried by the next watcher instead of failing every watch until
 * the process restarts; each DAG has its own channel; malformed events are dropped.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createInProcessEventBus } from "../src/coord/in-process";
import type { EventBus } from "../src/coord/types";
import { dagEventChannel } from "../src/engine/events";
import { DagWatchHub } from "../src/service/watch-hub";
import type { DagEvent } from "../src/service/types";

/** A bus whose subscribe fails `failures` times, then behaves like the in-process bus. */
function flakyBus(failures: number) {
  const inner = createInProcessEventBus();
  const subscribed: string[] = [];
  let calls = 0;
  const bus: EventBus = {
    kind: "in-process",
    publish: (channel, event) => inner.publish(channel, event),
    async subscribe(channel, onEvent) {
      calls++;
      if (calls <= failures) throw new Error("connect ECONNREFUSED 127.0.0.1:6379");
      subscribed.push(channel);
      return inner.subscribe(channel, onEvent);
    },
  };
  return { bus, calls: () => calls, subscribed };
}

/**
 * Resolves once the bus has delivered everything published before the call: the in-process bus
 * delivers in publish order, so a sentinel published now arrives after all of it. Lets a test
 * assert that an event was NOT delivered without waiting out a time window.
 */
async function drained(bus: EventBus): Promise<void> {
  const channel = `drain:${randomUUID()}`;
  let arrived!: () => void;
  const sentinel = new Promise<void>((r) => (arrived = r));
  const stop = await bus.subscribe(channel, () => arrived());
  await bus.publish(channel, "sentinel");
  await sentinel;
  await stop();
}

const event = (dagId: string, status = "succeeded"): DagEvent => ({ dagId, type: "dag_status", status, at: new Date().toISOString() });

describe("DagWatchHub", () => {
  it("retries the subscription on the next watch after a failure", async () => {
    const store = flakyBus(1);
    const hub = new DagWatchHub(store.bus);
    await expect(hub.watch("d1", () => undefined)).rejects.toThrow(/ECONNREFUSED/);
    const seen: DagEvent[] = [];
    const stop = await hub.watch("d1", (e) => seen.push(e));
    expect(store.calls()).toBe(2);
    expect(store.subscribed).toEqual([dagEventChannel("d1")]);
    const first = event("d1");
    await store.bus.publish(dagEventChannel("d1"), first);
    await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(1);
    expect(seen).toEqual([first]);
    stop();
    await store.bus.publish(dagEventChannel("d1"), event("d1", "failed"));
    await drained(store.bus);
    expect(seen).toHaveLength(1);
    await hub.close();
  });

  it("delivers only its DAG's well-formed events, whatever the id's case", async () => {
    const bus = createInProcessEventBus();
    const hub = new DagWatchHub(bus);
    const dagId = "0b5e2c1a-0000-4000-8000-00000000abcd";
    const seen: DagEvent[] = [];
    await hub.watch(dagId.toUpperCase(), (e) => seen.push(e));
    const channel = dagEventChannel(dagId);
    await bus.publish(channel, "not an event");
    await bus.publish(channel, { dagId, type: "exploded", status: "x", at: "now" });
    await bus.publish(channel, event("another-dag"));
    await bus.publish(dagEventChannel("another-dag"), event("another-dag"));
    const good = event(dagId);
    await bus.publish(channel, good);
    await drained(bus);
    expect(seen).toEqual([good]);
    await hub.close();
  });

  it("close() ends every open watch", async () => {
    const bus = createInProcessEventBus();
    const hub = new DagWatchHub(bus);
    const seen: DagEvent[] = [];
    await hub.watch("d2", (e) => seen.push(e));
    await hub.close();
    await bus.publish(dagEventChannel("d2"), event("d2"));
    await drained(bus);
    expect(seen).toEqual([]);
  });
});
