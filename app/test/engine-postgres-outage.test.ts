/**
 * Postgres going away under a running worker (restart, failover, network cut): through a TCP proxy
 * that we cut and restore, the worker survives, the task whose outcome could not be recorded is
 * reclaimed after its lease (nothing lost), the DAG completes, and LISTEN is re-established, so new
 * work wakes the worker at once again rather than at the fallback poll. The attempt whose outcome
 * was lost appears once in the trace: the reclaiming worker's copy, not also the worker's own.
 */
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Worker } from "../src/engine/worker";
import { StoreApexService } from "../src/service/apex-service";
import type { DagView } from "../src/service/types";
import { openDb, type Db } from "../src/store/db";
import { spanNames } from "../src/telemetry/spans";
import { startTracing, type Tracing } from "../src/telemetry/tracing";
import { openMigratedDb, type MigratedDb } from "./helpers/db";
import { refusingSandbox, ScriptedGateway, testTools } from "./helpers/engine-doubles";
import { startTcpProxy, type TcpProxy } from "./helpers/tcp-proxy";

const memory = new InMemorySpanExporter();
let tracing: Tracing;
let store: MigratedDb;
let proxy: TcpProxy;
let workerDb: Db;
let worker: Worker;
const tools = testTools();
let service: StoreApexService;
const admin = { keyId: "k-admin", role: "admin" as const };

beforeAll(async () => {
  tracing = startTracing({ serviceName: "apex-worker", endpoint: null, spanProcessors: [new SimpleSpanProcessor(memory)] });
  store = await openMigratedDb("postgres");
  const direct = new URL(store.url!);
  proxy = await startTcpProxy(direct.hostname, Number(direct.port || 5432));
  const viaProxy = new URL(store.url!);
  viaProxy.hostname = "127.0.0.1";
  viaProxy.port = String(proxy.port);
  workerDb = await openDb({ databaseUrl: viaProxy.toString(), poolSize: 4 });
  service = new StoreApexService({ db: store.db, tools });
  // A long fallback poll: after the outage only a working LISTEN can wake the worker quickly.
  worker = new Worker(
    { db: workerDb, llm: new ScriptedGateway(), tools, sandbox: refusingSandbox },
    { id: "outage-worker", concurrency: 2, leaseMs: 1_500, fallbackPollMs: 30_000, backoff: { baseMs: 20, maxMs: 50 } },
  );
}, 30_000);

afterAll(async () => {
  proxy?.restore();
  await worker?.stop(1_000);
  await workerDb?.close();
  await proxy?.close();
  await store?.close();
  await tracing?.shutdown();
});

async function waitFor(id: string, done: (v: DagView) => boolean, timeoutMs: number): Promise<DagView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await service.getDag(id);
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`DAG ${id} still ${v.status}: ${JSON.stringify(v.tasks.map((t) => [t.id, t.status]))}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const finished = (v: DagView) => ["succeeded", "failed", "cancelled"].includes(v.status);

it("survives a Postgres outage mid-task: the task is reclaimed, the DAG completes, wake-ups resume", async () => {
  const agent = await service.createAgent({ name: "outage-agent" });
  const { id } = await service.submitDag(
    {
      agent_id: agent.id,
      name: "through-an-outage",
      tasks: [
        { id: "a", kind: "tool", tool: "sleep", args: { key: "outage-a", ms: 400 } },
        { id: "b", kind: "tool", tool: "sleep", args: { key: "outage-b", ms: 10 }, depends_on: ["a"] },
      ],
    },
    admin,
  );
  await worker.start();
  await waitFor(id, (v) => v.tasks[0]?.status === "running", 10_000);

  // Postgres "restarts" while a runs: its outcome cannot be recorded (the worker retries, then
  // gives up), heartbeats fail, the lease runs out.
  proxy.cut();
  await new Promise((r) => setTimeout(r, 2_500));
  proxy.restore();

  const view = await waitFor(id, finished, 20_000);
  expect(view.status).toBe("succeeded");
  const a = view.tasks.find((t) => t.id === "a")!;
  expect(a.attempts.length).toBeGreaterThanOrEqual(2);
  expect(a.attempts[0]).toMatchObject({ status: "failed", error: "lease of worker outage-worker expired" });
  expect(a.attempts.at(-1)).toMatchObject({ status: "succeeded" });

  await tracing.forceFlush();
  const attemptSpans = memory
    .getFinishedSpans()
    .filter((s) => s.name === spanNames.task && s.attributes.dag_id === id && s.attributes.task_id === "a");
  const lost = attemptSpans.filter((s) => s.attributes["apex.task.attempt"] === 1);
  expect(lost).toHaveLength(1);
  expect(lost[0]!.attributes["error.type"]).toBe("lease_expired");
  expect(new Set(attemptSpans.map((s) => s.spanContext().spanId)).size).toBe(attemptSpans.length);

  // LISTEN came back: a new DAG is picked up at once (the fallback poll is 30 s).
  await new Promise((r) => setTimeout(r, 1_500));
  const started = Date.now();
  const next = await service.submitDag(
    { agent_id: agent.id, name: "after-the-outage", tasks: [{ id: "x", kind: "tool", tool: "sleep", args: { key: "outage-x", ms: 1 } }] },
    admin,
  );
  expect((await waitFor(next.id, finished, 10_000)).status).toBe("succeeded");
  expect(Date.now() - started).toBeLessThan(3_000);
}, 60_000);
