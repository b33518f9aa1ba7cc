/**
 * What the operator console reads from the API (issue 15), on Postgres and on PGlite with the real
 * service: GET /v1/me per role (key, sorted permissions, link templates when configured), the
 * usage report GET /v1/usage (period, totals, by agent and model, hour and day buckets, unknown
 * calls, agent-key scoping, bad periods naming the field) and the context approvals carry (DAG,
 * agent, submitting key), over HTTP and, for the new methods, over gRPC; and the checks of the
 * two link template variables at start.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { buildHttpServer } from "../src/api/http/server";
import { loadConfig } from "../src/config";
import { storeKinds } from "./helpers/db";
import { createApiFixture, type ApiFixture } from "./api-support/fixture";
import { connectGrpc, type GrpcTestClient } from "./api-support/grpc-client";

type Role = "admin" | "operator" | "viewer" | "agent";

/** Written from the role table of docs/security.md, not from src/auth/permissions.ts. */
const expectedPermissions: Record<Role, string[]> = {
  admin: ["agents:read", "agents:write", "api_keys:manage", "approvals:decide", "approvals:read", "budgets:write", "dags:cancel", "dags:read", "dags:submit"],
  operator: ["agents:read", "agents:write", "approvals:decide", "approvals:read", "budgets:write", "dags:cancel", "dags:read"],
  viewer: ["agents:read", "approvals:read", "dags:read"],
  agent: ["agents:read", "dags:read", "dags:submit"],
};
const keyNames: Record<Role, string> = { admin: "admin", operator: "operator", viewer: "viewer", agent: "agent-a" };

const links = {
  traceUrlTemplate: "http://localhost:16686/trace/{trace_id}",
  logsUrlTemplate: "http://localhost:3001/explore?dag={dag_id}&task={task_id}",
};

/** The seeded period: 2020-03-01 UTC, far from any usage the real worker records now. */
const t0 = Date.parse("2020-03-01T00:00:00.000Z");
const minute = 60_000;
const hour = 60 * minute;
const day = 24 * hour;
const at = (ms: number) => new Date(t0 + ms).toISOString();

interface UsageGroupBody {
  calls: number;
  unknown_calls?: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  cost_usd: number;
}
interface UsageBody {
  since: string;
  until: string;
  bucket: string;
  totals: UsageGroupBody;
  by_agent: (UsageGroupBody & { agent_id: string; agent_name: string })[];
  by_model: (UsageGroupBody & { model: string })[];
  series: { start: string; cost_usd: number; input_tokens: number; output_tokens: number }[];
}

