/**
 * A worker whose database link is blackholed mid-task (packets dropped, not refused: no error ever
 * arrives, only silence). With the runtime's default database timeouts its claim loop and
 * heartbeats fail instead of hanging; once the link heals it resumes on its own: the task whose
 * lease ran out meanwhile is reclaimed, the DAG succeeds, work submitted during the outage runs,
 * and no task is left running.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { defaultDbTimeouts } from "../src/config";
import { Worker } from "../src/engine/worker";
import { StoreApexService } from "../src/service/apex-service";
import { openDb, type Db } from "../src/store/db";
import { openMigratedDb, type MigratedDb } from "./helpers/db";
import { refusingSandbox, ScriptedGateway, testTools } from "./helpers/engine-doubles";
import { startTcpProxy, type TcpProxy } from "./helpers/tcp-proxy";
import { captureLogLines } from "./telemetry-support/log-capture";

const admin = { keyId: "k-admin", role: "admin" as const };
const logLines: Record<string, unknown>[] = [];
let untee: (() => void) | undefined;
let store: MigratedDb;
let proxy: TcpProxy;
let workerDb: Db;
let worker: Worker;
let service: StoreApexService;
const tools = testTools();

beforeAll(async () => {
  untee = captureLogLines(logLines);
  store = await openMigratedDb("postgres");
  const url = new URL(store.url!);
  proxy = await startTcpProxy(url.hostname, Number(url.port || 5432));
  url.hostname = "127.0.0.1";
  url.port = String(proxy.port);
  workerDb = await openDb({ databaseUrl: url.toString(), poolSize: 4, timeouts: defaultDbTimeouts });
  service = new StoreApexService({ db: store.db, events: store.events, tools });
  worker = new Worker(
    { db: workerDb, llm: new ScriptedGateway(), tools, sandbox: refusingSandbox },
    { id: "blackholed-worker", concurrency: 2, leaseMs: 3_000, fallbackPollMs: 500 },
  );
}, 30_000);

afterAll(async () => {
  untee?.();
  proxy?.restore();
  await worker?.stop(1_000);
  await workerDb?.close();
  await proxy?.close();
  await store?.close();
});

const count = async (sql: string, params: unknown[] = []) => (await store.db.query<{ n: number }>(sql, params)).rows[0]?.n;
const logged = (message: string) => logLines.some((l) => l.message === message && l.worker_id === "blackholed-worker");

it("fails its queries at the timeouts while blackholed, then resumes on its own: the DAG succeeds, nothing left running", async () => {
  const agent = await service.createAgent({ name: "blackhole-worker" });
  const first = await service.submitDag(
    {
      agent_id: agent.id,
      name: "through-a-blackhole",
      tasks: [
        { id: "a", kind: "tool", tool: "sleep", args: { key: "bh-a", ms: 1_500 } },
        { id: "b", kind: "tool", tool: "sleep", args: { key: "bh-b", ms: 10 }, depends_on: ["a"] },
      ],
    },
    admin,
  );
  await worker.start();
  await expect
    .poll(() => count("SELECT count(*)::int AS n FROM attempts WHERE dag_id = $1 AND status = 'running'", [first.id]), { timeout: 20_000, interval: 25 })
    .toBe(1);

  proxy.blackhole();
  // Silence, not errors: only the timeouts can tell. Both the heartbeat and the claim loop notice.
  await expect.poll(() => logged("heartbeat failed") && logged("worker loop error; backing off"), { timeout: 20_000, interval: 50 }).toBe(true);
  const during = await service.submitDag(
    { agent_id: agent.id, name: "submitted-during", tasks: [{ id: "x", kind: "tool", tool: "sleep", args: { key: "bh-x", ms: 10 } }] },
    admin,
  );
  proxy.restore();

  for (const id of [first.id, during.id]) {
    await expect.poll(async () => (await service.getDag(id)).status, { timeout: 30_000, interval: 100 }).toBe("succeeded");
  }
  expect(await count("SELECT count(*)::int AS n FROM tasks WHERE status = 'running'")).toBe(0);
  expect(await count("SELECT count(*)::int AS n FROM attempts WHERE status = 'running'")).toBe(0);
}, 60_000);
