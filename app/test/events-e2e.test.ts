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
import { dagEventChannel } from "../src/engine/events";
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
    worker = new Worker({ db: workerRt.db, llm: workerRt.llm, tools: workerRt.tools, sandbox: workerRt.sandbox() }, { concurrency: 4 });
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

    // A subscriber of our own on the DAG's Redis channel: what the worker publishes must pass through Redis.
    const onRedis: StreamEvent[] = [];
    let tap: Redis | undefined;
    if (backend.redis) {
      tap = new Redis(redisUrl);
      tap.on("message", (_channel: string, message: string) => {
        const e = JSON.parse(message) as { type: string; taskId?: string; status: string };
        onRedis.push({ type: e.type, ...(e.taskId ? { task_id: e.taskId } : {}), status: e.status });
      });
      await tap.subscribe(`${redisPrefix}events:${dagEventChannel(dagId)}`);
    }

    const sse = (async () => {
      const res = await fetch(`${base}/v1/dags/${dagId}/events`, { headers: { authorization: `Bearer ${adminKey}` } });
      expect(res.status).toBe(200);
      return (await res.text())
        .split("\n\n")
        .map((block) => block.split("\n").find((l) => l.startsWith("data: ")))
        .filter((l): l is string => l !== undefined)
        .map((l) => JSON.parse(l.slice(6)) as StreamEvent);
    })();
    const grpc = new Promise<StreamEvent[]>((resolve, reject) => {
      const md = new Metadata();
      md.set("authorization", `Bearer ${adminKey}`);
      const call = (grpcClient.WatchDag as (r: unknown, md: Metadata) => NodeJS.EventEmitter).call(grpcClient, { id: dagId }, md);
      const events: StreamEvent[] = [];
      call.on("data", (e: StreamEvent) => events.push(e));
      call.on("end", () => resolve(events));
      call.on("error", reject);
    });

    let approvalId: string | undefined;
    for (const deadline = Date.now() + 20_000; !approvalId && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      approvalId = (await api.service.listApprovals({ status: "pending" })).find((a) => a.dagId === dagId)?.id;
    }
    expect(approvalId, "the python task parks for approval").toBeDefined();
    await api.service.decideApproval(approvalId!, "approve", { keyId: "events-operator", role: "operator" });

    const streams = await Promise.all([sse, grpc]);
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
      await expect.poll(() => transitions(onRedis).at(-1)).toBe("succeeded");
      await tap.quit();
      // Only the worker runtime runs tasks: these events were published on Redis by the worker.
      expect(transitions(onRedis, "stats")).toEqual(["ready", "running", "succeeded"]);
      expect(transitions(onRedis, "check")).toContain("awaiting_approval");
      // The API's approval went through Redis too.
      expect(transitions(onRedis, "check")).toContain("ready");
    }
  });
});
