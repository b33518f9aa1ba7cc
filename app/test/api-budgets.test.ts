/**
 * The budget API (issue 16) over HTTP and gRPC, on Postgres and on PGlite, with the real service:
 * agents' and API keys' budgets set, read, replaced and removed; bad bodies refused naming the
 * field; who may do what; a DAG submitted with a budget (and an agent key kept at or below its
 * agent's limits); GET /v1/dags/:id showing the DAG's, its agent's and its key's budgets with their
 * spend. Spend is simulated in the tables the engine writes (a usage row, a budget window): the
 * engine's side is tested in budget-*.test.ts.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import type { FastifyInstance } from "fastify";
import { buildHttpServer } from "../src/api/http/server";
import type { BudgetJson } from "../src/api/schemas";
import { storeKinds } from "./helpers/db";
import { createApiFixture, type ApiFixture } from "./api-support/fixture";
import { connectGrpc, type GrpcTestClient } from "./api-support/grpc-client";

type Caller = "admin" | "operator" | "viewer" | "agent";

/** When the current UTC period ends, as the API reports it. */
function periodEnd(period: "hour" | "day" | "month", at = new Date()): string {
  const [y, mo, d, h] = [at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate(), at.getUTCHours()];
  const end = period === "hour" ? Date.UTC(y, mo, d, h + 1) : period === "day" ? Date.UTC(y, mo, d + 1) : Date.UTC(y, mo + 1, 1);
  return new Date(end).toISOString();
}

/** A budget with nothing spent or reserved. */
const untouched = (scope: string, scopeId: string, period: "total" | "hour" | "day" | "month", usd: number | null, tokens: number | null) => ({
  scope,
  scope_id: scopeId,
  period,
  limit_usd: usd,
  limit_tokens: tokens,
  spent_usd: 0,
  spent_tokens: 0,
  reserved_usd: 0,
  reserved_tokens: 0,
  remaining_usd: usd,
  remaining_tokens: tokens,
  resets_at: period === "total" ? null : expect.any(String),
});

/** A DAG that stays running without calling an LLM, so nothing but the test touches its budgets. */
const sleepingDag = (agentId: string, budget?: unknown) => ({
  agent_id: agentId,
  name: "budgeted",
  tasks: [{ id: "t1", kind: "tool", tool: "sleep", args: { key: randomUUID(), ms: 60_000 } }],
  ...(budget === undefined ? {} : { budget }),
});

