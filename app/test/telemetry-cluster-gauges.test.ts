/**
 * Issue 13's runtime telemetry on a real Postgres: worker presence (apex_workers_alive and
 * apex_active_agents follow real workers starting, stopping and dying), the queue's oldest wait,
 * every labelled counter at 0 before anything happened (models, agents created later included),
 * and every attempt's log line with its usage fields.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRuntime } from "../src/bin/runtime";
import { loadConfig } from "../src/config";
import { runtimeEnv } from "../src/contract/env";
import { Worker } from "../src/engine/worker";
import { bundledPriceTable, LlmError } from "../src/llm";
import { StoreApexService } from "../src/service/apex-service";
import { clusterSnapshotQuery, newAgentsQuery } from "../src/telemetry/cluster-gauges";
import { registerClusterGauges, renderMetrics, trackAgentSeries, unregisterClusterGauges, untrackAgentSeries } from "../src/telemetry/metrics";
import { tokenKinds } from "../src/telemetry/record";
import { openMigratedDb, type MigratedDb } from "./helpers/db";
import { refusingSandbox, ScriptedGateway, testTools } from "./helpers/engine-doubles";
import { captureLogLines } from "./telemetry-support/log-capture";
import { parseExposition, sampleValue } from "./telemetry-support/exposition";

let store: MigratedDb;
const admin = { keyId: "k-admin", role: "admin" } as const;

beforeAll(async () => {
  store = await openMigratedDb("postgres");
});
afterAll(async () => {
  unregisterClusterGauges();
  untrackAgentSeries();
  await store?.close();
});

async function scrape() {
  return parseExposition((await renderMetrics()).body);
}

async function gauge(name: string): Promise<number | undefined> {
  return sampleValue(await scrape(), name, {});
}

describe("cost and token series start at 0 where LLM calls are made", () => {
  const pricedOf = (providers: string[]) => bundledPriceTable.models.filter((m) => providers.some((p) => m.startsWith(`${p}/`)));

  it("apex-api (no LLM call) starts none; a worker starts every priced model of its providers, and only those", async () => {
    const env = { [runtimeEnv.databaseUrl]: store.url!, [runtimeEnv.openaiApiKey]: "sk-test", LOG_LEVEL: "silent" };
    const api = await openRuntime(loadConfig(env), { runs: "api" });
    try {
      const f = await scrape();
      expect(f.get("apex_cost_total")?.samples ?? []).toEqual([]);
      expect(f.get("apex_tokens_total")?.samples ?? []).toEqual([]);
    } finally {
      await api.close();
    }
    const worker = await openRuntime(loadConfig(env), { runs: "worker" });
    try {
      expect([...worker.llm.providers].sort()).toEqual(["local", "openai"]);
      const f = await scrape();
      const models = pricedOf(["local", "openai"]);
      expect(models.length).toBeGreaterThan(5);
      for (const model of models) {
        expect(sampleValue(f, "apex_cost_total", { model }), model).toBe(0);
        for (const kind of tokenKinds) expect(sampleValue(f, "apex_tokens_total", { model, kind }), `${model} ${kind}`).toBe(0);
      }
      // Anthropic is not configured: this process cannot spend on it.
      expect(f.get("apex_cost_total")!.samples.map((s) => s.labels.model).sort()).toEqual([...models].sort());
    } finally {
      await worker.close();
    }
  }, 60_000);
});

describe("worker presence", () => {
  let child: ChildProcess | undefined;
  const workers: Worker[] = [];

  beforeAll(() => registerClusterGauges(clusterSnapshotQuery(store.db)));
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await Promise.all(workers.map((w) => w.stop(500)));
  });

  const newWorker = (id: string, concurrency: number, leaseMs: number) => {
    const w = new Worker({ db: store.db, events: store.events, llm: new ScriptedGateway(), tools: testTools(), sandbox: refusingSandbox }, { id, concurrency, leaseMs });
    workers.push(w);
    return w;
  };
  const presence = () => clusterSnapshotQuery(store.db)().then((s) => ({ alive: s.workersAlive, slots: s.activeAgents }));
  const rows = async () => (await store.db.query<{ id: string }>("SELECT id FROM workers ORDER BY id")).rows.map((r) => r.id);

  it("no worker: nothing is alive and no agent can run, idle or not", async () => {
    expect(await gauge("apex_workers_alive")).toBe(0);
    expect(await gauge("apex_active_agents")).toBe(0);
  });

  it("counts live workers and their slots on an idle platform, and drops a worker that stops", async () => {
    const a = newWorker("presence-a", 3, 600);
    const b = newWorker("presence-b", 2, 600);
    await a.start();
    // Registered by the time start() resolves; the scrape (cached up to 1 s) catches up.
    expect(await presence()).toEqual({ alive: 1, slots: 3 });
    await b.start();
    expect(await presence()).toEqual({ alive: 2, slots: 5 });
    await expect.poll(() => gauge("apex_active_agents"), { timeout: 5_000, interval: 100 }).toBe(5);
    expect(await gauge("apex_workers_alive")).toBe(2);
    // No task anywhere, yet the gauges stay up: an idle healthy platform is not "no agents".
    expect(await gauge("apex_queue_depth")).toBe(0);
    // Heartbeats keep an idle worker alive past its lease (600 ms).
    const { rows: before } = await store.db.query<{ heartbeat_at: Date }>("SELECT heartbeat_at FROM workers WHERE id = 'presence-a'");
    await expect
      .poll(async () => (await store.db.query<{ heartbeat_at: Date }>("SELECT heartbeat_at FROM workers WHERE id = 'presence-a'")).rows[0]!.heartbeat_at.getTime(), { timeout: 5_000, interval: 100 })
      .toBeGreaterThan(before[0]!.heartbeat_at.getTime() + 600);
    expect(await presence()).toEqual({ alive: 2, slots: 5 });
    await a.stop(500);
    expect(await rows()).toEqual(["presence-b"]);
    expect(await presence()).toEqual({ alive: 1, slots: 2 });
  });

  it("a worker process that dies stops counting once its heartbeat is older than its lease; a live worker deletes its row", async () => {
    child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "helpers/worker-child.ts")], {
      env: { ...process.env, DATABASE_URL: store.url, APEX_LEASE_MS: "1000", WORKER_ID: "doomed", LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    await expect.poll(presence, { timeout: 20_000, interval: 50 }).toEqual({ alive: 2, slots: 4 });
    const exited = new Promise((r) => child!.once("exit", r));
    child.kill("SIGKILL");
    await exited;
    // Its row is still there (nobody deleted it), but its heartbeat ages past the 1 s lease.
    expect(await rows()).toContain("doomed");
    await expect.poll(presence, { timeout: 5_000, interval: 50 }).toEqual({ alive: 1, slots: 2 });
    // presence-b's next heartbeat cleans the dead row up.
    await expect.poll(rows, { timeout: 5_000, interval: 50 }).toEqual(["presence-b"]);
  }, 60_000);

  it("the last worker stopping takes the gauges to 0", async () => {
    await workers[1]!.stop(500);
    expect(await presence()).toEqual({ alive: 0, slots: 0 });
    await expect.poll(() => gauge("apex_active_agents"), { timeout: 5_000, interval: 100 }).toBe(0);
  });
});

describe("queue depth and oldest wait: claimable ready tasks only", () => {
  beforeAll(async () => {
    await store.db.query("DELETE FROM dags");
  });

  async function task(dagId: string, id: string, status: string, nextRunSql: string): Promise<void> {
    await store.db.query(
      `INSERT INTO tasks (dag_id, id, kind, spec, status, max_attempts, timeout_ms, next_run_at)
       VALUES ($1, $2, 'tool', '{}'::jsonb, $3, 3, 1000, ${nextRunSql})`,
      [dagId, id, status],
    );
  }

  it("is 0 with no task waiting, then the age of the oldest due one; a retry in backoff is not queued yet", async () => {
    expect(await clusterSnapshotQuery(store.db)()).toMatchObject({ queueDepth: 0, queueOldestWait: 0 });
    const agent = await store.db.query<{ id: string }>("INSERT INTO agents (name) VALUES ('queue-agent') RETURNING id");
    const dag = await store.db.query<{ id: string }>("INSERT INTO dags (agent_id, name) VALUES ($1, 'q') RETURNING id", [agent.rows[0]!.id]);
    const d = dag.rows[0]!.id;
    await task(d, "old", "ready", "now() - interval '90 seconds'");
    await task(d, "new", "ready", "now() - interval '5 seconds'");
    await task(d, "backoff", "ready", "now() + interval '1 hour'");
    await task(d, "waiting", "pending", "now() - interval '1 hour'");
    const s = await clusterSnapshotQuery(store.db)();
    expect(s.queueDepth).toBe(2);
    expect(s.queueOldestWait).toBeGreaterThanOrEqual(90);
    expect(s.queueOldestWait).toBeLessThan(100);
    // Claimed: no longer waiting.
    await store.db.query("UPDATE tasks SET status = 'running', lease_owner = 'w', lease_expires_at = now() + interval '1 minute' WHERE id = 'old'");
    const after = await clusterSnapshotQuery(store.db)();
    expect(after.queueDepth).toBe(1);
    expect(after.queueOldestWait).toBeGreaterThanOrEqual(5);
    expect(after.queueOldestWait).toBeLessThan(15);
    expect(after.runningTasks).toBe(1);
  });
});

describe("every agent's cost series starts at 0 on a process that tracks them", () => {
  const agentSeries = async (id: string) => sampleValue(await scrape(), "apex_agent_cost_total", { agent_id: id });

  it("agents existing at start at once, agents created later by the next scrapes, one committed late too", async () => {
    const service = new StoreApexService({ db: store.db, events: store.events, tools: testTools() });
    const before = await service.createAgent({ name: "series-before" });
    expect(await agentSeries(before.id)).toBeUndefined();
    await trackAgentSeries(newAgentsQuery(store.db));
    expect(await agentSeries(before.id)).toBe(0);
    const later = await service.createAgent({ name: "series-later" });
    await expect.poll(() => agentSeries(later.id), { timeout: 5_000, interval: 100 }).toBe(0);
    // Committed after a newer agent was seen, with an older created_at (a slow transaction).
    const late = await store.db.query<{ id: string }>("INSERT INTO agents (name, created_at) VALUES ('series-late', now() - interval '20 seconds') RETURNING id");
    await expect.poll(() => agentSeries(late.rows[0]!.id), { timeout: 5_000, interval: 100 }).toBe(0);
  });
});

describe("every attempt's log line carries tokens_used, cost and duration_ms", () => {
  const lines: Record<string, unknown>[] = [];
  let untee: () => void;
  beforeAll(() => {
    untee = captureLogLines(lines);
  });
  afterAll(() => untee?.());

  it("tool tasks and failed attempts report 0, paid LLM attempts what they spent", async () => {
    const tools = testTools({ failuresByKey: new Map([["flaky", 1]]) });
    const llm = new ScriptedGateway((req, call) => (call === 1 ? new LlmError("provider_error", "upstream 500", { provider: "local" }) : `answer to ${req.prompt}`));
    const service = new StoreApexService({ db: store.db, events: store.events, tools });
    const agent = await service.createAgent({ name: "log-fields" });
    const { id } = await service.submitDag(
      {
        agent_id: agent.id,
        name: "log-fields",
        tasks: [
          { id: "tool-ok", kind: "tool", tool: "sleep", args: { key: "ok", ms: 1 } },
          { id: "tool-flaky", kind: "tool", tool: "sleep", args: { key: "flaky", ms: 1 }, max_attempts: 2 },
          { id: "llm-flaky", kind: "llm", model: "local/echo", prompt: "three words here", max_attempts: 2 },
        ],
      },
      admin,
    );
    const worker = new Worker({ db: store.db, events: store.events, llm, tools, sandbox: refusingSandbox }, { id: "log-worker", concurrency: 2, leaseMs: 5_000, backoff: { baseMs: 10, maxMs: 20 } });
    await worker.start();
    try {
      await expect.poll(async () => (await service.getDag(id)).status, { timeout: 20_000, interval: 50 }).toBe("succeeded");
    } finally {
      await worker.stop(1_000);
    }
    const attemptLines = lines.filter((l) => l.dag_id === id && typeof l.message === "string" && /^Task (completed|attempt)/.test(l.message));
    const of = (task: string) => attemptLines.filter((l) => l.task_id === task);
    expect(of("tool-ok")).toHaveLength(1);
    expect(of("tool-flaky")).toHaveLength(2);
    expect(of("llm-flaky")).toHaveLength(2);
    for (const l of attemptLines) {
      expect(typeof l.duration_ms, JSON.stringify(l)).toBe("number");
      expect(typeof l.tokens_used, JSON.stringify(l)).toBe("number");
      expect(typeof l.cost, JSON.stringify(l)).toBe("number");
    }
    const failed = attemptLines.filter((l) => l.result !== "succeeded");
    expect(failed.map((l) => l.task_id).sort()).toEqual(["llm-flaky", "tool-flaky"]);
    for (const l of [...failed, ...of("tool-ok"), ...of("tool-flaky")]) expect([l.tokens_used, l.cost], JSON.stringify(l)).toEqual([0, 0]);
    const paid = of("llm-flaky").find((l) => l.result === "succeeded")!;
    // ScriptedGateway: words in + words out tokens, a micro-dollar each.
    expect(paid.tokens_used).toBe(3 + 5);
    expect(paid.cost).toBeCloseTo(8 / 1e6, 12);
  }, 30_000);
});
