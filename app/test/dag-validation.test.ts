/**
 * POST /v1/dags validation: each bad DAG is rejected with invalid_argument naming the field and
 * the problem, and nothing is written (checked on PGlite through the service).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dagLimits } from "../src/service/dag-schema";
import { StoreApexService } from "../src/service/apex-service";
import { findCycle, validateDagSubmission } from "../src/service/validate-dag";
import { ServiceError } from "../src/service/types";
import { openMigratedDb, type MigratedDb } from "./helpers/db";
import { testTools } from "./helpers/engine-doubles";

const tools = testTools();
const agentId = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const llm = (id: string, extra: Record<string, unknown> = {}) => ({ id, kind: "llm", model: "local/echo", prompt: "p", ...extra });
const dag = (tasks: unknown[], extra: Record<string, unknown> = {}) => ({ agent_id: agentId, name: "d", tasks, ...extra });

function rejection(body: unknown): { field?: string; message: string } {
  try {
    validateDagSubmission(body, tools);
  } catch (err) {
    expect(err).toBeInstanceOf(ServiceError);
    const e = err as ServiceError;
    expect(e.code).toBe("invalid_argument");
    return { field: e.field, message: e.message };
  }
  throw new Error("expected a rejection");
}

describe("DAG validation", () => {
  it("accepts a valid fan-out/fan-in DAG and fills defaults", () => {
    const ok = validateDagSubmission(
      dag([llm("a"), llm("b", { depends_on: ["a"], prompt: "{{tasks.a.output}}" }), { id: "c", kind: "tool", tool: "sleep", args: { key: "k", ms: 1 }, depends_on: ["a"] }]),
      tools,
    );
    expect(ok.tasks[0]).toMatchObject({ depends_on: [], max_attempts: dagLimits.defaultMaxAttempts });
    expect(ok.input).toEqual({});
  });

  it.each([
    ["a cycle, named", dag([llm("a", { depends_on: ["c"] }), llm("b", { depends_on: ["a"] }), llm("c", { depends_on: ["b"] })]), "tasks", /cycle: (a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c)/],
    ["a self-dependency", dag([llm("a", { depends_on: ["a"] })]), "tasks[0].depends_on[0]", /depends on itself/],
    ["an unknown dependency", dag([llm("a"), llm("b"), llm("c", { depends_on: ["a", "zz"] })]), "tasks[2].depends_on[1]", /unknown task "zz"/],
    ["a duplicate id", dag([llm("a"), llm("a")]), "tasks[1].id", /duplicate task id "a"/],
    ["args nested deeper than the limit", dag([{ id: "t", kind: "tool", tool: "sleep", args: { key: JSON.parse("[".repeat(70) + "]".repeat(70)), ms: 1 } }]), `tasks[0].args.key${"[0]".repeat(60)}`, /nested deeper than 64 levels/],
    ["too many tasks", dag(Array.from({ length: dagLimits.maxTasks + 1 }, (_, i) => llm(`t${i}`))), "tasks", /201 tasks; the limit is 200/],
    ["an oversized body", dag([llm("a", { prompt: "x".repeat(dagLimits.maxPromptChars) })], { input: { blob: "y".repeat(dagLimits.maxBodyBytes) } }), undefined, /bytes; the limit is/],
    ["no tasks", dag([]), "tasks", /./],
    ["a wrong kind", dag([{ id: "a", kind: "shell" }]), "tasks[0].kind", /./],
    ["a wrong type", dag([llm("a", { max_attempts: "3" })]), "tasks[0].max_attempts", /number/],
    ["a model without provider", dag([llm("a", { model: "gpt-4o" })]), "tasks[0].model", /provider\/model/],
    ["a body that is not an object", [], "body", /expected object/],
    ["an unknown provider", dag([llm("a"), llm("b", { model: "nope/x" })]), "tasks[1].model", /unknown provider "nope".*known: openai, anthropic, local/],
    ["a bad agent id", dag([llm("a")], { agent_id: "nope" }), "agent_id", /./],
    ["a missing name", { agent_id: agentId, tasks: [llm("a")] }, "name", /./],
    ["an unknown tool", dag([{ id: "a", kind: "tool", tool: "rm-rf", args: {} }]), "tasks[0].tool", /unknown tool "rm-rf" \(known: sleep, deploy, hang\)/],
    ["tool args against the tool's schema", dag([{ id: "a", kind: "tool", tool: "sleep", args: { key: "k", ms: -1 } }]), "tasks[0].args.ms", /./],
    ["a prompt reading a task that is not a dependency", dag([llm("a"), llm("b", { prompt: "{{tasks.a.output}}" })]), "tasks[1].prompt", /not in depends_on/],
    ["a prompt reading missing input", dag([llm("a", { prompt: "{{input.topic}}" })]), "tasks[0].prompt", /input.topic/],
    ["an unknown template root", dag([llm("a", { prompt: "{{secrets.key}}" })]), "tasks[0].prompt", /unknown reference/],
    ["a template in tool args reading a non-dependency", dag([llm("a"), { id: "b", kind: "tool", tool: "sleep", args: { key: "{{tasks.a.output}}", ms: 1 } }]), "tasks[1].args.key", /not in depends_on/],
  ])("rejects %s", (_name, body, field, message) => {
    const r = rejection(body);
    expect(r.field).toBe(field);
    expect(r.message).toMatch(message);
    if (field) expect(r.message.startsWith(`${field}: `)).toBe(true);
  });

  it("finds cycles iteratively on long chains and reports none for a DAG", () => {
    const chain = Array.from({ length: 5_000 }, (_, i) => ({ id: `t${i}`, depends_on: i === 0 ? [] : [`t${i - 1}`] }));
    expect(findCycle({ tasks: chain as never })).toBeUndefined();
    chain[0]!.depends_on = ["t4999"];
    expect(findCycle({ tasks: chain as never })?.length).toBe(5_001);
  });
});

describe("submission through the service", () => {
  let store: MigratedDb;
  let service: StoreApexService;
  let agent: string;
  beforeAll(async () => {
    store = await openMigratedDb("pglite");
    service = new StoreApexService({ db: store.db, events: store.events, tools });
    agent = (await service.createAgent({ name: "v" })).id;
  });
  afterAll(async () => store.close());

  const count = async (table: string) => (await store.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;

  it("writes nothing for an invalid or unknown-agent DAG", async () => {
    const admin = { keyId: "k", role: "admin" as const };
    await expect(service.submitDag(dag([llm("a"), llm("a")], { agent_id: agent }), admin)).rejects.toMatchObject({ field: "tasks[1].id" });
    await expect(service.submitDag(dag([llm("a")]), admin)).rejects.toMatchObject({ code: "invalid_argument", field: "agent_id", message: expect.stringMatching(/unknown agent/) });
    expect(await count("dags")).toBe(0);
    expect(await count("tasks")).toBe(0);
    const ok = await service.submitDag(dag([llm("a"), llm("b", { depends_on: ["a"] })], { agent_id: agent }), admin);
    expect(ok.status).toBe("running");
    const v = await service.getDag(ok.id);
    expect(v.tasks.map((t) => [t.id, t.status])).toEqual([["a", "ready"], ["b", "pending"]]);
    await expect(service.getDag("not-a-uuid")).rejects.toMatchObject({ code: "not_found" });
    await expect(service.createAgent({ name: "" })).rejects.toMatchObject({ code: "invalid_argument", field: "name" });
  });

  it("refuses input nested 20 000 deep (40 KB, and it overflows JSON.stringify's stack) as invalid_argument naming the field", async () => {
    const depth = 20_000;
    const input = { nest: JSON.parse("[".repeat(depth) + "]".repeat(depth)) as unknown };
    await expect(service.submitDag(dag([llm("a")], { agent_id: agent, input }), { keyId: "k", role: "admin" })).rejects.toMatchObject({
      code: "invalid_argument",
      field: `input.nest${"[0]".repeat(62)}`,
      message: expect.stringMatching(/nested deeper than 64 levels/),
    });
  });
});
