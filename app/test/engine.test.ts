/**
 * The engine end to end on both stores: submit through the service, run with real workers,
 * read back through getDag. LLM and tools are test doubles (helpers/engine-doubles.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runtimeEnv } from "../src/contract/env";
import { modelCheckFromEnv } from "../src/llm/model-check";
import { LlmError } from "../src/llm/types";
import { Worker } from "../src/engine/worker";
import { StoreApexService } from "../src/service/apex-service";
import type { DagEvent, DagView, Principal } from "../src/service/types";
import { openMigratedDb, storeKinds, type MigratedDb } from "./helpers/db";
import { ConcurrencyProbe, refusingSandbox, ScriptedGateway, testTools } from "./helpers/engine-doubles";

const admin: Principal = { keyId: "key-admin", role: "admin" };
const operator: Principal = { keyId: "key-operator", role: "operator" };
const fastBackoff = { baseMs: 20, maxMs: 100 };
/** Submissions may name OpenAI models; the scripted gateway answers for the provider. */
const models = modelCheckFromEnv({ [runtimeEnv.openaiApiKey]: "sk-engine-test" });

async function waitForDag(service: StoreApexService, id: string, done: (v: DagView) => boolean, timeoutMs = 15_000): Promise<DagView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await service.getDag(id);
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`dag ${id} still ${v.status}: ${JSON.stringify(v.tasks.map((t) => [t.id, t.status, t.error]))}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const finished = (v: DagView) => ["succeeded", "failed", "cancelled"].includes(v.status);

describe.each(storeKinds)("engine on %s", (kind) => {
  let store: MigratedDb;
  let agentId: string;
  const workers: Worker[] = [];

  beforeAll(async () => {
    store = await openMigratedDb(kind);
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop(2_000)));
  });
  afterAll(async () => store.close());

  function setup(opts: { gateway?: ScriptedGateway; failuresByKey?: Map<string, number>; probe?: ConcurrencyProbe; workers?: number; concurrency?: number } = {}) {
    const tools = testTools({ failuresByKey: opts.failuresByKey, probe: opts.probe });
    const llm = opts.gateway ?? new ScriptedGateway();
    const service = new StoreApexService({ db: store.db, events: store.events, tools, models });
    for (let i = 0; i < (opts.workers ?? 1); i++) {
      workers.push(new Worker({ db: store.db, events: store.events, llm, tools, sandbox: refusingSandbox }, { concurrency: opts.concurrency ?? 4, leaseMs: 5_000, backoff: fastBackoff }));
    }
    return { service, tools, llm };
  }
  const startAll = () => Promise.all(workers.map((w) => w.start()));

  async function agent(service: StoreApexService): Promise<string> {
    agentId ??= (await service.createAgent({ name: `agent-${kind}` })).id;
    return agentId;
  }

  it("runs a fan-out/fan-in DAG: templates, outputs, usage per task, DAG and agent", async () => {
    const { service, llm } = setup();
    const { id, status } = await service.submitDag(
      {
        agent_id: await agent(service),
        name: "fan",
        input: { topic: "queues" },
        tasks: [
          { id: "plan", kind: "llm", model: "local/echo", prompt: "plan {{input.topic}}" },
          { id: "a", kind: "llm", model: "local/echo", prompt: "a after {{tasks.plan.output}}", depends_on: ["plan"] },
          { id: "b", kind: "tool", tool: "sleep", args: { key: "b-{{input.topic}}", ms: 10 }, depends_on: ["plan"] },
          { id: "join", kind: "llm", model: "local/echo", prompt: "{{tasks.a.output}} + {{tasks.b.output.key}}", depends_on: ["a", "b"] },
        ],
      },
      admin,
    );
    expect(status).toBe("running");
    await startAll();
    const v = await waitForDag(service, id, finished);
    expect(v.status).toBe("succeeded");
    const byId = Object.fromEntries(v.tasks.map((t) => [t.id, t]));
    expect(byId.plan?.output).toBe("echo: plan queues");
    expect(byId.a?.output).toBe("echo: a after echo: plan queues");
    expect(byId.b?.output).toEqual({ key: "b-queues", slept: 10 });
    expect(byId.join?.output).toBe("echo: echo: a after echo: plan queues + b-queues");
    expect(llm.calls.map((c) => c.prompt)).toContain("echo: a after echo: plan queues + b-queues");
    // Words as tokens. plan: 2 in, 3 out; a: 5 in, 6 out; join: 8 in, 9 out -> 15 in, 18 out.
    expect(byId.plan?.usage).toEqual({ inputTokens: 2, outputTokens: 3, cachedTokens: 0, costUsd: 5e-6 });
    expect(v.totals).toEqual({ inputTokens: 15, outputTokens: 18, cachedTokens: 0, costUsd: 33e-6 });
    expect(v.agentTotals?.inputTokens).toBeGreaterThanOrEqual(15);
    expect(byId.b?.usage.inputTokens).toBe(0);
    expect(v.tasks.every((t) => t.attempts.length === 1 && t.attempts[0]?.status === "succeeded")).toBe(true);
    expect(v.finishedAt).toBeDefined();
  });

  it("retries with backoff until it succeeds, then fails for good when attempts run out", async () => {
    const failuresByKey = new Map([["flaky", 2], ["doomed", 10]]);
    const { service } = setup({ failuresByKey });
    const { id } = await service.submitDag(
      {
        agent_id: await agent(service),
        name: "retries",
        tasks: [
          { id: "flaky", kind: "tool", tool: "sleep", args: { key: "flaky", ms: 1 }, max_attempts: 3 },
          { id: "doomed", kind: "tool", tool: "sleep", args: { key: "doomed", ms: 1 }, max_attempts: 2 },
          { id: "after-doomed", kind: "llm", model: "local/echo", prompt: "x", depends_on: ["doomed"] },
          { id: "after-after", kind: "llm", model: "local/echo", prompt: "y", depends_on: ["after-doomed", "flaky"] },
        ],
      },
      admin,
    );
    await startAll();
    const v = await waitForDag(service, id, finished);
    const byId = Object.fromEntries(v.tasks.map((t) => [t.id, t]));
    expect(byId.flaky?.status).toBe("succeeded");
    expect(byId.flaky?.attempts.map((a) => a.status)).toEqual(["failed", "failed", "succeeded"]);
    const [f1, f2] = byId.flaky!.attempts;
    // Backoff: the second attempt started at least baseMs/2 after the first ended.
    expect(Date.parse(f2!.startedAt) - Date.parse(f1!.finishedAt!)).toBeGreaterThanOrEqual(fastBackoff.baseMs / 2 - 5);
    expect(byId.doomed?.status).toBe("failed");
    expect(byId.doomed?.attempts).toHaveLength(2);
    expect(byId.doomed?.error).toMatch(/planned failure of doomed/);
    expect(byId["after-doomed"]?.status).toBe("skipped");
    expect(byId["after-after"]?.status).toBe("skipped");
    expect(byId["after-after"]?.attempts).toHaveLength(0);
    expect(v.status).toBe("failed");
  });

  it("enforces the per-task timeout through AbortSignal, even on a tool that ignores it", async () => {
    const { service } = setup();
    const { id } = await service.submitDag(
      {
        agent_id: await agent(service),
        name: "timeout",
        tasks: [{ id: "stuck", kind: "tool", tool: "hang", args: {}, timeout_ms: 300, max_attempts: 2 }],
      },
      admin,
    );
    await startAll();
    const started = Date.now();
    const v = await waitForDag(service, id, finished);
    expect(v.status).toBe("failed");
    expect(v.tasks[0]?.attempts.map((a) => a.error)).toEqual([
      "timeout: attempt 1 exceeded 300 ms",
      "timeout: attempt 2 exceeded 300 ms",
    ]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("defers on breaker_open without an attempts row, reschedules on rate_limited without spending attempts", async () => {
    const gateway = new ScriptedGateway((req, call) => {
      if (call === 1) return new LlmError("breaker_open", "openai breaker open", { retryAfterMs: 50, provider: "openai" });
      if (call === 2) return new LlmError("rate_limited", "429", { retryAfterMs: 50, provider: "openai" });
      return `ok ${req.prompt}`;
    });
    const { service } = setup({ gateway });
    const { id } = await service.submitDag(
      { agent_id: await agent(service), name: "breaker", tasks: [{ id: "t", kind: "llm", model: "openai/gpt-4o-mini", prompt: "hi", max_attempts: 1 }] },
      admin,
    );
    await startAll();
    const v = await waitForDag(service, id, finished);
    expect(v.status).toBe("succeeded");
    const attempts = v.tasks[0]!.attempts;
    // The breaker_open claim left no row (its attempt was refunded and deleted); rate_limited left a rescheduled one.
    expect(attempts.map((a) => [a.number, a.status, a.spent])).toEqual([
      [1, "failed", false],
      [2, "succeeded", true],
    ]);
    expect(attempts[0]?.error).toMatch(/^rescheduled: rate_limited/);
    expect(gateway.calls).toHaveLength(3);
  });

  it("fails at once on a non-retryable LLM error", async () => {
    const gateway = new ScriptedGateway(() => new LlmError("invalid_request", "unknown model"));
    const { service } = setup({ gateway });
    const { id } = await service.submitDag(
      { agent_id: await agent(service), name: "bad-model", tasks: [{ id: "t", kind: "llm", model: "openai/gpt-4o", prompt: "hi", max_attempts: 5 }] },
      admin,
    );
    await startAll();
    const v = await waitForDag(service, id, finished);
    expect(v.status).toBe("failed");
    expect(v.tasks[0]?.attempts).toHaveLength(1);
    expect(v.tasks[0]?.error).toBe("invalid_request: unknown model");
  });

  it("cancel aborts running tasks at once and cancels the rest; events stream to watchers", async () => {
    const probe = new ConcurrencyProbe();
    const { service } = setup({ probe });
    const { id } = await service.submitDag(
      {
        agent_id: await agent(service),
        name: "cancel",
        tasks: [
          { id: "long", kind: "tool", tool: "sleep", args: { key: "long", ms: 20_000 } },
          { id: "next", kind: "llm", model: "local/echo", prompt: "never", depends_on: ["long"] },
        ],
      },
      admin,
    );
    const events: DagEvent[] = [];
    const stop = await service.watchDag(id, (e) => events.push(e));
    await startAll();
    await waitForDag(service, id, (v) => v.tasks.find((t) => t.id === "long")?.status === "running" && probe.running.get("long") === 1);
    const t0 = Date.now();
    expect(await service.cancelDag(id, undefined, "k-operator-1")).toEqual({ id, status: "cancelled" });
    // The worker notices through NOTIFY and aborts the tool well before its 20 s sleep.
    await expect.poll(() => probe.running.get("long"), { timeout: 3_000 }).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3_000);
    const v = await service.getDag(id);
    expect(v.status).toBe("cancelled");
    expect(v.tasks.map((t) => t.status)).toEqual(["cancelled", "cancelled"]);
    expect(v.tasks.map((t) => t.error)).toEqual(["cancelled by k-operator-1", "cancelled by k-operator-1"]);
    expect(v.tasks[0]?.attempts[0]).toMatchObject({ status: "failed", error: "cancelled" });
    await expect(service.cancelDag(id)).resolves.toEqual({ id, status: "cancelled" });
    await expect.poll(() => events.some((e) => e.type === "dag_status" && e.status === "cancelled")).toBe(true);
    expect(events.some((e) => e.type === "task_status" && e.taskId === "long" && e.status === "running")).toBe(true);
    await stop();
  });

  it("parks an approval-gated tool; approve runs it, reject fails it and skips dependents", async () => {
    const { service } = setup();
    const submit = (name: string) =>
      service.submitDag(
        {
          agent_id: agentId,
          name,
          input: { env: "prod" },
          tasks: [
            { id: "ship", kind: "tool", tool: "deploy", args: { target: "{{input.env}}" } },
            { id: "notify", kind: "llm", model: "local/echo", prompt: "shipped {{tasks.ship.output.deployed}}", depends_on: ["ship"] },
          ],
        },
        admin,
      );
    await agent(service);
    const approved = await submit("approve-me");
    const rejected = await submit("reject-me");
    const cancelled = await submit("cancel-me");
    await startAll();
    for (const d of [approved, rejected, cancelled]) await waitForDag(service, d.id, (v) => v.status === "awaiting_approval");
    const pending = (await service.listApprovals({ status: "pending" })).filter((a) => [approved.id, rejected.id].includes(a.dagId));
    expect(pending).toHaveLength(2);
    expect(pending[0]).toMatchObject({ taskId: "ship", tool: "deploy", args: { target: "prod" }, status: "pending" });
    const byDag = (dagId: string) => pending.find((a) => a.dagId === dagId)!;

    const ok = await service.decideApproval(byDag(approved.id).id, "approve", operator, "change ticket 42");
    expect(ok).toMatchObject({ status: "approved", decidedBy: "key-operator", reason: "change ticket 42" });
    expect(ok.decidedAt).toBeDefined();
    const v1 = await waitForDag(service, approved.id, finished);
    expect(v1.status).toBe("succeeded");
    expect(v1.tasks.find((t) => t.id === "notify")?.output).toBe("echo: shipped prod");
    expect(v1.tasks.find((t) => t.id === "ship")?.attempts).toHaveLength(1);

    await service.decideApproval(byDag(rejected.id).id, "reject", operator, "not today");
    const v2 = await service.getDag(rejected.id);
    expect(v2.status).toBe("failed");
    expect(v2.tasks.map((t) => [t.id, t.status])).toEqual([["ship", "failed"], ["notify", "skipped"]]);
    expect(v2.tasks[0]?.error).toBe("approval rejected by key-operator: not today");
    await expect(service.decideApproval(byDag(rejected.id).id, "approve", operator)).rejects.toMatchObject({ code: "conflict" });

    // Cancelling a DAG that waits for an operator rejects its approval in the caller's name.
    await service.cancelDag(cancelled.id, undefined, "key-admin-7");
    const [closed] = (await service.listApprovals()).filter((a) => a.dagId === cancelled.id);
    expect(closed).toMatchObject({ status: "rejected", decidedBy: "key-admin-7", reason: "DAG cancelled" });
  });

  it("scopes DAGs to an agent principal", async () => {
    const { service } = setup();
    const mine = await agent(service);
    const other = await service.createAgent({ name: `other-${kind}` });
    const agentKey: Principal = { keyId: "k-agent", role: "agent", agentId: mine };
    const body = { agent_id: other.id, name: "x", tasks: [{ id: "t", kind: "llm", model: "local/echo", prompt: "p" }] };
    await expect(service.submitDag(body, agentKey)).rejects.toMatchObject({ code: "permission_denied", field: "agent_id" });
    const { id } = await service.submitDag({ ...body, agent_id: mine }, agentKey);
    await expect(service.getDag(id, { agentId: other.id })).rejects.toMatchObject({ code: "not_found" });
    expect((await service.getDag(id, { agentId: mine })).id).toBe(id);
    await expect(service.createAgent({ name: `other-${kind}` })).rejects.toMatchObject({ code: "conflict", field: "name" });
    await service.cancelDag(id);
  });
});
