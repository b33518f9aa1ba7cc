/**
 * A worker process is SIGKILLed mid-task: its lease expires, another worker reclaims the task and
 * the DAG completes. Postgres only (separate processes need a shared server).
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

  it("SIGKILL mid-task: the task is reclaimed after its lease and the DAG completes", async () => {
    const tools = testTools();
    const service = new StoreApexService({ db: store.db, tools });
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
    child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "helpers/worker-child.ts")], {
      env: { ...process.env, DATABASE_URL: store.url, APEX_LEASE_MS: String(leaseMs), WORKER_ID: "doomed-child", LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    // The child holds the task, mid-attempt.
    await expect
      .poll(
        async () =>
          (
            await store.db.query<{ n: number }>(
              "SELECT count(*)::int AS n FROM attempts WHERE dag_id = $1 AND worker_id = 'doomed-child' AND status = 'running'",
              [id],
            )
          ).rows[0]?.n,
        { timeout: 20_000, interval: 50 },
      )
      .toBe(1);
    const killedAt = Date.now();
    child.kill("SIGKILL");
    await new Promise((r) => child!.once("exit", r));

    const survivor = new Worker({ db: store.db, llm: new ScriptedGateway(), tools, sandbox: refusingSandbox }, { id: "survivor", leaseMs });
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