describe.each(storeKinds)("on %s", (kind) => {
  let fx: ApiFixture;
  let app: FastifyInstance;
  let bare: FastifyInstance;
  let grpc: GrpcTestClient;

  const get = async (url: string, caller: Role | "anonymous" | "revoked", server = app) => {
    const token = fx.tokens[caller];
    const res = await server.inject({ method: "GET", url, headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.statusCode, body: JSON.parse(res.body) as Record<string, unknown> };
  };
  const usage = async (query: string, caller: Role = "admin") => {
    const res = await get(`/v1/usage${query}`, caller);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as unknown as UsageBody;
  };
  const errorOf = (body: Record<string, unknown>) => body.error as { code: string; field?: string; message: string };

  async function seedUsage(dagId: string, agentId: string, row: { model: string; atMs: number; tokens?: [number, number, number]; cost?: number }) {
    const known = row.tokens !== undefined;
    await fx.store.db.query(
      `INSERT INTO usage (dag_id, task_id, agent_id, attempt, provider, model, input_tokens, output_tokens, cached_tokens, cost_usd,
                          price_version, unknown, created_at)
       VALUES ($1, 't1', $2, 1, split_part($3, '/', 1), $3, $4, $5, $6, $7, $8, $9, $10)`,
      [dagId, agentId, row.model, row.tokens?.[0] ?? null, row.tokens?.[1] ?? null, row.tokens?.[2] ?? null, row.cost ?? null, known ? "test" : "unknown", !known, at(row.atMs)],
    );
  }

  beforeAll(async () => {
    fx = await createApiFixture({ store: kind, service: "real", deps: { links } });
    app = buildHttpServer(fx.deps);
    bare = buildHttpServer({ ...fx.deps, links: undefined });
    await Promise.all([app.ready(), bare.ready()]);
    grpc = await connectGrpc(fx);

    const [dagA, dagB] = await Promise.all([fx.runningDag(fx.agentA.id), fx.runningDag(fx.agentB.id)]);
    // In the period [t0, t0 + 24h):
    await seedUsage(dagA, fx.agentA.id, { model: "local/echo", atMs: 10 * minute, tokens: [100, 50, 10], cost: 0.5 });
    await seedUsage(dagA, fx.agentA.id, { model: "openai/gpt-4o-mini", atMs: 70 * minute, tokens: [200, 20, 0], cost: 1.25 });
    await seedUsage(dagB, fx.agentB.id, { model: "local/echo", atMs: 75 * minute, tokens: [10, 5, 0], cost: 0.25 });
    // A call whose worker died in flight: counted, no counts.
    await seedUsage(dagA, fx.agentA.id, { model: "openai/gpt-4o-mini", atMs: 80 * minute });
    // Just outside it, on both sides (since inclusive, until exclusive).
    await seedUsage(dagA, fx.agentA.id, { model: "local/echo", atMs: -1, tokens: [1, 1, 0], cost: 100 });
    await seedUsage(dagA, fx.agentA.id, { model: "local/echo", atMs: day, tokens: [1000, 1000, 0], cost: 100 });
  });

  afterAll(async () => {
    await grpc?.close();
    await app?.close();
    await bare?.close();
    await fx?.close();
  });

  describe("GET /v1/me", () => {
    it.each(["admin", "operator", "viewer", "agent"] as const)("answers %s with its key, sorted permissions and the link templates", async (role) => {
      const { status, body } = await get("/v1/me", role);
      expect(status).toBe(200);
      expect(body).toEqual({
        key: {
          id: fx.keyIds[role],
          name: keyNames[role],
          role,
          ...(role === "agent" ? { agent_id: fx.agentA.id } : {}),
          prefix: fx.tokens[role]!.slice(0, 12),
        },
        permissions: expectedPermissions[role],
        links: { trace_url_template: links.traceUrlTemplate, logs_url_template: links.logsUrlTemplate },
      });
      expect(JSON.stringify(body)).not.toContain(fx.tokens[role]);
    });

    it("has no links when none are configured", async () => {
      const { status, body } = await get("/v1/me", "viewer", bare);
      expect(status).toBe(200);
      expect(body.links).toEqual({});
    });

    it.each(["anonymous", "revoked"] as const)("refuses a %s caller", async (caller) => {
      const { status, body } = await get("/v1/me", caller);
      expect(status).toBe(401);
      expect(errorOf(body).code).toBe("unauthenticated");
    });

    it("refuses query parameters it does not know, naming them", async () => {
      const { status, body } = await get("/v1/me?debug=1", "admin");
      expect(status).toBe(400);
      expect(errorOf(body).message).toContain("debug");
    });

    it("over gRPC, GetMe says the same", async () => {
      const { error, response } = await grpc.unary("GetMe", {}, grpc.metadataFor("agent"));
      expect(error).toBeUndefined();
      expect(response).toEqual({
        key: { id: fx.keyIds.agent, name: "agent-a", role: "agent", agent_id: fx.agentA.id, prefix: fx.tokens.agent!.slice(0, 12) },
        permissions: expectedPermissions.agent,
        links: { trace_url_template: links.traceUrlTemplate, logs_url_template: links.logsUrlTemplate },
      });
    });
  });

  describe("GET /v1/usage", () => {
    const day1 = `?since=${at(0)}&until=${at(day)}`;

    it("sums the period's rows (since inclusive, until exclusive) in total, by agent and by model, most expensive first", async () => {
      const r = await usage(day1);
      expect(r.since).toBe(at(0));
      expect(r.until).toBe(at(day));
      expect(r.totals).toEqual({ calls: 4, unknown_calls: 1, input_tokens: 310, output_tokens: 75, cached_tokens: 10, cost_usd: 2 });
      expect(r.by_agent).toEqual([
        { agent_id: fx.agentA.id, agent_name: fx.agentA.name, calls: 3, unknown_calls: 1, input_tokens: 300, output_tokens: 70, cached_tokens: 10, cost_usd: 1.75 },
        { agent_id: fx.agentB.id, agent_name: fx.agentB.name, calls: 1, input_tokens: 10, output_tokens: 5, cached_tokens: 0, cost_usd: 0.25 },
      ]);
      expect(r.by_model).toEqual([
        { model: "openai/gpt-4o-mini", calls: 2, unknown_calls: 1, input_tokens: 200, output_tokens: 20, cached_tokens: 0, cost_usd: 1.25 },
        { model: "local/echo", calls: 2, input_tokens: 110, output_tokens: 55, cached_tokens: 10, cost_usd: 0.75 },
      ]);
    });

    it("buckets by hour up to 48 hours, oldest first, only buckets with usage", async () => {
      for (const until of [at(day), at(2 * day)]) {
        const r = await usage(`?since=${at(0)}&until=${until}`);
        expect(r.bucket).toBe("hour");
        expect(r.series).toEqual([
          ...[
            { start: at(0), cost_usd: 0.5, input_tokens: 100, output_tokens: 50 },
            { start: at(hour), cost_usd: 1.5, input_tokens: 210, output_tokens: 25 },
          ],
          ...(until === at(2 * day) ? [{ start: at(day), cost_usd: 100, input_tokens: 1000, output_tokens: 1000 }] : []),
        ]);
      }
    });

    it("buckets by UTC day beyond 48 hours", async () => {
      const r = await usage(`?since=${at(-day)}&until=${at(2 * day + 1)}`);
      expect(r.bucket).toBe("day");
      expect(r.series).toEqual([
        { start: at(-day), cost_usd: 100, input_tokens: 1, output_tokens: 1 },
        { start: at(0), cost_usd: 2, input_tokens: 310, output_tokens: 75 },
        { start: at(day), cost_usd: 100, input_tokens: 1000, output_tokens: 1000 },
      ]);
      expect(r.totals).toMatchObject({ calls: 6, cost_usd: 202 });
    });

    it("filters by agent", async () => {
      const r = await usage(`${day1}&agent_id=${fx.agentB.id}`, "viewer");
      expect(r.totals).toEqual({ calls: 1, input_tokens: 10, output_tokens: 5, cached_tokens: 0, cost_usd: 0.25 });
      expect(r.by_agent.map((a) => a.agent_id)).toEqual([fx.agentB.id]);
      expect(r.by_model.map((m) => m.model)).toEqual(["local/echo"]);
    });

    it("scopes an agent key to its own agent; another agent's id reports nothing", async () => {
      const own = await usage(day1, "agent");
      expect(own.totals).toMatchObject({ calls: 3, cost_usd: 1.75 });
      expect(own.by_agent.map((a) => a.agent_id)).toEqual([fx.agentA.id]);
      const other = await usage(`${day1}&agent_id=${fx.agentB.id}`, "agent");
      expect(other).toMatchObject({ since: at(0), until: at(day), bucket: "hour", by_agent: [], by_model: [], series: [] });
      expect(other.totals).toEqual({ calls: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 0 });
    });

    it("an empty period reports zeros", async () => {
      const r = await usage(`?since=${at(-10 * day)}&until=${at(-9 * day)}`);
      expect(r).toMatchObject({ totals: { calls: 0, cost_usd: 0 }, by_agent: [], by_model: [], series: [] });
    });

    it("defaults to the 24 hours before now", async () => {
      const before = Date.now();
      const r = await usage("");
      const until = Date.parse(r.until);
      expect(until).toBeGreaterThanOrEqual(before);
      expect(until).toBeLessThanOrEqual(Date.now());
      expect(until - Date.parse(r.since)).toBe(day);
      expect(r.bucket).toBe("hour");
    });

    it("with only until, covers the 24 hours before it", async () => {
      const r = await usage(`?until=${at(day)}`);
      expect(r.since).toBe(at(0));
      expect(r.totals.cost_usd).toBe(2);
    });

    it.each([
      ["since is not a timestamp", "?since=yesterday", "since"],
      ["since without a time zone", "?since=2020-03-01T00:00:00", "since"],
      ["until is not a timestamp", "?until=2020-13-01T00:00:00Z", "until"],
      ["until before since", `?since=${at(day)}&until=${at(0)}`, "until"],
      ["until equal to since", `?since=${at(0)}&until=${at(0)}`, "until"],
      ["since in the future, until defaulted", `?since=${new Date(Date.now() + day).toISOString()}`, "since"],
      ["a period over 400 days", `?since=${at(-401 * day)}&until=${at(0)}`, "since"],
      ["agent_id not a UUID", "?agent_id=agent-a", "agent_id"],
      ["an unknown parameter", "?model=local/echo", undefined],
    ])("400 when %s, naming the field", async (_case, query, field) => {
      const { status, body } = await get(`/v1/usage${query}`, "admin");
      expect(status, JSON.stringify(body)).toBe(400);
      expect(errorOf(body).code).toBe("invalid_argument");
      if (field) expect(errorOf(body).field).toBe(field);
      else expect(errorOf(body).message).toContain("model");
    });

    it("400 days exactly is accepted", async () => {
      const r = await usage(`?since=${at(-400 * day)}&until=${at(0)}`);
      expect(r.bucket).toBe("day");
      expect(r.totals).toMatchObject({ calls: 1, cost_usd: 100 });
    });

    it("over gRPC, GetUsage answers the same report", async () => {
      const { error, response } = await grpc.unary("GetUsage", { since: at(0), until: at(day) }, grpc.metadataFor("operator"));
      expect(error).toBeUndefined();
      expect(response).toEqual(await usage(`?since=${at(0)}&until=${at(day)}`, "operator"));
      const bad = await grpc.unary("GetUsage", { since: "soon" }, grpc.metadataFor("operator"));
      expect(bad.error?.metadata.get("apex-error-field")).toEqual(["since"]);
    });
  });

  describe("approvals carry their context", () => {
    let dagId: string;
    let approvalId: string;

    beforeAll(async () => {
      const res = await app.inject({
        method: "POST",
        url: "/v1/dags",
        headers: { authorization: `Bearer ${fx.tokens.agent}` },
        payload: { agent_id: fx.agentA.id, name: "ship it", input: {}, tasks: [{ id: "t1", kind: "tool", tool: "deploy", args: { target: "staging" } }] },
      });
      expect(res.statusCode, res.body).toBe(201);
      dagId = (JSON.parse(res.body) as { id: string }).id;
      const deadline = Date.now() + 15_000;
      while ((await fx.service.getDag(dagId)).status !== "awaiting_approval") {
        if (Date.now() > deadline) throw new Error(`DAG ${dagId} never asked for approval`);
        await new Promise((r) => setTimeout(r, 20));
      }
      approvalId = (await fx.service.listApprovals({ status: "pending" })).find((a) => a.dagId === dagId)!.id;
    });

    it("GET /v1/approvals names the DAG, its agent and the key that submitted it", async () => {
      const { status, body } = await get("/v1/approvals?status=pending", "viewer");
      expect(status).toBe(200);
      const approval = (body.approvals as Record<string, unknown>[]).find((a) => a.id === approvalId);
      expect(approval).toMatchObject({
        dag_id: dagId,
        tool: "deploy",
        args: { target: "staging" },
        dag_name: "ship it",
        agent_id: fx.agentA.id,
        agent_name: fx.agentA.name,
        submitted_by: fx.keyIds.agent,
        submitted_by_name: "agent-a",
      });
    });

    it("a DAG submitted by something that is not a key has no submitter name", async () => {
      const other = await fx.pendingApproval(fx.agentB.id);
      const { body } = await get("/v1/approvals", "viewer");
      const approval = (body.approvals as Record<string, unknown>[]).find((a) => a.id === other)!;
      expect(approval).toMatchObject({ dag_name: "fixture", agent_id: fx.agentB.id, agent_name: fx.agentB.name, submitted_by: "fixture-seeder" });
      expect(approval).not.toHaveProperty("submitted_by_name");
    });

    it("the decision's answer carries the same context, over HTTP and gRPC", async () => {
      const res = await app.inject({
        method: "POST",
        url: `/v1/approvals/${approvalId}/approve`,
        headers: { authorization: `Bearer ${fx.tokens.operator}` },
        payload: { reason: "staging is fine" },
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({
        id: approvalId,
        status: "approved",
        decided_by: fx.keyIds.operator,
        dag_name: "ship it",
        agent_id: fx.agentA.id,
        agent_name: fx.agentA.name,
        submitted_by: fx.keyIds.agent,
        submitted_by_name: "agent-a",
      });
      const next = await fx.pendingApproval(fx.agentA.id);
      const { error, response } = await grpc.unary("DecideApproval", { id: next, decision: "reject", reason: "no" }, grpc.metadataFor("admin"));
      expect(error).toBeUndefined();
      expect(response).toMatchObject({ id: next, status: "rejected", dag_name: "fixture", agent_id: fx.agentA.id, agent_name: fx.agentA.name, submitted_by: "fixture-seeder" });
    });
  });
});

describe("link template configuration", () => {
  it("reads both templates as written", () => {
    const config = loadConfig({ APEX_TRACE_URL_TEMPLATE: links.traceUrlTemplate, APEX_LOGS_URL_TEMPLATE: ` ${links.logsUrlTemplate} ` });
    expect(config).toMatchObject(links);
    expect(loadConfig({})).toMatchObject({ traceUrlTemplate: undefined, logsUrlTemplate: undefined });
  });

  it.each([
    ["APEX_TRACE_URL_TEMPLATE", "http://localhost:16686/trace/", /APEX_TRACE_URL_TEMPLATE: expected the placeholder \{trace_id\}/],
    ["APEX_TRACE_URL_TEMPLATE", "localhost:16686/trace/{trace_id}", /APEX_TRACE_URL_TEMPLATE: expected an absolute http/],
    ["APEX_LOGS_URL_TEMPLATE", "ftp://grafana/{dag_id}", /APEX_LOGS_URL_TEMPLATE: expected an absolute http/],
    ["APEX_LOGS_URL_TEMPLATE", "/explore?dag={dag_id}", /APEX_LOGS_URL_TEMPLATE: expected an absolute http/],
  ])("%s=%s stops the start, naming the variable", (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });
});
