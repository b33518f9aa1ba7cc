/**
 * The EventBus contract on every backend the runtime can choose: in-process, Postgres
 * LISTEN/NOTIFY (real Postgres, and PGlite's own notify) and Redis pub/sub. Then: the choice
 * itself (createCoordination), and DAG events published only once their transaction commits.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCoordination, createInProcessEventBus, createPgNotifyEventBus, type EventBus } from "../src/coord";
import { createRedisCoordination } from "../src/coord/redis";
import { announce, dagEventChannel, parseDagEvents } from "../src/engine/events";
import type { DagEvent } from "../src/service/types";
import type { Db } from "../src/store/db";
import { openMigratedDb, type MigratedDb } from "./helpers/db";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

interface Opened {
  readonly bus: EventBus;
  readonly db?: Db;
  close(): Promise<void>;
}

const backends: ReadonlyArray<{ name: string; open(): Promise<Opened> }> = [
  {
    name: "in-process",
    open: async () => ({ bus: createInProcessEventBus(), close: async () => undefined }),
  },
  {
    name: "postgres",
    async open() {
      const store = await openMigratedDb("postgres");
      return { bus: createPgNotifyEventBus(store.db), db: store.db, close: () => store.close() };
    },
  },
  {
    name: "pglite",
    async open() {
      const store = await openMigratedDb("pglite");
      return { bus: createPgNotifyEventBus(store.db), db: store.db, close: () => store.close() };
    },
  },
  {
    name: "redis",
    async open() {
      const c = await createRedisCoordination({ redisUrl, keyPrefix: `apex-test:${randomUUID()}:` });
      return { bus: c.events, close: () => c.close() };
    },
  },
];

const settle = () => new Promise((r) => setTimeout(r, 50));

describe.each(backends)("EventBus on $name", ({ name, open }) => {
  let opened: Opened;
  beforeAll(async () => {
    opened = await open();
  }, 30_000);
  afterAll(async () => {
    await opened?.close();
  });

  it("says which backend it is", () => {
    expect(opened.bus.kind).toBe(name === "pglite" ? "postgres" : name);
  });

  it("delivers to every subscriber of the channel only, JSON round-tripped, until unsubscribed", async () => {
    const { bus } = opened;
    const a: unknown[] = [];
    const b: unknown[] = [];
    const other: unknown[] = [];
    const channel = `dag:${randomUUID()}`;
    const unA = await bus.subscribe(channel, (e) => a.push(e));
    const unB = await bus.subscribe(channel, (e) => b.push(e));
    const unOther = await bus.subscribe(`dag:${randomUUID()}`, (e) => other.push(e));
    await bus.publish(channel, { n: 1, at: new Date(0) });
    await expect.poll(() => a.length + b.length).toBe(2);
    expect(a).toEqual([{ n: 1, at: "1970-01-01T00:00:00.000Z" }]);
    expect(b).toEqual(a);
    await unA();
    await bus.publish(channel, { n: 2 });
    await expect.poll(() => b.length).toBe(2);
    await settle();
    expect(a).toHaveLength(1);
    expect(other).toEqual([]);
    await unB();
    await unOther();
  });

  it("keeps one publisher's order, even for a burst", async () => {
    const { bus } = opened;
    const channel = `dag:${randomUUID()}`;
    const got: number[] = [];
    const un = await bus.subscribe(channel, (e) => got.push(e as number));
    const sent = Array.from({ length: 60 }, (_, i) => i);
    await Promise.all(sent.map((i) => bus.publish(channel, i)));
    await expect.poll(() => got.length).toBe(sent.length);
    expect(got).toEqual(sent);
    await un();
  });

  it("a subscriber that throws does not stop delivery to the others", async () => {
    const { bus } = opened;
    const channel = `dag:${randomUUID()}`;
    const got: unknown[] = [];
    const un1 = await bus.subscribe(channel, () => {
      throw new Error("subscriber bug");
    });
    const un2 = await bus.subscribe(channel, (e) => got.push(e));
    await bus.publish(channel, "x");
    await expect.poll(() => got).toEqual(["x"]);
    await un1();
    await un2();
  });

  it.runIf(name === "postgres" || name === "pglite")("refuses what NOTIFY cannot carry, naming the limit", async () => {
    const { bus } = opened;
    await expect(bus.publish("dag:big", { text: "x".repeat(9_000) })).rejects.toThrow(/over the NOTIFY limit of 7999/);
    await expect(bus.publish("c".repeat(80), 1)).rejects.toThrow(/longer than 63 bytes/);
  });

  it("announce sends one message per DAG with its events in order, heard by the watch parser", async () => {
    const dagId = randomUUID();
    const other = randomUUID();
    const seen: DagEvent[] = [];
    const un = await opened.bus.subscribe(dagEventChannel(dagId), (raw) => seen.push(...(parseDagEvents(raw) ?? [])));
    const statuses: Array<[string, number]> = [];
    announce({ events: opened.bus, observer: { taskStatuses: (s, n) => statuses.push([s, n]), dagFinished: () => undefined, attemptLost: () => undefined } }, [
      { kind: "task", dag_id: dagId, task_id: "a", status: "succeeded", detail: null },
      { kind: "result", dag_id: dagId, task_id: "a", status: "succeeded", detail: { attempt: 1 } },
      { kind: "task", dag_id: other, task_id: "x", status: "ready", detail: null },
      { kind: "task", dag_id: dagId, task_id: "b", status: "ready", detail: null },
      { kind: "dag", dag_id: dagId, task_id: null, status: "running", detail: null },
    ]);
    await expect.poll(() => seen.length).toBe(3);
    await settle();
    expect(seen.map((e) => [e.type, e.taskId, e.status])).toEqual([
      ["task_status", "a", "succeeded"],
      ["task_status", "b", "ready"],
      ["dag_status", undefined, "running"],
    ]);
    expect(statuses).toEqual([["succeeded", 1], ["ready", 2]]);
    await un();
  });
});

describe("createCoordination picks the event backend once", () => {
  let pg: MigratedDb;
  let lite: MigratedDb;
  beforeAll(async () => {
    [pg, lite] = await Promise.all([openMigratedDb("postgres"), openMigratedDb("pglite")]);
  }, 30_000);
  afterAll(async () => {
    await pg?.close();
    await lite?.close();
  });

  it("Redis with REDIS_URL, whatever the store", async () => {
    const c = await createCoordination({ redisUrl, keyPrefix: `apex-test:${randomUUID()}:`, eventsDb: pg.db });
    expect([c.kind, c.events.kind]).toEqual(["redis", "redis"]);
    await c.close();
  });

  it("Postgres LISTEN/NOTIFY without Redis on a real Postgres; in-process on PGlite or with no store", async () => {
    const onPg = await createCoordination({ eventsDb: pg.db });
    expect([onPg.kind, onPg.events.kind]).toEqual(["in-process", "postgres"]);
    const onLite = await createCoordination({ eventsDb: lite.db });
    expect([onLite.kind, onLite.events.kind]).toEqual(["in-process", "in-process"]);
    const bare = await createCoordination();
    expect(bare.events.kind).toBe("in-process");
    await Promise.all([onPg.close(), onLite.close(), bare.close()]);
  });

  it("two coordinations on one Postgres share events through it", async () => {
    const [a, b] = await Promise.all([createCoordination({ eventsDb: pg.db }), createCoordination({ eventsDb: pg.db })]);
    const channel = `dag:${randomUUID()}`;
    const got: unknown[] = [];
    const un = await b.events.subscribe(channel, (e) => got.push(e));
    await a.events.publish(channel, { from: "a" });
    await expect.poll(() => got).toEqual([{ from: "a" }]);
    await un();
    await Promise.all([a.close(), b.close()]);
  });
});
