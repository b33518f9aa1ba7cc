/**
 * A worker process is SIGKILLed mid-task: its lease expires, another worker reclaims the task and
 * the DAG completes. A worker process given SIGTERM releases its task at once and exits 0.
 * Postgres only (separate processes need a shared server).
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Worker } from "../src/engine/worker";
import { StoreApexService } from "../src/service/apex-service";
import type { DagView } from "../src/service/types";
import { openMigratedDb, type MigratedDb } from "./helpers/db";
import { refusingSandbox, ScriptedGateway, testTools } from "./helpers/engine-doubles";

const leaseMs = 1_500;

describe("worker crash", () => {
  let store: MigratedDb;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    store = await openMigratedDb("postgres");
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await store.close();
  });

  const runningAttempts = async (dagId: string, workerId: string) =>
    (
      await store.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM attempts WHERE dag_id = $1 AND worker_id = $2 AND status = 'running'",
        [dagId, workerId],
      )
    ).rows[0]?.n;

  function spawnWorker(workerId: string, extraEnv: Record<string, string> = {}): ChildProcess {
    return spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "helpers/worker-child.ts")], {
      env: { ...process.env, DATABASE_URL: store.url, APEX_LEASE_MS: String(leaseMs), WORKER_ID: workerId, LOG_LEVEL: "warn", ...extraEnv },
      stdio: ["ignore", "pipe", "inherit"],
    });
  }

  it("SIGTERM mid-task: the worker releases the task without spending the attempt and exits 0", async () => {
    const service = new StoreApexService({ db: store.db, events: store.events, tools: testTools() });
    const agent = await service.createAgent({ name: "sigterm" });
    const { id } = await service.submitDag(
      { agent_id: agent.id, name: "term", tasks: [{ id: "long", kind: "tool", tool: "sleep", args: { key: "long", ms: 30_000 }, max_attempts: 1 }] },
      { keyId: "k", role: "admin" },
    );
    const proc = spawnWorker("terminated-child", { GRACE_MS: "300" });
    await expect.poll(() => runningAttempts(id, "terminated-child"), { timeout: 20_000, interval: 50 }).toBe(1);
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    const t0 = Date.now();
    proc.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
    const v = await service.getDag(id);
    // Released, not expired: ready at once for another worker, and the only attempt is still available.
    expect(v.tasks[0]?.status).toBe("ready");
    expect(v.tasks[0]?.attempts[0]).toMatchObject({ workerId: "terminated-child", status: "failed", spent: false });
    await service.cancelDag(id);
  }, 60_000);

  it("SIGKILL mid-task: the task is reclaimed after its lease and the DAG completes", async () => {
    const tools = testTools();
    const service = new StoreApexService({ db: store.db, events: store.events, tools });
    const agent = await service.createAgent({ name: "crash" });
    const { id } = await service.submitDag(
      {
        agent_id: agent.id,
        name: "crash",
        tasks: [
          { id: "victim", kind: "tool", tool: "sleep", args: { key: "victim", ms: 2_000 }, max_attempts: 3 },
          { id: "after", kind: "llm", model: "local/echo", prompt: "after {{tasks.victim.output.key}}", depends_on: ["victim"] },
        ],
      },
      { keyId: "k", role: "admin" },
    );
    child = spawnWorker("doomed-child");
    // The child holds the task, mid-attempt.
    await expect.poll(() => runningAttempts(id, "doomed-child"), { timeout: 20_000, interval: 50 }).toBe(1);
    const killedAt = Date.now();
    child.kill("SIGKILL");
    await new Promise((r) => child!.once("exit", r));

    const survivor = new Worker({ db: store.db, events: store.events, llm: new ScriptedGateway(), tools, sandbox: refusingSandbox }, { id: "survivor", leaseMs });
    await survivor.start();
    let v: DagView;
    for (;;) {
      v = await service.getDag(id);
      if (["succeeded", "failed"].includes(v.status) || Date.now() - killedAt > 20_000) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await survivor.stop();
    expect(v.status).toBe("succeeded");
    const victim = v.tasks.find((t) => t.id === "victim")!;
    expect(victim.attempts.map((a) => [a.workerId, a.status])).toEqual([
      ["doomed-child", "failed"],
      ["survivor", "succeeded"],
    ]);
    expect(victim.attempts[0]?.error).toBe("lease of worker doomed-child expired");
    // Not before the lease ran out (it was last renewed at most leaseMs/3 before the kill).
    expect(Date.parse(victim.attempts[1]!.startedAt)).toBeGreaterThanOrEqual(killedAt + leaseMs / 3 - 100);
    expect(v.tasks.find((t) => t.id === "after")?.output).toBe("echo: after victim");
  }, 60_000);
});