describe.each(storeKinds)("budget API on %s", (kind) => {
  let fx: ApiFixture;
  let app: FastifyInstance;
  let grpc: GrpcTestClient;

  beforeAll(async () => {
    fx = await createApiFixture({ store: kind, service: "real" });
    app = buildHttpServer(fx.deps);
    await app.ready();
    grpc = await connectGrpc(fx);
  });

  afterAll(async () => {
    await grpc?.close();
    await app?.close();
    await fx?.close();
  });

  async function http(method: "GET" | "PUT" | "POST", url: string, caller: Caller, body?: unknown) {
    const res = await app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${fx.tokens[caller]}` },
      ...(body === undefined ? {} : { payload: body as object }),
    });
    return { status: res.statusCode, json: JSON.parse(res.body) as Record<string, unknown> & { budgets: BudgetJson[]; error: { code: string; message: string; field?: string } } };
  }

  const newAgent = async () => (await fx.service.createAgent({ name: `budget-${randomUUID().slice(0, 8)}` })).id;

  describe("an agent's budgets over HTTP", () => {
    it("are set, read, replaced and removed as a whole set, in period order with their resets", async () => {
      const id = await newAgent();
      expect(await http("GET", `/v1/agents/${id}/budget`, "viewer")).toMatchObject({ status: 200, json: { budgets: [] } });

      const before = new Date();
      const set = await http("PUT", `/v1/agents/${id}/budget`, "operator", { day: { usd: 5 }, month: { usd: 100.25, tokens: 2_000_000 } });
      const after = new Date();
      expect(set.status, JSON.stringify(set.json)).toBe(200);
      expect(set.json.budgets).toEqual([untouched("agent", id, "month", 100.25, 2_000_000), untouched("agent", id, "day", 5, null)]);
      expect([periodEnd("month", before), periodEnd("month", after)]).toContain(set.json.budgets[0]!.resets_at);
      expect([periodEnd("day", before), periodEnd("day", after)]).toContain(set.json.budgets[1]!.resets_at);
      expect((await http("GET", `/v1/agents/${id}/budget`, "viewer")).json.budgets).toEqual(set.json.budgets);

      // Periods left out are removed; the one given is replaced.
      const replaced = await http("PUT", `/v1/agents/${id}/budget`, "admin", { total: { tokens: 500 }, hour: { usd: 0.000001 } });
      expect(replaced.json.budgets).toEqual([untouched("agent", id, "total", null, 500), untouched("agent", id, "hour", 0.000001, null)]);
      expect(await fx.service.ownerBudgets({ scope: "agent", id })).toEqual([
        expect.objectContaining({ period: "total", limitMicroUsd: null, limitTokens: 500 }),
        expect.objectContaining({ period: "hour", limitMicroUsd: 1, limitTokens: null }),
      ]);

      expect(await http("PUT", `/v1/agents/${id}/budget`, "admin", {})).toMatchObject({ status: 200, json: { budgets: [] } });
      expect(await fx.service.ownerBudgets({ scope: "agent", id })).toEqual([]);
    });

    it("an agent key reads its own agent's budgets, and another agent's is not found", async () => {
      await fx.service.replaceOwnerBudgets({ scope: "agent", id: fx.agentB.id }, { day: { microUsd: 1_000_000 } }, "test");
      const own = await http("GET", `/v1/agents/${fx.agentA.id}/budget`, "agent");
      expect(own.status).toBe(200);
      expect(own.json.budgets.every((b) => b.scope_id === fx.agentA.id)).toBe(true);
      const other = await http("GET", `/v1/agents/${fx.agentB.id}/budget`, "agent");
      expect(other).toMatchObject({ status: 404, json: { error: { code: "not_found", field: "id" } } });
    });

    it("refuses viewers and agent keys (403) and changes nothing", async () => {
      const id = await newAgent();
      await fx.service.replaceOwnerBudgets({ scope: "agent", id }, { day: { microUsd: 5_000_000 } }, "test");
      for (const caller of ["viewer", "agent"] as const) {
        const res = await http("PUT", `/v1/agents/${id}/budget`, caller, {});
        expect(res).toMatchObject({ status: 403, json: { error: { code: "permission_denied", message: "role " + caller + " lacks permission budgets:write" } } });
      }
      const ownByAgentKey = await http("PUT", `/v1/agents/${fx.agentA.id}/budget`, "agent", { day: { usd: 1000 } });
      expect(ownByAgentKey.status).toBe(403);
      expect(await fx.service.ownerBudgets({ scope: "agent", id })).toEqual([expect.objectContaining({ period: "day", limitMicroUsd: 5_000_000 })]);
    });

    it("an unknown agent is 404 on both methods", async () => {
      const id = randomUUID();
      expect(await http("GET", `/v1/agents/${id}/budget`, "admin")).toMatchObject({ status: 404, json: { error: { code: "not_found", field: "id" } } });
      expect(await http("PUT", `/v1/agents/${id}/budget`, "admin", { day: { usd: 1 } })).toMatchObject({ status: 404, json: { error: { field: "id" } } });
      const { rows } = await fx.store.db.query("SELECT 1 FROM budgets WHERE scope_id = $1", [id]);
      expect(rows).toEqual([]);
    });

    it.each([
      ["7 decimal places", { day: { usd: 0.1234567 } }, "day.usd", /at most 6 decimal places/],
      ["a negative amount", { day: { usd: -1 } }, "day.usd", /./],
      ["fractional tokens", { month: { tokens: 1.5 } }, "month.tokens", /./],
      ["an empty period", { day: {} }, "day", /set usd, tokens or both/],
      ["an unknown period", { week: { usd: 1 } }, "week", /./],
      ["an unknown limit field", { total: { usd: 1, eur: 1 } }, "total.eur", /./],
      ["usd as a string", { hour: { usd: "5" } }, "hour.usd", /./],
    ])("400 naming the field for %s", async (_name, body, field, message) => {
      const id = await newAgent();
      const res = await http("PUT", `/v1/agents/${id}/budget`, "admin", body);
      expect(res.status, JSON.stringify(res.json)).toBe(400);
      expect(res.json.error).toMatchObject({ code: "invalid_argument", field });
      expect(res.json.error.message).toMatch(message);
      expect(res.json.error.message.startsWith(`${field}: `)).toBe(true);
    });

    it("400 for a missing body (it would remove every budget) and for an id that is not a UUID", async () => {
      const id = await newAgent();
      await fx.service.replaceOwnerBudgets({ scope: "agent", id }, { day: { microUsd: 5_000_000 } }, "test");
      expect(await http("PUT", `/v1/agents/${id}/budget`, "admin")).toMatchObject({ status: 400, json: { error: { field: "body" } } });
      expect(await fx.service.ownerBudgets({ scope: "agent", id })).toHaveLength(1);
      expect(await http("GET", "/v1/agents/not-a-uuid/budget", "admin")).toMatchObject({ status: 400, json: { error: { field: "id" } } });
    });
  });

  describe("an API key's budgets over HTTP", () => {
    it("are set, read, replaced and removed by admins and operators; others get 403", async () => {
      const { key } = await fx.keys.create({ name: `budgeted-${randomUUID()}`, role: "agent", agentId: fx.agentB.id });
      const url = `/v1/api-keys/${key.id}/budget`;
      expect(await http("GET", url, "operator")).toMatchObject({ status: 200, json: { budgets: [] } });
      const set = await http("PUT", url, "operator", { total: { usd: 20 }, hour: { usd: 1, tokens: 10_000 } });
      expect(set.json.budgets).toEqual([untouched("api_key", key.id, "total", 20, null), untouched("api_key", key.id, "hour", 1, 10_000)]);
      expect((await http("GET", url, "admin")).json.budgets).toEqual(set.json.budgets);
      expect((await http("PUT", url, "admin", { day: { tokens: 7 } })).json.budgets).toEqual([untouched("api_key", key.id, "day", null, 7)]);
      for (const caller of ["viewer", "agent"] as const) {
        expect((await http("GET", url, caller)).status).toBe(403);
        expect((await http("PUT", url, caller, {})).status).toBe(403);
      }
      expect(await http("PUT", url, "admin", {})).toMatchObject({ status: 200, json: { budgets: [] } });
    });

    it("an unknown key is 404; a revoked key keeps its budgets", async () => {
      const unknown = randomUUID();
      expect(await http("GET", `/v1/api-keys/${unknown}/budget`, "admin")).toMatchObject({ status: 404, json: { error: { code: "not_found", field: "id" } } });
      expect(await http("PUT", `/v1/api-keys/${unknown}/budget`, "operator", { total: { usd: 1 } })).toMatchObject({ status: 404 });
      const { key } = await fx.keys.create({ name: `revoked-${randomUUID()}`, role: "viewer" });
      await fx.keys.revoke(key.id);
      expect((await http("PUT", `/v1/api-keys/${key.id}/budget`, "admin", { total: { usd: 1 } })).json.budgets).toEqual([
        untouched("api_key", key.id, "total", 1, null),
      ]);
    });
  });

  describe("submitting a DAG with a budget", () => {
    it("is stored with its action, and GET /v1/dags/:id shows it; on_exhausted alone sets no limit", async () => {
      const agentId = await newAgent();
      const res = await http("POST", "/v1/dags", "admin", sleepingDag(agentId, { usd: 2.5, tokens: 1_000, on_exhausted: "wait_for_reset" }));
      expect(res.status, JSON.stringify(res.json)).toBe(201);
      const dag = await http("GET", `/v1/dags/${String(res.json.id)}`, "viewer");
      expect(dag.json.budget).toEqual({ on_exhausted: "wait_for_reset", budgets: [untouched("dag", String(res.json.id), "total", 2.5, 1_000)] });

      const actionOnly = await http("POST", "/v1/dags", "admin", sleepingDag(agentId, { on_exhausted: "wait_for_reset" }));
      expect(actionOnly.status).toBe(201);
      expect((await http("GET", `/v1/dags/${String(actionOnly.json.id)}`, "admin")).json.budget).toEqual({ on_exhausted: "wait_for_reset", budgets: [] });

      const none = await http("POST", "/v1/dags", "admin", sleepingDag(agentId));
      expect((await http("GET", `/v1/dags/${String(none.json.id)}`, "admin")).json.budget).toEqual({ on_exhausted: "fail", budgets: [] });
    });

    it.each([
      ["7 decimal places", { usd: 1.0000001 }, "budget.usd"],
      ["negative tokens", { tokens: -5 }, "budget.tokens"],
      ["an unknown action", { on_exhausted: "retry" }, "budget.on_exhausted"],
      ["an unknown field", { usd: 1, period: "day" }, "budget"],
      ["not an object", 5, "budget"],
    ])("400 naming the field for %s, and nothing is written", async (_name, budget, field) => {
      const agentId = await newAgent();
      const res = await http("POST", "/v1/dags", "admin", sleepingDag(agentId, budget));
      expect(res.status, JSON.stringify(res.json)).toBe(400);
      expect(res.json.error).toMatchObject({ code: "invalid_argument", field });
      const { rows } = await fx.store.db.query("SELECT 1 FROM dags WHERE agent_id = $1", [agentId]);
      expect(rows).toEqual([]);
    });

    it("an agent key may only lower its agent's budgets; an admin may set any", async () => {
      await fx.service.replaceOwnerBudgets(
        { scope: "agent", id: fx.agentA.id },
        { total: { microUsd: 50_000_000 }, day: { microUsd: 5_000_000, tokens: 10_000 } },
        "test",
      );
      try {
        const overUsd = await http("POST", "/v1/dags", "agent", sleepingDag(fx.agentA.id, { usd: 5.01 }));
        expect(overUsd).toMatchObject({ status: 400, json: { error: { code: "invalid_argument", field: "budget.usd" } } });
        expect(overUsd.json.error.message).toBe(
          "budget.usd: $5.010000 exceeds the agent's daily budget of $5.000000; a DAG budget may only lower its agent's",
        );
        const overTokens = await http("POST", "/v1/dags", "agent", sleepingDag(fx.agentA.id, { usd: 1, tokens: 10_001 }));
        expect(overTokens).toMatchObject({ status: 400, json: { error: { field: "budget.tokens" } } });
        expect(overTokens.json.error.message).toMatch(/^budget\.tokens: 10001 tokens exceeds the agent's daily budget of 10000 tokens;/);

        const atLimit = await http("POST", "/v1/dags", "agent", sleepingDag(fx.agentA.id, { usd: 5, tokens: 10_000 }));
        expect(atLimit.status, JSON.stringify(atLimit.json)).toBe(201);
        expect((await http("POST", "/v1/dags", "agent", sleepingDag(fx.agentA.id, { on_exhausted: "wait_for_reset" }))).status).toBe(201);
        const byAdmin = await http("POST", "/v1/dags", "admin", sleepingDag(fx.agentA.id, { usd: 500, tokens: 1_000_000 }));
        expect(byAdmin.status, JSON.stringify(byAdmin.json)).toBe(201);
      } finally {
        await fx.service.replaceOwnerBudgets({ scope: "agent", id: fx.agentA.id }, {}, "test");
      }
    });
  });

  describe("GET /v1/dags/:id shows every budget that applies, with its spend", () => {
    it("the DAG's own, its agent's and its submitting key's, each in its current period", async () => {
      const agentId = await newAgent();
      const { key, secret } = await fx.keys.create({ name: `submitter-${randomUUID()}`, role: "agent", agentId });
      await http("PUT", `/v1/agents/${agentId}/budget`, "admin", { month: { usd: 10, tokens: 100_000 } });
      await http("PUT", `/v1/api-keys/${key.id}/budget`, "admin", { total: { usd: 3 } });
      const submitted = await app.inject({
        method: "POST",
        url: "/v1/dags",
        headers: { authorization: `Bearer ${secret}` },
        payload: sleepingDag(agentId, { usd: 1, tokens: 5_000 }),
      });
      expect(submitted.statusCode, submitted.body).toBe(201);
      const dagId = (JSON.parse(submitted.body) as { id: string }).id;

      // One answered call recorded (the DAG's budget, with no window yet, counts it from the usage
      // table), the key's total window (made when its budget was set) with that call settled, and
      // the agent's month window as the engine keeps it: that call settled plus one call in flight.
      await fx.store.db.query(
        `INSERT INTO usage (dag_id, task_id, agent_id, attempt, provider, model, input_tokens, output_tokens, cost_usd, price_version)
         VALUES ($1, 't1', $2, 1, 'openai', 'openai/gpt-4.1', 300, 120, 0.25, 'test')`,
        [dagId, agentId],
      );
      await fx.store.db.query(
        `UPDATE budget_windows SET spent_micro_usd = 250000, spent_tokens = 420
          WHERE budget_id IN (SELECT id FROM budgets WHERE scope = 'api_key' AND scope_id = $1)`,
        [key.id],
      );
      await fx.store.db.query(
        `INSERT INTO budget_windows (budget_id, starts_at, spent_micro_usd, spent_tokens, reserved_micro_usd, reserved_tokens)
         SELECT id, apex_budget_window_start(period, now()), 250000, 420, 1500000, 2000 FROM budgets
          WHERE scope = 'agent' AND scope_id = $1`,
        [agentId],
      );

      const dag = await http("GET", `/v1/dags/${dagId}`, "viewer");
      expect(dag.status).toBe(200);
      expect(dag.json.budget).toEqual({
        on_exhausted: "fail",
        budgets: [
          { ...untouched("dag", dagId, "total", 1, 5_000), spent_usd: 0.25, spent_tokens: 420, remaining_usd: 0.75, remaining_tokens: 4_580 },
          {
            ...untouched("agent", agentId, "month", 10, 100_000),
            spent_usd: 0.25,
            spent_tokens: 420,
            reserved_usd: 1.5,
            reserved_tokens: 2_000,
            remaining_usd: 8.25,
            remaining_tokens: 97_580,
            resets_at: expect.any(String),
          },
          { ...untouched("api_key", key.id, "total", 3, null), spent_usd: 0.25, spent_tokens: 420, remaining_usd: 2.75 },
        ],
      });
      expect(dag.json.budget).toMatchObject({ budgets: [{}, { resets_at: expect.stringMatching(/^\d{4}-\d\d-01T00:00:00\.000Z$/) }, {}] });

      // The owners' endpoints report the same windows.
      expect((await http("GET", `/v1/agents/${agentId}/budget`, "viewer")).json.budgets).toEqual([(dag.json.budget as { budgets: BudgetJson[] }).budgets[1]]);
      expect((await http("GET", `/v1/api-keys/${key.id}/budget`, "operator")).json.budgets).toEqual([(dag.json.budget as { budgets: BudgetJson[] }).budgets[2]]);

      // gRPC GetDag: the same budgets; unset limits and remainders are absent, not null.
      const { error, response } = await grpc.unary("GetDag", { id: dagId }, grpc.metadataFor("viewer"));
      expect(error).toBeUndefined();
      const budgets = (response as { budget: { on_exhausted: string; budgets: Record<string, unknown>[] } }).budget;
      expect(budgets.on_exhausted).toBe("fail");
      expect(budgets.budgets.map((b) => [b.scope, b.period, b.limit_usd, b.spent_usd, b.reserved_usd, b.remaining_usd])).toEqual([
        ["dag", "total", 1, 0.25, 0, 0.75],
        ["agent", "month", 10, 0.25, 1.5, 8.25],
        ["api_key", "total", 3, 0.25, 0, 2.75],
      ]);
      expect(budgets.budgets[2]).not.toHaveProperty("limit_tokens");
      expect(budgets.budgets[2]).not.toHaveProperty("resets_at");
    });
  });

  describe("over gRPC", () => {
    it("SetAgentBudget / GetAgentBudget replace and read the whole set", async () => {
      const id = await newAgent();
      const before = new Date();
      const set = await grpc.unary("SetAgentBudget", { id, day: { usd: 5 }, total: { tokens: 9_000 } }, grpc.metadataFor("operator"));
      const after = new Date();
      expect(set.error).toBeUndefined();
      const budgets = (set.response as { budgets: Record<string, unknown>[] }).budgets;
      expect(budgets.map((b) => [b.scope, b.scope_id, b.period, b.limit_usd, b.limit_tokens, b.remaining_usd, b.remaining_tokens])).toEqual([
        ["agent", id, "total", undefined, 9_000, undefined, 9_000],
        ["agent", id, "day", 5, undefined, 5, undefined],
      ]);
      expect([periodEnd("day", before), periodEnd("day", after)]).toContain(budgets[1]!.resets_at);
      const read = await grpc.unary("GetAgentBudget", { id }, grpc.metadataFor("agent"));
      expect(read.error?.code).toBe(status.NOT_FOUND);
      expect((await grpc.unary("GetAgentBudget", { id }, grpc.metadataFor("viewer"))).response).toEqual(set.response);
      expect((await grpc.unary("SetAgentBudget", { id }, grpc.metadataFor("admin"))).response).toEqual({ budgets: [] });
    });

    it("SetKeyBudget names the invalid field; viewers are refused", async () => {
      const { key } = await fx.keys.create({ name: `grpc-${randomUUID()}`, role: "viewer" });
      for (const [request, field] of [
        [{ id: key.id, day: { usd: 0.1234567 } }, "day.usd"],
        [{ id: key.id, day: {} }, "day"],
        [{ id: key.id, month: { tokens: -1 } }, "month.tokens"],
      ] as const) {
        const { error } = await grpc.unary("SetKeyBudget", request, grpc.metadataFor("admin"));
        expect(error?.code).toBe(status.INVALID_ARGUMENT);
        expect(error?.metadata.get("apex-error-field")).toEqual([field]);
        expect(error?.details.startsWith(`${field}: `)).toBe(true);
      }
      expect((await grpc.unary("SetKeyBudget", { id: key.id, total: { usd: 1 } }, grpc.metadataFor("viewer"))).error?.code).toBe(status.PERMISSION_DENIED);
      expect((await grpc.unary("GetKeyBudget", { id: randomUUID() }, grpc.metadataFor("operator"))).error?.code).toBe(status.NOT_FOUND);
      expect(await fx.service.ownerBudgets({ scope: "api_key", id: key.id })).toEqual([]);
    });

    it("SubmitDag takes a budget; an agent key over its agent's limit is refused on budget.usd", async () => {
      await fx.service.replaceOwnerBudgets({ scope: "agent", id: fx.agentA.id }, { month: { microUsd: 2_000_000 } }, "test");
      try {
        const request = (budget: unknown) => ({
          agent_id: fx.agentA.id,
          name: "grpc-budget",
          tasks: [{ id: "t1", kind: "tool", tool: "sleep", args: { fields: { key: { stringValue: randomUUID() }, ms: { numberValue: 60_000 } } } }],
          budget,
        });
        const over = await grpc.unary("SubmitDag", request({ usd: 3 }), grpc.metadataFor("agent"));
        expect(over.error?.code).toBe(status.INVALID_ARGUMENT);
        expect(over.error?.metadata.get("apex-error-field")).toEqual(["budget.usd"]);
        expect(over.error?.details).toMatch(/exceeds the agent's monthly budget of \$2\.000000/);

        const ok = await grpc.unary("SubmitDag", request({ usd: 1.5, tokens: 800, on_exhausted: "wait_for_reset" }), grpc.metadataFor("agent"));
        expect(ok.error).toBeUndefined();
        const id = (ok.response as { id: string }).id;
        const dag = (await grpc.unary("GetDag", { id }, grpc.metadataFor("agent"))).response as {
          budget: { on_exhausted: string; budgets: Record<string, unknown>[] };
        };
        expect(dag.budget.on_exhausted).toBe("wait_for_reset");
        expect(dag.budget.budgets.map((b) => [b.scope, b.period, b.limit_usd, b.limit_tokens])).toEqual([
          ["dag", "total", 1.5, 800],
          ["agent", "month", 2, undefined],
        ]);
      } finally {
        await fx.service.replaceOwnerBudgets({ scope: "agent", id: fx.agentA.id }, {}, "test");
      }
    });
  });
});
