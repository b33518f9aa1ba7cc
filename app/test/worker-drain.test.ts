/**
 * A rollout never kills a paid LLM call: the real apex-worker process, SIGTERMed while its call
 * to a fake provider (real SDK, real HTTP on 127.0.0.1) is in flight, stops claiming, turns
 * unready (/readyz 503) while staying live (/healthz 200), lets the call finish, records it once
 * and exits 0. Its drain comes from APEX_LLM_TIMEOUT_MS (contract/worker-drain.ts); a configured
 * grace shorter than a call is refused. Postgres only (the worker is a separate process).
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config";
import { runtimeEnv } from "../src/contract/env";
import { createInProcessCoordination } from "../src/coord/in-process";
import { createLlmGateway } from "../src/llm/gateway";
import { StoreApexService } from "../src/service/apex-service";
import { startFakeLlmServer, type FakeLlmServer } from "./fakes/fake-llm-server";
import { openMigratedDb, type MigratedDb } from "./helpers/db";
import { testTools } from "./helpers/engine-doubles";
import { freePort, waitFor } from "./helpers/wait";

const admin = { keyId: "k", role: "admin" } as const;
const llmTimeoutMs = 10_000;

describe("apex-worker drains an in-flight LLM call on SIGTERM", () => {
  let store: MigratedDb;
  let fake: FakeLlmServer;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    store = await openMigratedDb("postgres");
    fake = await startFakeLlmServer();
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await fake.close();
    await store.close();
  });

  it("finishes the call, records it once and exits 0; unready but live while draining", async () => {
    const service = new StoreApexService({
      db: store.db,
      events: store.events,
      tools: testTools(),
      models: createLlmGateway({ coordination: createInProcessCoordination(), openai: { apiKey: "sk-drain", baseURL: fake.openaiBaseUrl } }),
    });
    const agent = await service.createAgent({ name: "drain" });
    let answer!: () => void;
    fake.enqueueFor("openai", { kind: "success", text: "answered while draining", usage: { input: 5, output: 2 }, after: new Promise<void>((r) => (answer = r)) });
    const { id: dagId } = await service.submitDag(
      { agent_id: agent.id, name: "drain", tasks: [{ id: "ask", kind: "llm", model: "openai/gpt-4o-mini", prompt: "take your time", max_attempts: 3 }] },
      admin,
    );

    const metricsPort = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.REDIS_URL;
    const output: string[] = [];
    child = spawn(process.execPath, ["--import", "tsx", path.resolve(__dirname, "../src/bin/apex-worker.ts")], {
      env: {
        ...env,
        DATABASE_URL: store.url,
        [runtimeEnv.openaiApiKey]: "sk-drain",
        [runtimeEnv.openaiBaseUrl]: fake.openaiBaseUrl,
        [runtimeEnv.llmTimeoutMs]: String(llmTimeoutMs),
        [runtimeEnv.metricsPort]: String(metricsPort),
        [runtimeEnv.sandboxHardened]: "off",
        [runtimeEnv.leaseMs]: "3000",
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const stream of [child.stdout, child.stderr]) stream?.setEncoding("utf8").on("data", (chunk: string) => output.push(chunk));
    const exited = new Promise<number | null>((r) => child!.once("exit", (code) => r(code)));
    const probe = async (p: string) => (await fetch(`http://127.0.0.1:${metricsPort}${p}`).catch(() => undefined))?.status;

    // The call is at the provider, unanswered; the worker is ready.
    await waitFor("the LLM call to reach the provider", () => (fake.requestCount("openai") === 1 ? true : undefined), { timeoutMs: 30_000, intervalMs: 50 });
    await waitFor("/readyz 200", async () => ((await probe("/readyz")) === 200 ? true : undefined), { timeoutMs: 30_000, intervalMs: 50 });

    child.kill("SIGTERM");
    // Draining: out of rotation, still alive for the liveness probe, with the grace derived from the timeout.
    await waitFor("/readyz 503 while draining", async () => ((await probe("/readyz")) === 503 ? true : undefined), { timeoutMs: 10_000, intervalMs: 50 });
    expect(await probe("/healthz")).toBe(200);
    await waitFor("the drain log line", () => (output.join("").includes('"grace_ms":25000') ? true : undefined), { timeoutMs: 10_000, intervalMs: 50 });
    // Longer than a poll or two: the process waits for the call, it does not exit or release it.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(child.exitCode).toBeNull();
    expect((await service.getDag(dagId)).tasks[0]?.status).toBe("running");

    const answeredAt = Date.now();
    answer();
    expect(await exited).toBe(0);
    expect(Date.now() - answeredAt).toBeLessThan(15_000);

    const dag = await service.getDag(dagId);
    expect(dag.status).toBe("succeeded");
    expect(dag.tasks[0]?.output).toBe("answered while draining");
    expect(dag.tasks[0]?.attempts.map((a) => a.status)).toEqual(["succeeded"]);
    // Paid once: one request at the provider, one usage row.
    expect(fake.requestCount("openai")).toBe(1);
    const usage = (await store.db.query<{ n: number }>("SELECT count(*)::int AS n FROM usage WHERE dag_id = $1", [dagId])).rows[0]?.n;
    expect(usage).toBe(1);
    await service.close();
  }, 90_000);
});

describe("the drain follows the LLM timeout", () => {
  it("defaults to the timeout + 15 s, and refuses a grace shorter than that, naming both variables", () => {
    expect(loadConfig({})).toMatchObject({ llmTimeoutMs: 120_000, workerShutdownGraceMs: 135_000 });
    expect(loadConfig({ [runtimeEnv.llmTimeoutMs]: "300000" })).toMatchObject({ llmTimeoutMs: 300_000, workerShutdownGraceMs: 315_000 });
    expect(loadConfig({ [runtimeEnv.workerShutdownGraceMs]: "600000" }).workerShutdownGraceMs).toBe(600_000);
    expect(() => loadConfig({ [runtimeEnv.llmTimeoutMs]: "60000", [runtimeEnv.workerShutdownGraceMs]: "70000" })).toThrow(
      "APEX_WORKER_SHUTDOWN_GRACE_MS: expected at least 75000 (APEX_LLM_TIMEOUT_MS 60000 + 15000 ms margin), got 70000",
    );
    expect(() => loadConfig({ [runtimeEnv.llmTimeoutMs]: "10" })).toThrow(/APEX_LLM_TIMEOUT_MS: expected milliseconds from 1000 to 3600000/);
  });
});
