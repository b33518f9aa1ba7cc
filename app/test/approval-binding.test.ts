/**
 * Approvals bound to identity, arguments and time, on both stores with real workers: the key that
 * submitted a DAG cannot approve it (unless allowed), an approval covers only the arguments it
 * showed (a dependency output changed after approval: new approval, no attempt, the tool never
 * ran with the new arguments), it expires (approved but not started in time: new approval;
 * pending past its time: 409 and a new approval), and the happy path runs the tool once.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildHttpServer } from "../src/api/http/server";
import { argsDigest } from "../src/engine/approval-digest";
import { Worker } from "../src/engine/worker";
import { StoreApexService } from "../src/service/apex-service";
import type { DagView, Principal } from "../src/service/types";
import type { ToolDefinition, ToolRegistry } from "../src/tools/types";
import { createApiFixture, type ApiFixture } from "./api-support/fixture";
import { openMigratedDb, storeKinds, type MigratedDb } from "./helpers/db";
import { refusingSandbox, ScriptedGateway, testTools } from "./helpers/engine-doubles";

const submitter: Principal = { keyId: "key-submitter", role: "admin" };
const operator: Principal = { keyId: "key-operator", role: "operator" };

/** testTools with a `deploy` that records every target it really deployed. */
function countingTools(): ToolRegistry & { deployed: string[] } {
  const base = testTools();
  const deployed: string[] = [];
  const original = base.get("deploy")!;
  const deploy: ToolDefinition = {
    ...original,
    async run(args, ctx) {
      deployed.push((args as { target: string }).target);
      return original.run(args, ctx);
    },
  };
  return { get: (n) => (n === "deploy" ? deploy : base.get(n)), list: () => base.list().map((t) => (t.name === "deploy" ? deploy : t)), deployed };
}

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(storeKinds)("approvals bound to identity, arguments and time on %s", (kind) => {
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

  function setup(opts: { allowSelfApproval?: boolean; approvalTtlMs?: number } = {}) {
    const tools = countingTools();
    const service = new StoreApexService({ db: store.db, events: store.events, tools, allowSelfApproval: opts.allowSelfApproval });
    const startWorker = async () => {
      const w = new Worker(
        { db: store.db, events: store.events, llm: new ScriptedGateway(), tools, sandbox: refusingSandbox },
        { concurrency: 2, leaseMs: 5_000, approvalTtlMs: opts.approvalTtlMs },
      );
      workers.push(w);
      await w.start();
      return w;
    };
    const stopWorkers = () => Promise.all(workers.splice(0).map((w) => w.stop(2_000)));
    return { service, tools, startWorker, stopWorkers };
  }

  /** plan (llm echo) -> ship (deploy, gated) whose target is plan's output. */
  async function submit(service: StoreApexService, name: string): Promise<string> {
    agentId ??= (await service.createAgent({ name: `approvals-${kind}` })).id;
    const { id } = await service.submitDag(
      {
        agent_id: agentId,
        name,
        tasks: [
          { id: "plan", kind: "llm", model: "local/echo", prompt: name },
          { id: "ship", kind: "tool", tool: "deploy", args: { target: "{{tasks.plan.output}}" }, depends_on: ["plan"] },
        ],
      },
      submitter,
    );
    return id;
  }

  const approvalsOf = async (service: StoreApexService, dagId: string) => (await service.listApprovals()).filter((a) => a.dagId === dagId);
  const pendingOf = (service: StoreApexService, dagId: string) =>
    until("a pending approval", () => approvalsOf(service, dagId), (as) => as.some((a) => a.status === "pending")).then((as) => as.find((a) => a.status === "pending")!);
  const finished = (v: DagView) => ["succeeded", "failed", "cancelled"].includes(v.status);
  const attemptRows = async (dagId: string) =>
    (await store.db.query<{ n: number }>("SELECT count(*)::int AS n FROM attempts WHERE dag_id = $1 AND task_id = 'ship'", [dagId])).rows[0]!.n;
  const spent = async (dagId: string) =>
    (await store.db.query<{ attempts: number }>("SELECT attempts FROM tasks WHERE dag_id = $1 AND id = 'ship'", [dagId])).rows[0]!.attempts;

  it("the happy path: the approval shows the rendered call and its digest, and the tool runs once", async () => {
    const { service, tools, startWorker } = setup();
    const dagId = await submit(service, "happy");
    await startWorker();
    const pending = await pendingOf(service, dagId);
    expect(pending.args).toEqual({ target: "echo: happy" });
    expect(pending.argsDigest).toBe(argsDigest({ target: "echo: happy" }));
    // Default TTL: 24 h from the request.
    expect(Date.parse(pending.expiresAt) - Date.parse(pending.createdAt)).toBe(24 * 60 * 60_000);

    await service.decideApproval(pending.id, "approve", operator, "looks right");
    const v = await until("the DAG to finish", () => service.getDag(dagId), finished);
    expect(v.status).toBe("succeeded");
    expect(tools.deployed).toEqual(["echo: happy"]);
    expect(v.tasks.find((t) => t.id === "ship")?.attempts).toHaveLength(1);
    expect((await approvalsOf(service, dagId)).map((a) => a.status)).toEqual(["approved"]);
  });

  it("the key that submitted the DAG cannot approve it: 403 naming the rule; another key can; rejecting is allowed", async () => {
    const { service, startWorker } = setup();
    const dagId = await submit(service, "self");
    await startWorker();
    const pending = await pendingOf(service, dagId);
    await expect(service.decideApproval(pending.id, "approve", submitter)).rejects.toMatchObject({
      code: "permission_denied",
      message: expect.stringMatching(/API key that submitted DAG .* may not approve its tool calls.*APEX_APPROVAL_ALLOW_SELF/),
    });
    // Nothing was recorded: the approval is still pending and the task still waits.
    expect((await approvalsOf(service, dagId)).map((a) => a.status)).toEqual(["pending"]);
    expect((await service.getDag(dagId)).status).toBe("awaiting_approval");
    await service.decideApproval(pending.id, "approve", operator);
    expect((await until("the DAG to finish", () => service.getDag(dagId), finished)).status).toBe("succeeded");

    const other = await submit(service, "self-reject");
    const p2 = await pendingOf(service, other);
    expect((await service.decideApproval(p2.id, "reject", submitter, "changed my mind")).status).toBe("rejected");
  });

  it("with self-approval allowed (APEX_APPROVAL_ALLOW_SELF=true) the submitter may approve", async () => {
    const { service, tools, startWorker } = setup({ allowSelfApproval: true });
    const dagId = await submit(service, "self-allowed");
    await startWorker();
    const pending = await pendingOf(service, dagId);
    expect((await service.decideApproval(pending.id, "approve", submitter)).decidedBy).toBe(submitter.keyId);
    expect((await until("the DAG to finish", () => service.getDag(dagId), finished)).status).toBe("succeeded");
    expect(tools.deployed).toEqual(["echo: self-allowed"]);
  });

  it("arguments that changed after approval: the old approval is superseded, a new one shows the new call, no attempt is spent", async () => {
    const { service, tools, startWorker, stopWorkers } = setup();
    const dagId = await submit(service, "changed");
    await startWorker();
    const first = await pendingOf(service, dagId);
    expect(first.args).toEqual({ target: "echo: changed" });
    await stopWorkers();

    await service.decideApproval(first.id, "approve", operator);
    // The dependency's output changes between the approval and the run.
    await store.db.query(`UPDATE tasks SET output = '"prod-cluster"'::jsonb WHERE dag_id = $1 AND id = 'plan'`, [dagId]);
    await startWorker();

    const second = await pendingOf(service, dagId);
    expect(second.id).not.toBe(first.id);
    expect(second.args).toEqual({ target: "prod-cluster" });
    expect(second.argsDigest).toBe(argsDigest({ target: "prod-cluster" }));
    const old = (await approvalsOf(service, dagId)).find((a) => a.id === first.id)!;
    expect(old.status).toBe("superseded");
    expect(old.endedAt).toBeDefined();
    expect((await service.getDag(dagId)).status).toBe("awaiting_approval");
    expect(tools.deployed).toEqual([]);
    expect(await attemptRows(dagId)).toBe(0);
    expect(await spent(dagId)).toBe(0);

    await service.decideApproval(second.id, "approve", operator);
    const v = await until("the DAG to finish", () => service.getDag(dagId), finished);
    expect(v.status).toBe("succeeded");
    expect(tools.deployed).toEqual(["prod-cluster"]);
    expect(v.tasks.find((t) => t.id === "ship")?.attempts).toHaveLength(1);
  });

  it("an approval that expired before the task started: marked expired, a new one is asked for, no attempt is spent", async () => {
    const { service, tools, startWorker, stopWorkers } = setup();
    const dagId = await submit(service, "late-start");
    await startWorker();
    const first = await pendingOf(service, dagId);
    await stopWorkers();
    await service.decideApproval(first.id, "approve", operator);
    // Time passes past the approval's expiry before any worker claims the task.
    await store.db.query("UPDATE approvals SET expires_at = now() - interval '1 second' WHERE id = $1", [first.id]);
    await startWorker();

    const second = await pendingOf(service, dagId);
    expect(second.id).not.toBe(first.id);
    expect((await approvalsOf(service, dagId)).find((a) => a.id === first.id)?.status).toBe("expired");
    expect(tools.deployed).toEqual([]);
    expect(await attemptRows(dagId)).toBe(0);
    expect(await spent(dagId)).toBe(0);
  });

  it("deciding a pending approval past its expiry (APEX_APPROVAL_TTL_MS) is a 409 naming why; the task asks again", async () => {
    const ttlMs = 1_000;
    const { service, tools, startWorker } = setup({ approvalTtlMs: ttlMs });
    const dagId = await submit(service, "late-decision");
    await startWorker();
    const first = await pendingOf(service, dagId);
    expect(Date.parse(first.expiresAt) - Date.parse(first.createdAt)).toBe(ttlMs);
    // Wait on the database's clock, which judges expiry.
    await until(
      "the approval to expire",
      async () => (await store.db.query<{ past: boolean }>("SELECT now() >= expires_at AS past FROM approvals WHERE id = $1", [first.id])).rows[0]!.past,
      (past) => past,
    );

    await expect(service.decideApproval(first.id, "approve", operator)).rejects.toMatchObject({
      code: "conflict",
      message: expect.stringMatching(/approval .* expired at .*APEX_APPROVAL_TTL_MS.*new approval/),
    });
    const second = await pendingOf(service, dagId);
    expect(second.id).not.toBe(first.id);
    expect((await approvalsOf(service, dagId)).find((a) => a.id === first.id)?.status).toBe("expired");
    // Deciding it again says it is over.
    await expect(service.decideApproval(first.id, "approve", operator)).rejects.toMatchObject({ code: "conflict", message: expect.stringContaining("already expired") });
    expect(tools.deployed).toEqual([]);
    expect(await attemptRows(dagId)).toBe(0);
  });
});

