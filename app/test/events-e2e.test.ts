/**
 * DAG events reach streaming clients on each event backend, wired by openRuntime exactly as the
 * entry points do: an API runtime serving HTTP (SSE) and gRPC (WatchDag), and a worker runtime
 * running the tasks. On PGlite they are one runtime (in-process bus); on Postgres without Redis
 * and on Postgres + Redis they are two runtimes with their own connections, sharing only the
 * database (and Redis). With Redis, a subscriber of this test on the DAG's Redis channel sees the
 * worker's events, and the API's stream gets them although it listens on Redis only.
 */
import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { credentials, Metadata, type Client } from "@grpc/grpc-js";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildHttpServer } from "../src/api/http/server";
import { startGrpcServer, type RunningGrpcServer } from "../src/api/grpc/server";
import { loadProtos } from "../src/api/grpc/proto";
import { openRuntime, type Runtime } from "../src/bin/runtime";
import { loadConfig } from "../src/config";
import { runtimeEnv } from "../src/contract/env";
import { dagEventChannel, parseDagEvents } from "../src/engine/events";
import { Worker } from "../src/engine/worker";
import { createTestDatabase, type TestDatabase } from "./helpers/db";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

interface Backend {
  readonly name: string;
  readonly expectedBus: "in-process" | "postgres" | "redis";
  readonly postgres: boolean;
  readonly redis: boolean;
}

const backends: readonly Backend[] = [
  { name: "in-process (PGlite, one runtime)", expectedBus: "in-process", postgres: false, redis: false },
  { name: "Postgres LISTEN/NOTIFY (API and worker runtimes apart)", expectedBus: "postgres", postgres: true, redis: false },
  { name: "Redis pub/sub (API and worker runtimes apart)", expectedBus: "redis", postgres: true, redis: true },
];

interface StreamEvent {
  type: string;
  task_id?: string;
  status: string;
}

const transitions = (events: StreamEvent[], taskId?: string) =>
  events.filter((e) => (taskId ? e.task_id === taskId : e.type === "dag_status")).map((e) => e.status);

interface Stream {
  /** Resolves at the stream's first event (the snapshot). */
  readonly connected: Promise<void>;
  /** Resolves with every event once the server ends the stream. */
  readonly ended: Promise<StreamEvent[]>;
}

function firstEventLatch(): { connected: Promise<void>; arrived: () => void } {
  let arrived!: () => void;
  const connected = new Promise<void>((resolve) => (arrived = resolve));
  return { connected, arrived };
}

async function openSse(url: string, key: string): Promise<Stream> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  if (!res.body) throw new Error("SSE response without a body");
  const latch = firstEventLatch();
  const events: StreamEvent[] = [];
  const ended = (async () => {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let boundary: number;
      while ((boundary = buffered.indexOf("\n\n")) >= 0) {
        const data = buffered.slice(0, boundary).split("\n").find((l) => l.startsWith("data: "));
        buffered = buffered.slice(boundary + 2);
        if (data === undefined) continue;
        events.push(JSON.parse(data.slice(6)) as StreamEvent);
        latch.arrived();
      }
    }
    return events;
  })();
  return { connected: latch.connected, ended };
}

function openWatchDag(client: Client & Record<string, unknown>, dagId: string, key: string): Stream {
  const latch = firstEventLatch();
  const md = new Metadata();
  md.set("authorization", `Bearer ${key}`);
  const ended = new Promise<StreamEvent[]>((resolve, reject) => {
    const call = (client.WatchDag as (r: unknown, md: Metadata) => NodeJS.EventEmitter).call(client, { id: dagId }, md);
    const events: StreamEvent[] = [];
    call.on("data", (e: StreamEvent) => {
      events.push(e);
      latch.arrived();
    });
    call.on("end", () => resolve(events));
    call.on("error", reject);
  });
  return { connected: latch.connected, ended };
}

