/**
 * API input Postgres cannot store: a NUL (U+0000), a lone high or a lone low surrogate in every
 * field the API writes (agent name and description, DAG name, input values and keys at any depth,
 * prompt, system, depends_on, tool, tool args and their keys, API key name, approval reason) is a
 * 400 / INVALID_ARGUMENT naming the field, over HTTP (Fastify inject) and gRPC (real client and
 * server; NUL only: a lone surrogate cannot be sent as a protobuf string), on Postgres and PGlite
 * with the real service and worker. Nothing is written and nothing is logged at ERROR by the API
 * or the worker (before the fix each of these was a 500 with an ERROR stack).
 */
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import type { FastifyInstance } from "fastify";
import { buildHttpServer } from "../src/api/http/server";
import { jsonToStruct } from "../src/api/grpc/struct";
import { createLogger, teeLogs } from "../src/telemetry/logger";
import { createApiFixture, type ApiFixture } from "./api-support/fixture";
import { connectGrpc, type GrpcTestClient } from "./api-support/grpc-client";
import { storeKinds } from "./helpers/db";

/** The characters under attack, with how a field path shows them when they are in a key. */
const bad = [
  { label: "NUL", char: "\u0000", shown: "\\u0000", message: /U\+0000 \(NUL\)/ },
  { label: "lone high surrogate", char: "\ud800", shown: "\\ud800", message: /lone surrogate \(U\+D800\)/ },
  { label: "lone low surrogate", char: "\udfff", shown: "\\udfff", message: /lone surrogate \(U\+DFFF\)/ },
] as const;

interface Case {
  readonly name: string;
  readonly field: string;
  /** HTTP request. */
  readonly http: { method: "POST"; url: string; body: Record<string, unknown> };
  /** gRPC method and request message. */
  readonly grpc: { method: string; request: Record<string, unknown> };
}

interface Dag {
  name?: string;
  input?: Record<string, unknown>;
  tasks: Record<string, unknown>[];
}

const llm = (extra: Record<string, unknown> = {}) => ({ id: "plan", kind: "llm", model: "local/echo", prompt: "hello", depends_on: [], ...extra });
const tool = (args: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ id: "wait", kind: "tool", tool: "sleep", args, depends_on: [], ...extra });

function cases(fx: ApiFixture, approvalId: string, c: string, shown: string): Case[] {
  const agent = (name: string, description?: string): Case["http"]["body"] => ({ name, ...(description === undefined ? {} : { description }) });
  const dag = (name: string, field: string, d: Dag): Case => {
    const body = { agent_id: fx.agentA.id, name: d.name ?? "text", input: d.input ?? {}, tasks: d.tasks };
    return {
      name,
      field,
      http: { method: "POST", url: "/v1/dags", body },
      grpc: {
        method: "SubmitDag",
        request: {
          ...body,
          input: jsonToStruct(body.input),
          tasks: d.tasks.map(({ args, ...t }) => ({ ...t, ...(args ? { args: jsonToStruct(args as Record<string, unknown>) } : {}) })),
        },
      },
    };
  };
  const decide = (decision: "approve" | "reject"): Case => ({
    name: `${decision} reason`,
    field: "reason",
    http: { method: "POST", url: `/v1/approvals/${approvalId}/${decision}`, body: { reason: `because${c}` } },
    grpc: { method: "DecideApproval", request: { id: approvalId, decision, reason: `because${c}` } },
  });
  return [
    { name: "agent name", field: "name", http: { method: "POST", url: "/v1/agents", body: agent(`agent${c}`) }, grpc: { method: "CreateAgent", request: agent(`agent${c}`) } },
    {
      name: "agent description",
      field: "description",
      http: { method: "POST", url: "/v1/agents", body: agent("described", `about${c}`) },
      grpc: { method: "CreateAgent", request: agent("described", `about${c}`) },
    },
    {
      name: "API key name",
      field: "name",
      http: { method: "POST", url: "/v1/api-keys", body: { name: `key${c}`, role: "viewer" } },
      grpc: { method: "CreateApiKey", request: { name: `key${c}`, role: "viewer" } },
    },
    dag("DAG name", "name", { name: `dag${c}`, tasks: [llm()] }),
    dag("input value", "input.topic", { input: { topic: `queues${c}` }, tasks: [llm()] }),
    dag("input key", `input.to${shown}pic`, { input: { [`to${c}pic`]: "queues" }, tasks: [llm()] }),
    dag("nested input value", "input.a.b[1]", { input: { a: { b: ["fine", `x${c}`] } }, tasks: [llm()] }),
    dag("nested input key", `input.a.k${shown}`, { input: { a: { [`k${c}`]: 1 } }, tasks: [llm()] }),
    dag("prompt", "tasks[0].prompt", { tasks: [llm({ prompt: `say${c}` })] }),
    dag("system", "tasks[1].system", { tasks: [tool({ key: "k", ms: 0 }), llm({ system: `sys${c}` })] }),
    dag("depends_on", "tasks[1].depends_on[0]", { tasks: [llm(), tool({ key: "k", ms: 0 }, { depends_on: [`plan${c}`] })] }),
    dag("tool", "tasks[0].tool", { tasks: [tool({ key: "k", ms: 0 }, { tool: `sleep${c}` })] }),
    dag("args value", "tasks[1].args.key", { tasks: [llm(), tool({ key: `k${c}`, ms: 0 })] }),
    dag("args key", `tasks[0].args.k${shown}`, { tasks: [tool({ key: "k", ms: 0, [`k${c}`]: 1 })] }),
    dag("nested args value", "tasks[0].args.deep.list[0]", { tasks: [tool({ key: "k", ms: 0, deep: { list: [`v${c}`] } })] }),
    decide("approve"),
    decide("reject"),
  ];
}