describe("over HTTP: self-approval is 403 naming the rule; approvals show their digest and expiry", () => {
  let fx: ApiFixture;
  beforeAll(async () => {
    fx = await createApiFixture({ store: "postgres" });
  });
  afterAll(async () => fx?.close());

  it("the admin key that submitted the DAG gets 403; the operator key approves", async () => {
    const app = buildHttpServer(fx.deps);
    const as = (token: string | undefined) => ({ authorization: `Bearer ${token ?? ""}` });
    const submitted = await app.inject({
      method: "POST",
      url: "/v1/dags",
      headers: as(fx.tokens.admin),
      payload: { agent_id: fx.agentA.id, name: "self-http", tasks: [{ id: "ship", kind: "tool", tool: "deploy", args: { target: "blue" } }] },
    });
    expect(submitted.statusCode).toBe(201);
    const dagId = submitted.json<{ id: string }>().id;
    const pending = await until(
      "a pending approval",
      async () => (await app.inject({ method: "GET", url: "/v1/approvals?status=pending", headers: as(fx.tokens.viewer) })).json<{ approvals: Array<Record<string, string>> }>().approvals,
      (as) => as.some((a) => a.dag_id === dagId),
    ).then((as) => as.find((a) => a.dag_id === dagId)!);
    expect(pending).toMatchObject({ args_digest: argsDigest({ target: "blue" }), expires_at: expect.any(String) });

    const self = await app.inject({ method: "POST", url: `/v1/approvals/${pending.id}/approve`, headers: as(fx.tokens.admin) });
    expect(self.statusCode).toBe(403);
    expect(self.json()).toEqual({
      error: { code: "permission_denied", field: "id", message: expect.stringContaining(`the API key that submitted DAG ${dagId} may not approve its tool calls`) },
    });
    const other = await app.inject({ method: "POST", url: `/v1/approvals/${pending.id}/approve`, headers: as(fx.tokens.operator) });
    expect(other.statusCode).toBe(200);
    expect(other.json()).toMatchObject({ status: "approved", decided_by: fx.keyIds.operator });
    await app.close();
  });
});
