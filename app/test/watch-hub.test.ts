/**
 * The DAG event fan-out of one API process: a LISTEN that failed (store unreachable at that moment)
 * is retried by the next watcher instead of failing every watch until the process restarts.
 */
import { describe, expect, it } from "vitest";
import { channels } from "../src/engine/events";
import { DagWatchHub } from "../src/service/watch-hub";
import type { DagEvent } from "../src/service/types";
import type { Db } from "../src/store/db";

/** A Db whose LISTEN fails `failures` times, then delivers through `emit`. */
function flakyListenDb(failures: number) {
  let handler: ((payload: string) => void) | undefined;
  let calls = 0;
  const db = {
    kind: "postgres",
    async listen(channel: string, onPayload: (payload: string) => void) {
      calls++;
      expect(channel).toBe(channels.dagEvents);
      if (calls <= failures) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
      handler = onPayload;
      return async () => {
        handler = undefined;
      };
    },
  } as unknown as Db;
  return { db, emit: (e: DagEvent) => handler?.(JSON.stringify(e)), calls: () => calls };
}

describe("DagWatchHub", () => {
  it("retries LISTEN on the next watch after a failure", async () => {
    const store = flakyListenDb(1);
    const hub = new DagWatchHub(store.db);
    await expect(hub.watch("d1", () => undefined)).rejects.toThrow(/ECONNREFUSED/);
    const seen: DagEvent[] = [];
    const stop = await hub.watch("d1", (e) => seen.push(e));
    expect(store.calls()).toBe(2);
    const event: DagEvent = { dagId: "d1", type: "dag_status", status: "succeeded", at: new Date().toISOString() };
    store.emit(event);
    store.emit({ ...event, dagId: "other" });
    expect(seen).toEqual([event]);
    stop();
    await hub.close();
  });
});