describe.each(backends)("DAG events over $name", (backend) => {
  let pg: TestDatabase | undefined;
  let api: Runtime;
  let workerRt: Runtime;
  let worker: Worker;
  let http: FastifyInstance;
  let grpcServer: RunningGrpcServer;
  let grpcClient: Client & Record<string, unknown>;
  let base: string;
  let adminKey: string;
  const redisPrefix = `apex-test:${randomUUID()}:`;

  beforeAll(async () => {
    const env: Record<string, string> = { [runtimeEnv.sandboxHardened]: "off", LOG_LEVEL: "silent" };
    if (backend.postgres) {
      pg = await createTestDatabase();
      env[runtimeEnv.databaseUrl] = pg.url;
    }
    if (backend.redis) env[runtimeEnv.redisUrl] = redisUrl;
    api = await openRuntime(loadConfig(env), { redisKeyPrefix: redisPrefix });
    workerRt = backend.postgres ? await openRuntime(loadConfig(env), { redisKeyPrefix: redisPrefix }) : api;
    worker = new Worker({ db: workerRt.db, events: workerRt.coordination.events, llm: workerRt.llm, tools: workerRt.tools, sandbox: workerRt.sandbox() }, { concurrency: 4 });
    await worker.start();
    http = buildHttpServer({ service: api.service, keys: api.keys });
    await http.listen({ port: 0, host: "127.0.0.1" });
    const address = http.server.address();
    if (!address || typeof address === "string") throw new Error("no TCP address");
    base = `http://127.0.0.1:${address.port}`;
    grpcServer = await startGrpcServer({ service: api.service, keys: api.keys }, 0, "127.0.0.1");
    grpcClient = new (loadProtos().apex)(`127.0.0.1:${grpcServer.port}`, credentials.createInsecure()) as Client & Record<string, unknown>;
    adminKey = (await api.keys.create({ name: "events-admin", role: "admin" })).secret;
  }, 60_000);

  afterAll(async () => {
    grpcClient?.close();
    await grpcServer?.close();
    await http?.close();
    await worker?.stop(500);
    if (workerRt !== api) await workerRt?.close();
    await api?.close();
    await pg?.drop();
  });

  it("the runtime picked the expected bus for API and worker", () => {
    expect(api.coordination.events.kind).toBe(backend.expectedBus);
    expect(workerRt.coordination.events.kind).toBe(backend.expectedBus);
  });

  it("SSE and WatchDag get a snapshot, then every change once, and end at the final status", { timeout: 60_000 }, async () => {
    // A subscriber of our own on the DAGs' Redis channels, subscribed before the DAG exists so it
    // cannot miss an event: what the worker publishes must pass through Redis.
    const onRedisByChannel: Array<{ channel: string; event: StreamEvent }> = [];
    let tap: Redis | undefined;
    if (backend.redis) {
      tap = new Redis(redisUrl);
      tap.on("pmessage", (_pattern: string, channel: string, message: string) => {
        // One message per DAG per transaction: a single event, or that transaction's events in order.
        for (const e of parseDagEvents(JSON.parse(message)) ?? []) {
          onRedisByChannel.push({ channel, event: { type: e.type, ...(e.taskId ? { task_id: e.taskId } : {}), status: e.status } });
        }
      });
      await tap.psubscribe(`${redisPrefix}events:*`);
    }

    const agent = await api.service.createAgent({ name: `events-${randomUUID().slice(0, 8)}` });
    const { id: dagId } = await api.service.submitDag(
      {
        agent_id: agent.id,
        name: "events",
        input: { topic: "fan-out" },
        tasks: [
          { id: "plan", kind: "llm", model: "local/echo", prompt: "plan {{input.topic}}" },
          { id: "check", kind: "tool", tool: "python", args: { code: "print(6 * 7)" }, depends_on: ["plan"] },
          { id: "stats", kind: "tool", tool: "text_stats", args: { text: "{{tasks.plan.output}}" }, depends_on: ["plan", "check"] },
        ],
      },
      { keyId: "events-test", role: "admin" },
    );
    const dagChannel = `${redisPrefix}events:${dagEventChannel(dagId)}`;
    const onRedis = () => onRedisByChannel.filter((m) => m.channel === dagChannel).map((m) => m.event);

    // Each stream is connected (its snapshot received) before anything changes the DAG, so every
    // later transition must arrive on it live.
    const sse = await openSse(`${base}/v1/dags/${dagId}/events`, adminKey);
    const grpc = openWatchDag(grpcClient, dagId, adminKey);
    await Promise.all([sse.connected, grpc.connected]);

    let approvalId: string | undefined;
    for (const deadline = Date.now() + 20_000; !approvalId && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      approvalId = (await api.service.listApprovals({ status: "pending" })).find((a) => a.dagId === dagId)?.id;
    }
    expect(approvalId, "the python task parks for approval").toBeDefined();
    await api.service.decideApproval(approvalId!, "approve", { keyId: "events-operator", role: "operator" });

    const streams = await Promise.all([sse.ended, grpc.ended]);
    for (const events of streams) {
      expect(transitions(events).at(-1)).toBe("succeeded");
      // Set by the worker (running, awaiting_approval, succeeded) and by the API (ready on approval).
      expect(transitions(events, "check")).toEqual(expect.arrayContaining(["awaiting_approval", "ready", "running", "succeeded"]));
      expect(transitions(events, "stats").at(-1)).toBe("succeeded");
      for (const key of ["plan", "check", "stats", undefined]) {
        const seq = transitions(events, key);
        seq.forEach((s, i) => expect(s, `${key ?? "dag"} repeats ${s}`).not.toBe(seq[i - 1]));
      }
    }
    expect((await api.service.getDag(dagId)).status).toBe("succeeded");

    if (tap) {
      await expect.poll(() => transitions(onRedis()).at(-1)).toBe("succeeded");
      await tap.quit();
      // Only the worker runtime runs tasks: these events were published on Redis by the worker.
      expect(transitions(onRedis(), "stats")).toEqual(["ready", "running", "succeeded"]);
      expect(transitions(onRedis(), "check")).toContain("awaiting_approval");
      // The API's approval went through Redis too.
      expect(transitions(onRedis(), "check")).toContain("ready");
    }
  });
});