describe.each(storeKinds)("on %s", (kind) => {
  let fx: ApiFixture;
  let app: FastifyInstance;
  let grpc: GrpcTestClient;
  let approvalId: string;
  let stopTee: (() => void) | undefined;
  const logLines: { level: string; message?: string }[] = [];

  const counts = async () =>
    (
      await fx.store.db.query<Record<string, number>>(
        `SELECT (SELECT count(*)::int FROM agents) AS agents, (SELECT count(*)::int FROM dags) AS dags,
                (SELECT count(*)::int FROM api_keys) AS api_keys, (SELECT count(*)::int FROM approvals WHERE status <> 'pending') AS decided`,
      )
    ).rows[0];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) logLines.push(JSON.parse(line) as { level: string });
        done();
      },
    });
    stopTee = teeLogs(sink);
    fx = await createApiFixture({ store: kind, service: "real", deps: { logger: createLogger({ service: "apex-api", level: "debug", destination: sink }) } });
    app = buildHttpServer(fx.deps);
    await app.ready();
    grpc = await connectGrpc(fx);
    approvalId = await fx.pendingApproval(fx.agentA.id);
  }, 60_000);

  afterAll(async () => {
    stopTee?.();
    await grpc?.close();
    await app?.close();
    await fx?.close();
  });

  describe.each(bad)("$label", ({ char, shown, message }) => {
    it("HTTP: every stored field -> 400 naming it, nothing written", async () => {
      for (const c of cases(fx, approvalId, char, shown)) {
        const before = await counts();
        const res = await app.inject({ method: c.http.method, url: c.http.url, headers: { authorization: `Bearer ${fx.tokens.admin}` }, payload: c.http.body });
        expect(res.statusCode, `${c.name}: ${res.body}`).toBe(400);
        const body = JSON.parse(res.body) as { error: { code: string; field?: string; message: string } };
        expect(body.error.code, c.name).toBe("invalid_argument");
        expect(body.error.field, c.name).toBe(c.field);
        expect(body.error.message, c.name).toMatch(message);
        expect(await counts(), c.name).toEqual(before);
      }
    });
  });

  // protobuf strings are UTF-8, which has no form for a lone surrogate: only NUL crosses gRPC (see below).
  it("gRPC: NUL in every stored field -> INVALID_ARGUMENT naming it, nothing written", async () => {
    const { char, shown, message } = bad[0];
    for (const c of cases(fx, approvalId, char, shown)) {
      const before = await counts();
      const r = await grpc.unary(c.grpc.method, c.grpc.request, grpc.metadataFor("admin"));
      expect(r.error?.code, `${c.name}: ${r.error?.message ?? "no error"}`).toBe(status.INVALID_ARGUMENT);
      expect(r.error?.metadata.get("apex-error-field"), c.name).toEqual([c.field]);
      expect(r.error?.details, c.name).toMatch(message);
      expect(await counts(), c.name).toEqual(before);
    }
  });

  it("gRPC: a lone surrogate cannot cross the wire (the client sends bytes the server reads as U+FFFD): stored as such, never INTERNAL", async () => {
    const name = `agent\ud800-${Math.random().toString(36).slice(2, 8)}`;
    const r = await grpc.unary("CreateAgent", { name }, grpc.metadataFor("admin"));
    expect(r.error?.message).toBeUndefined();
    const stored = (r.response as { name: string }).name;
    expect(stored).not.toBe(name);
    expect(stored).toMatch(/^agent\ufffd+-/);
  });

  it("the same requests without the bad character are accepted (the cases are otherwise valid)", async () => {
    for (const c of cases(fx, approvalId, "", "").filter((x) => !x.name.endsWith("reason"))) {
      const res = await app.inject({ method: c.http.method, url: c.http.url, headers: { authorization: `Bearer ${fx.tokens.admin}` }, payload: uniquely(c.http.body) });
      expect([200, 201], `${c.name}: ${res.body}`).toContain(res.statusCode);
    }
    const res = await app.inject({ method: "POST", url: `/v1/approvals/${approvalId}/reject`, headers: { authorization: `Bearer ${fx.tokens.admin}` }, payload: { reason: "fine" } });
    expect(res.statusCode, res.body).toBe(200);
  });

  it("valid pairs (emoji) and the escape character itself are accepted, stored as sent and read back unchanged", async () => {
    const auth = { authorization: `Bearer ${fx.tokens.admin}` };
    const input = { "key 😀": "x\ue0000000y 😀", [`\ue000d800`]: ["\ue000"] };
    const submitted = await app.inject({
      method: "POST",
      url: "/v1/dags",
      headers: auth,
      payload: { agent_id: fx.agentA.id, name: "emoji 😀 \ue000", input, tasks: [llm({ prompt: "😀 hello" })] },
    });
    expect(submitted.statusCode, submitted.body).toBe(201);
    const { id } = JSON.parse(submitted.body) as { id: string };
    const res = await app.inject({ method: "GET", url: `/v1/dags/${id}`, headers: auth });
    const dag = JSON.parse(res.body) as { name: string; input: unknown };
    expect(dag.name).toBe("emoji 😀 \ue000");
    expect(dag.input).toEqual(input);
  });

  it("no request above logged at ERROR (the log was captured)", () => {
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.filter((l) => l.level === "ERROR" || l.level === "FATAL")).toEqual([]);
  });
});

/** Agent names are unique: give each accepted agent its own. */
function uniquely(body: Record<string, unknown>): Record<string, unknown> {
  return "role" in body || "tasks" in body ? body : { ...body, name: `${String(body.name)}-${Math.random().toString(36).slice(2, 8)}` };
}
