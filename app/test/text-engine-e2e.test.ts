/**
 * Output Postgres cannot store, end to end: the real runtime (openRuntime) on Postgres and on PGlite, a real
 * worker with the real tool registry and local sandbox, and the real OpenAI SDK against the fake
 * server. An LLM answering "ok\u0000" and then "\ud800", and a program printing `a\x00b`: every task
 * succeeds on its first attempt, the HTTP API returns the exact text, dependent tasks' templates
 * receive the exact text (in a prompt sent to the provider and in tool args), approval args rendered
 * from those outputs are shown exactly, and an error message holding a NUL fails its task cleanly
 * (before the fix the save failed and each task sat in `running` until its lease expired).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { buildHttpServer } from "../src/api/http/server";
import { openRuntime, type Runtime } from "../src/bin/runtime";
import { loadConfig } from "../src/config";
import { runtimeEnv } from "../src/contract/env";
import { Worker } from "../src/engine/worker";
import type { DagStatus, Principal } from "../src/service/types";
import { escapeChar } from "../src/store/storable-text";
import { startFakeLlmServer, type FakeLlmServer } from "./fakes/fake-llm-server";
import { createTestDatabase, storeKinds, type TestDatabase } from "./helpers/db";

const submitter: Principal = { keyId: "text-submitter", role: "admin" };
const approver: Principal = { keyId: "text-approver", role: "operator" };
const model = "openai/gpt-4o-mini";

interface TaskJson {
  id: string;
  status: string;
  output?: unknown;
  error?: string;
  attempts: { status: string; error?: string }[];
}

describe.each(storeKinds)("tool and LLM output Postgres cannot store, on %s", (kind) => {
  let pg: TestDatabase | undefined;
  let fake: FakeLlmServer;
  let rt: Runtime;
  let worker: Worker;
  let http: FastifyInstance;
  let adminKey: string;
  let agentId: string;

  beforeAll(async () => {
    if (kind === "postgres") pg = await createTestDatabase();
    fake = await startFakeLlmServer();
    rt = await openRuntime(
      loadConfig({
        ...(pg ? { [runtimeEnv.databaseUrl]: pg.url } : {}),
        [runtimeEnv.openaiApiKey]: "sk-test",
        [runtimeEnv.openaiBaseUrl]: fake.openaiBaseUrl,
        // An explicit operator choice: this file tests text, not isolation (see sandbox-local.test.ts).
        [runtimeEnv.sandboxHardened]: "off",
        LOG_LEVEL: "silent",
      }),
    );
    worker = new Worker({ db: rt.db, events: rt.coordination.events, llm: rt.llm, tools: rt.tools, sandbox: rt.sandbox() }, { concurrency: 4, leaseMs: 10_000 });
    await worker.start();
    http = buildHttpServer({ service: rt.service, keys: rt.keys });
    await http.ready();
    adminKey = (await rt.keys.create({ name: "text-reader", role: "admin" })).secret;
    agentId = (await rt.service.createAgent({ name: "text-agent" })).id;
  }, 60_000);

  afterAll(async () => {
    await worker?.stop(1_000);
    await http?.close();
    await rt?.close();
    await fake?.close();
    await pg?.drop();
  });

  async function getDag(id: string): Promise<{ status: DagStatus; tasks: TaskJson[] }> {
    const res = await http.inject({ method: "GET", url: `/v1/dags/${id}`, headers: { authorization: `Bearer ${adminKey}` } });
    expect(res.statusCode, res.body).toBe(200);
    return JSON.parse(res.body) as { status: DagStatus; tasks: TaskJson[] };
  }

  /** Runs the DAG to its end, deciding each approval it asks for with `decide`. */
  async function runDag(tasks: unknown[], decide: (approval: { id: string; taskId: string; args: unknown }) => "approve" | "reject") {
    const { id } = await rt.service.submitDag({ agent_id: agentId, name: "text", input: {}, tasks }, submitter);
    const deadline = Date.now() + 30_000;
    for (;;) {
      for (const a of await rt.service.listApprovals({ status: "pending" })) {
        if (a.dagId === id) await rt.service.decideApproval(a.id, decide(a), approver, "decided by the test");
      }
      const dag = await getDag(id);
      if (["succeeded", "failed", "cancelled"].includes(dag.status)) return { id, dag };
      if (Date.now() > deadline) throw new Error(`DAG ${id} still ${dag.status}: ${JSON.stringify(dag.tasks.map((t) => [t.id, t.status]))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const task = (dag: { tasks: TaskJson[] }, id: string): TaskJson => dag.tasks.find((t) => t.id === id)!;

  it("is stored losslessly: first attempts succeed, the API and dependents see the exact text", async () => {
    fake.enqueueFor("openai", { kind: "success", text: "ok\u0000" }, { kind: "success", text: "\ud800" });
    const { id, dag } = await runDag(
      [
        { id: "nul", kind: "llm", model, prompt: "say ok" },
        { id: "surrogate", kind: "llm", model, prompt: "got {{tasks.nul.output}}", depends_on: ["nul"] },
        { id: "program", kind: "tool", tool: "run_command", args: { argv: ["printf", "a\\000b"] } },
        {
          id: "picked",
          kind: "tool",
          tool: "json_extract",
          depends_on: ["program"],
          args: { data: "{{tasks.program.output}}", paths: { stdout: "stdout" } },
        },
        {
          id: "templated",
          kind: "tool",
          tool: "json_extract",
          depends_on: ["nul", "surrogate"],
          args: { data: { nul: "{{tasks.nul.output}}", surrogate: "[{{tasks.surrogate.output}}]" }, paths: { nul: "nul", surrogate: "surrogate" } },
        },
      ],
      () => "approve",
    );

    expect(dag.status).toBe("succeeded");
    for (const t of dag.tasks) {
      expect(t.status, t.id).toBe("succeeded");
      expect(t.attempts.map((a) => a.status), t.id).toEqual(["succeeded"]);
    }
    expect(task(dag, "nul").output).toBe("ok\u0000");
    expect(task(dag, "surrogate").output).toBe("\ud800");
    expect((task(dag, "program").output as { stdout: string }).stdout).toBe("a\u0000b");
    expect(task(dag, "picked").output).toEqual({ stdout: "a\u0000b" });
    expect(task(dag, "templated").output).toEqual({ nul: "ok\u0000", surrogate: "[\ud800]" });

    // The dependent LLM task's prompt reached the provider exactly.
    const second = fake.requests.filter((r) => r.api === "openai").at(-1)!.body as { messages: { role: string; content: string }[] };
    expect(second.messages.at(-1)!.content).toBe("got ok\u0000");

    // Anyone reading the table directly sees the documented escaping.
    const { rows } = await rt.db.query<{ id: string; output: unknown }>("SELECT id, output FROM tasks WHERE dag_id = $1 AND id IN ('nul', 'surrogate')", [id]);
    expect(Object.fromEntries(rows.map((r) => [r.id, r.output]))).toEqual({ nul: `ok${escapeChar}0000`, surrogate: `${escapeChar}d800` });
  }, 60_000);

  it("approval args rendered from such output are shown exactly, and an error text holding a NUL fails its task on the first attempt", async () => {
    fake.enqueueFor("openai", { kind: "success", text: "ok\u0000" }, { kind: "success", text: "\ud800" });
    const shown: unknown[] = [];
    const { dag } = await runDag(
      [
        { id: "nul", kind: "llm", model, prompt: "say ok" },
        { id: "surrogate", kind: "llm", model, prompt: "again", depends_on: ["nul"] },
        {
          id: "shown",
          kind: "tool",
          tool: "run_command",
          depends_on: ["nul", "surrogate"],
          args: { argv: ["printf", "%s", "{{tasks.surrogate.output}}"], env: { NUL_TEXT: "{{tasks.nul.output}}" } },
        },
        { id: "failing", kind: "tool", tool: "run_command", max_attempts: 1, args: { argv: ["sh", "-c", "printf 'bad\\000x' >&2; exit 3"] } },
      ],
      (a) => {
        if (a.taskId !== "shown") return "approve";
        shown.push(a.args);
        return "reject";
      },
    );

    expect(shown).toEqual([{ argv: ["printf", "%s", "\ud800"], env: { NUL_TEXT: "ok\u0000" } }]);
    const res = await http.inject({ method: "GET", url: "/v1/approvals?status=rejected", headers: { authorization: `Bearer ${adminKey}` } });
    const approvals = (JSON.parse(res.body) as { approvals: { task_id: string; args: unknown }[] }).approvals;
    expect(approvals.filter((a) => a.task_id === "shown").map((a) => a.args)).toContainEqual({ argv: ["printf", "%s", "\ud800"], env: { NUL_TEXT: "ok\u0000" } });

    expect(dag.status).toBe("failed");
    const failing = task(dag, "failing");
    expect(failing.status).toBe("failed");
    expect(failing.error).toContain("bad\u0000x");
    expect(failing.attempts).toHaveLength(1);
    expect(failing.attempts[0]!.error).toContain("bad\u0000x");
    expect(task(dag, "shown").error).toBe("approval rejected by text-approver: decided by the test");
  }, 60_000);
});
