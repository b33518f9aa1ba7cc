/**
 * Postgres going away under a running worker (restart, failover, network cut): through a TCP proxy
 * that we cut and restore, the worker survives, the task whose outcome could not be recorded is
 * reclaimed after its lease (nothing lost), the DAG completes, and LISTEN is re-established, so new
 * work wakes the worker at once again rather than at the fallback poll. The attempt whose outcome
 * was lost appears once in the trace: the reclaiming worker's copy, not also the worker's own.
 */
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, expect, it } from "vitest";
import { z } from "zod";
import { Worker } from "../src/engine/worker";
import { StoreApexService } from "../src/service/apex-service";
import type { DagView } from "../src/service/types";
import { openDb, type Db } from "../src/store/db";
import { spanNames } from "../src/telemetry/spans";
import { startTracing, type Tracing } from "../src/telemetry/tracing";
import type { ToolDefinition, ToolRegistry } from "../src/tools/types";
import { openMigratedDb, type MigratedDb } from "./helpers/db";
import { captureLogLines } from "./telemetry-support/log-capture";
import { refusingSandbox, ScriptedGateway, testTools } from "./helpers/engine-doubles";
import { startTcpProxy, type TcpProxy } from "./helpers/tcp-proxy";

const memory = new InMemorySpanExporter();
const logLines: Record<string, unknown>[] = [];
let untee: (() => void) | undefined;
let tracing: Tracing;
let store: MigratedDb;
let proxy: TcpProxy;
let workerDb: Db;
let worker: Worker;

/**
 * The "held" tool runs until the test releases it (every run after that returns at once): the test
 * cuts Postgres while task a is certainly running, whatever the machine's speed.
 */
let started!: () => void;
const heldStarted = new Promise<void>((r) => (started = r));
let release!: () => void;
const released = new Promise<void>((r) => (release = r));
const held: ToolDefinition = {
  name: "held",
  description: "Returns once the test releases it.",
  args: z.object({}),
  requiresApproval: false,
  async run(_args, ctx) {
    started();
    await new Promise<void>((resolve, reject) => {
      ctx.signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
      void released.then(resolve);
    });
    return { held: true };
  },
};
const base = testTools();
const tools: ToolRegistry = { get: (n) => (n === held.name ? held : base.get(n)), list: () => [...base.list(), held] };
let service: StoreApexService;
const admin = { keyId: "k-admin", role: "admin" as const };

beforeAll(async () => {
  tracing = startTracing({ serviceName: "apex-worker", endpoint: null, spanProcessors: [new SimpleSpanProcessor(memory)] });
  untee = captureLogLines(logLines);
  store = await openMigratedDb("postgres");
  const direct = new URL(store.url!);
  proxy = await startTcpProxy(direct.hostname, Number(direct.port || 5432));
  const viaProxy = new URL(store.url!);
  viaProxy.hostname = "127.0.0.1";
  viaProxy.port = String(proxy.port);
  workerDb = await openDb({ databaseUrl: viaProxy.toString(), poolSize: 4 });
  service = new StoreApexService({ db: store.db, events: store.events, tools });
  // A fallback poll far longer than the test: after the outage only a working LISTEN can wake the worker.
  worker = new Worker(
    { db: workerDb, llm: new ScriptedGateway(), tools, sandbox: refusingSandbox },
    { id: "outage-worker", concurrency: 2, leaseMs: 3_000, fallbackPollMs: 120_000, backoff: { baseMs: 20, maxMs: 50 } },
  );
}, 30_000);

afterAll(async () => {
  untee?.();
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
        { id: "a", kind: "tool", tool: "held", args: {} },
        { id: "b", kind: "tool", tool: "sleep", args: { key: "outage-b", ms: 10 }, depends_on: ["a"] },
      ],
    },
    admin,
  );
  await worker.start();
  // Notifications on a channel of our own, LISTENed on the worker's connection: once one arrives
  // after the outage, that connection LISTENs again (it re-LISTENs every channel in one go).
  const probes: string[] = [];
  await workerDb.listen!("apex_outage_probe", (p) => probes.push(p));
  await heldStarted;

  // Postgres "restarts" while a runs: its outcome cannot be recorded (the worker retries, then
  // gives up), heartbeats fail, the lease runs out.
  proxy.cut();
  // a ends only once the worker has noticed the outage (a heartbeat failed), as when Postgres goes
  // away in the middle of a long task.
  await expect
    .poll(() => logLines.some((l) => l.message === "heartbeat failed" && l.worker_id === "outage-worker"), { timeout: 10_000, interval: 10 })
    .toBe(true);
  release();
  // Back only once the worker has given up recording a (it no longer holds a slot), so the
  // outcome is certainly lost however slow the machine; nothing renews the lease after that.
  await expect.poll(() => worker.utilization, { timeout: 20_000, interval: 25 }).toBe(0);
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

  // LISTEN came back: once the worker's connection delivers notifications again, a new DAG is
  // picked up at once (the fallback poll is 120 s).
  await expect
    .poll(async () => (await store.db.query("SELECT pg_notify('apex_outage_probe', 'back')"), probes.includes("back")), { timeout: 20_000, interval: 100 })
    .toBe(true);
  const submitted = Date.now();
  const next = await service.submitDag(
    { agent_id: agent.id, name: "after-the-outage", tasks: [{ id: "x", kind: "tool", tool: "sleep", args: { key: "outage-x", ms: 1 } }] },
    admin,
  );
  expect((await waitFor(next.id, finished, 20_000)).status).toBe("succeeded");
  // Generous for a loaded machine, and still far from the fallback poll's 120 s.
  expect(Date.now() - submitted).toBeLessThan(15_000);
}, 90_000);
