/**
 * GET /v1/dags and gRPC ListDags on PGlite and Postgres, with the real service and worker: DAG
 * summaries filtered by status, agent and creation time, keyset-paged in both sort orders with
 * nothing repeated or missed (ties on created_at, microseconds within one millisecond, DAGs
 * submitted while paging), agent keys scoped to their agent, 400s naming the parameter, gRPC
 * parity, the index the page query uses, and the route in the OpenAPI document.
 *
 * Expectations come from an oracle: the dags table read directly and sorted here.
 */
import { randomUUID } from "node:crypto";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildHttpServer } from "../src/api/http/server";
import { dagListLimits, dagListSql } from "../src/service/dag-list";
import type { DagStatus, Principal } from "../src/service/types";
import { createApiFixture, type ApiFixture, type Caller } from "./api-support/fixture";
import { connectGrpc, type GrpcTestClient } from "./api-support/grpc-client";
import { storeKinds } from "./helpers/db";

interface SummaryJson {
  id: string;
  agent_id: string;
  name: string;
  status: DagStatus;
  totals: { input_tokens: number; output_tokens: number; cached_tokens: number; cost_usd: number };
  trace_id?: string;
  created_at: string;
  finished_at?: string;
}
interface PageJson {
  dags: SummaryJson[];
  next_cursor?: string;
}
interface OracleRow {
  id: string;
  agent_id: string;
  status: DagStatus;
  /** created_at in UTC to the microsecond, fixed width, so strings sort as instants. */
  at: string;
}

const seeder: Principal = { keyId: "list-dags-seeder", role: "admin" };

/**
 * created_at of the seeded DAGs: three at one instant, two more at another (ties go by id), and
 * three within one millisecond (a JS Date could not tell them apart; the cursor must).
 */
const seededTimes = [
  "2026-03-01T10:00:00.000000Z",
  "2026-03-01T10:00:00.000000Z",
  "2026-03-01T10:00:00.000000Z",
  "2026-03-01T10:00:01.000100Z",
  "2026-03-01T10:00:01.000200Z",
  "2026-03-01T10:00:01.000300Z",
  "2026-03-01T10:00:02.500000Z",
  "2026-03-01T10:00:03.000000Z",
  "2026-03-01T10:00:03.000000Z",
  "2026-03-01T10:00:04.999999Z",
  "2026-03-01T10:00:05.000000Z",
  "2026-03-01T10:00:06.000000Z",
];

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

describe.each(storeKinds)("listing DAGs on %s", (kind) => {
  let fx: ApiFixture;
  let app: FastifyInstance;
  let grpc: GrpcTestClient;

  async function waitForStatus(id: string, wanted: DagStatus): Promise<void> {
    await vi.waitFor(
      async () => {
        const { status } = await fx.service.getDag(id);
        if (status !== wanted) throw new Error(`DAG ${id} is ${status}, waiting for ${wanted}`);
      },
      { timeout: 15_000, interval: 20 },
    );
  }

  /** One DAG per seeded time, alternating agents A and B, in four statuses; then created_at set exactly. */
  async function seed(): Promise<void> {
    const ids = await Promise.all(
      seededTimes.map(async (_at, i) => {
        const agent = i % 3 === 1 ? fx.agentB.id : fx.agentA.id;
        switch (i % 4) {
          case 0: {
            const tasks = [{ id: "say", kind: "llm", model: "local/echo", prompt: `seeded DAG ${i}` }];
            const { id } = await fx.service.submitDag({ agent_id: agent, name: `llm-${i}`, tasks }, seeder);
            await waitForStatus(id, "succeeded");
            return id;
          }
          case 1:
            return fx.runningDag(agent);
          case 2: {
            const id = await fx.runningDag(agent);
            await fx.service.cancelDag(id, undefined, seeder.keyId);
            return id;
          }
          default: {
            const approval = await fx.pendingApproval(agent);
            const { rows } = await fx.store.db.query<{ dag_id: string }>("SELECT dag_id FROM approvals WHERE id = $1", [approval]);
            return rows[0]!.dag_id;
          }
        }
      }),
    );
    for (const [i, id] of ids.entries()) {
      await fx.store.db.query("UPDATE dags SET created_at = $2::timestamptz WHERE id = $1", [id, seededTimes[i]]);
    }
  }

  beforeAll(async () => {
    fx = await createApiFixture({ store: kind });
    app = buildHttpServer(fx.deps);
    grpc = await connectGrpc(fx);
    await seed();
  });

  afterAll(async () => {
    await grpc?.close();
    await app?.close();
    await fx?.close();
  });

  async function oracle(keep: (r: OracleRow) => boolean = () => true, sort = "-created_at"): Promise<string[]> {
    const { rows } = await fx.store.db.query<OracleRow>(
      `SELECT id, agent_id, status, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at FROM dags`,
    );
    const ascending = rows.filter(keep).sort((a, b) => compare(a.at, b.at) || compare(a.id, b.id));
    return (sort === "created_at" ? ascending : ascending.reverse()).map((r) => r.id);
  }

  const headers = (caller: Caller) => ({ authorization: `Bearer ${fx.tokens[caller]}` });

  async function get(query: Record<string, string | number>, caller: Caller = "admin") {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString();
    const res = await app.inject({ method: "GET", url: `/v1/dags${qs ? `?${qs}` : ""}`, headers: headers(caller) });
    return { status: res.statusCode, body: JSON.parse(res.body) as PageJson & { error?: { code: string; message: string; field?: string } } };
  }

  /** Follows next_cursor to the end; returns each page's ids. */
  async function allPages(query: Record<string, string | number>, caller: Caller = "admin"): Promise<string[][]> {
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const { status, body } = await get({ ...query, ...(cursor ? { cursor } : {}) }, caller);
      expect(status, JSON.stringify(body)).toBe(200);
      pages.push(body.dags.map((d) => d.id));
      cursor = body.next_cursor;
      expect(pages.length).toBeLessThanOrEqual(seededTimes.length + 1);
    } while (cursor);
    return pages;
  }

  it("lists DAG summaries newest first by default, all in one page under the default limit", async () => {
    const { status, body } = await get({});
    expect(status).toBe(200);
    expect(body.next_cursor).toBeUndefined();
    expect(body.dags.map((d) => d.id)).toEqual(await oracle());
    for (const dag of body.dags) {
      expect(Object.keys(dag).sort()).toEqual(expect.arrayContaining(["agent_id", "created_at", "id", "name", "status", "totals"]));
      expect(dag).not.toHaveProperty("tasks");
      expect(dag).not.toHaveProperty("input");
    }
  });

  it("a summary agrees with GET /v1/dags/:id on status, totals, trace id and times", async () => {
    // Without a tracer provider (tests) DAGs get no trace context: give one DAG what tracing would store.
    const traceId = randomUUID().replaceAll("-", "");
    const [traced] = await oracle();
    await fx.store.db.query("UPDATE dags SET trace_context = $2::jsonb WHERE id = $1", [traced, JSON.stringify({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` })]);
    const { body } = await get({});
    expect(body.dags.find((d) => d.id === traced)?.trace_id).toBe(traceId);
    const withUsage = body.dags.filter((d) => d.totals.input_tokens > 0);
    expect(withUsage.length).toBeGreaterThan(0);
    for (const summary of body.dags) {
      const res = await app.inject({ method: "GET", url: `/v1/dags/${summary.id}`, headers: headers("admin") });
      const { id, agent_id, name, status, totals, trace_id, created_at, finished_at } = JSON.parse(res.body) as SummaryJson;
      expect(summary).toEqual({ id, agent_id, name, status, totals, trace_id, created_at, ...(finished_at ? { finished_at } : {}) });
    }
    expect(body.dags.filter((d) => d.status === "succeeded").every((d) => d.finished_at)).toBe(true);
    expect(body.dags.filter((d) => d.status === "running").some((d) => d.finished_at)).toBe(false);
  });

  describe.each(["created_at", "-created_at"])("sort=%s", (sort) => {
    it.each([1, 2, 5, dagListLimits.maxLimit])("pages with limit=%i: every DAG exactly once, in order, no empty last page", async (limit) => {
      const pages = await allPages({ sort, limit });
      expect(pages.flat()).toEqual(await oracle(undefined, sort));
      expect(pages.length).toBe(Math.ceil(seededTimes.length / limit));
      for (const page of pages) {
        expect(page.length).toBeGreaterThan(0);
        expect(page.length).toBeLessThanOrEqual(limit);
      }
    });
  });

  it("orders DAGs created at the same instant by id, and tells microseconds apart within one millisecond", async () => {
    const pages = await allPages({ sort: "created_at", limit: 1 });
    const { rows } = await fx.store.db.query<OracleRow>(
      `SELECT id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at FROM dags`,
    );
    const atOf = new Map(rows.map((r) => [r.id, r.at]));
    const listed = pages.flat();
    const tied = listed.filter((id) => atOf.get(id) === "2026-03-01T10:00:00.000000");
    expect(tied).toHaveLength(3);
    expect(tied).toEqual([...tied].sort());
    const withinOneMs = listed.filter((id) => atOf.get(id)?.startsWith("2026-03-01T10:00:01.000"));
    expect(withinOneMs.map((id) => atOf.get(id))).toEqual(["2026-03-01T10:00:01.000100", "2026-03-01T10:00:01.000200", "2026-03-01T10:00:01.000300"]);
  });

  it("filters by status, by agent, and by creation time (since inclusive, until exclusive), also together and paged", async () => {
    for (const status of ["succeeded", "cancelled", "awaiting_approval"] as const) {
      const ids = (await allPages({ status, limit: 2 })).flat();
      expect(ids.length).toBeGreaterThan(0);
      expect(ids).toEqual(await oracle((r) => r.status === status));
    }
    expect((await allPages({ agent_id: fx.agentB.id, limit: 2 })).flat()).toEqual(await oracle((r) => r.agent_id === fx.agentB.id));
    expect((await get({ agent_id: randomUUID() })).body).toEqual({ dags: [] });

    const since = "2026-03-01T10:00:01.000200Z";
    const until = "2026-03-01T10:00:05Z";
    const window = (r: OracleRow) => r.at >= "2026-03-01T10:00:01.000200" && r.at < "2026-03-01T10:00:05.000000";
    expect((await allPages({ created_since: since, created_until: until, sort: "created_at", limit: 3 })).flat()).toEqual(
      await oracle(window, "created_at"),
    );
    expect((await oracle(window)).length).toBe(6);
    // the same instants written with another offset
    expect((await get({ created_since: "2026-03-01T12:00:01.000200+02:00", created_until: "2026-03-01T05:00:05-05:00" })).body.dags.map((d) => d.id)).toEqual(
      await oracle(window),
    );
    const combined = (r: OracleRow) => window(r) && r.agent_id === fx.agentA.id && r.status === "cancelled";
    expect((await allPages({ created_since: since, created_until: until, agent_id: fx.agentA.id, status: "cancelled", limit: 1 })).flat()).toEqual(
      await oracle(combined),
    );
    expect((await get({ created_since: until, created_until: until })).body.dags).toEqual([]);
  });

  it("an agent key lists only its own agent's DAGs; a filter on another agent lists nothing", async () => {
    const own = await oracle((r) => r.agent_id === fx.agentA.id);
    expect((await allPages({ limit: 3 }, "agent")).flat()).toEqual(own);
    expect((await allPages({ agent_id: fx.agentA.id, limit: 3 }, "agent")).flat()).toEqual(own);
    const other = await get({ agent_id: fx.agentB.id }, "agent");
    expect(other).toEqual({ status: 200, body: { dags: [] } });
    for (const caller of ["operator", "viewer"] as const) {
      expect((await allPages({ limit: 5 }, caller)).flat()).toEqual(await oracle());
    }
  });

  it.each([
    ["status=bogus", { status: "bogus" }, "status"],
    ["a task status", { status: "pending" }, "status"],
    ["agent_id not a UUID", { agent_id: "agent-a" }, "agent_id"],
    ["created_since not a timestamp", { created_since: "yesterday" }, "created_since"],
    ["created_since without a time zone", { created_since: "2026-03-01T10:00:00" }, "created_since"],
    ["created_until a bare date", { created_until: "2026-03-01" }, "created_until"],
    ["created_until before created_since", { created_since: "2026-03-02T00:00:00Z", created_until: "2026-03-01T00:00:00Z" }, "created_until"],
    ["limit=0", { limit: 0 }, "limit"],
    ["limit over the maximum", { limit: dagListLimits.maxLimit + 1 }, "limit"],
    ["a fractional limit", { limit: 2.5 }, "limit"],
    ["limit=ten", { limit: "ten" }, "limit"],
    ["an empty limit", { limit: "" }, "limit"],
    ["sort by name", { sort: "name" }, "sort"],
    ["a cursor that is not one", { cursor: "not-a-cursor" }, "cursor"],
    ["an unknown parameter", { page: 2 }, "page"],
  ])("%s is a 400 naming the parameter", async (_what, query, field) => {
    const { status, body } = await get(query);
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: "invalid_argument", field });
    expect(body.error?.message).toMatch(new RegExp(`^${field}: `));
  });

  it("a repeated parameter is a 400 naming it", async () => {
    const res = await app.inject({ method: "GET", url: "/v1/dags?sort=created_at&sort=-created_at", headers: headers("admin") });
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: { field: "sort" } });
  });

  it("a cursor continues only the listing it came from: another sort, other filters or a tampered cursor are 400s", async () => {
    const first = await get({ sort: "created_at", limit: 2 });
    const cursor = first.body.next_cursor!;
    expect(cursor).toBeTruthy();
    expect((await get({ sort: "created_at", limit: 5, cursor })).status).toBe(200); // another page size is fine
    const otherSort = await get({ sort: "-created_at", limit: 2, cursor });
    expect(otherSort.status).toBe(400);
    expect(otherSort.body.error).toMatchObject({ field: "cursor", message: expect.stringMatching(/sorted by created_at/) });
    const otherFilter = await get({ sort: "created_at", limit: 2, status: "cancelled", cursor });
    expect(otherFilter.body.error).toMatchObject({ field: "cursor", message: expect.stringMatching(/other filters/) });
    const json = JSON.parse(Buffer.from(cursor, "base64url").toString()) as Record<string, unknown>;
    const tampered = Buffer.from(JSON.stringify({ ...json, id: "not-a-uuid" })).toString("base64url");
    expect((await get({ sort: "created_at", limit: 2, cursor: tampered })).body.error).toMatchObject({ field: "cursor" });
  });

  it("gRPC ListDags pages like HTTP, scopes agent keys the same way and refuses the same parameters", async () => {
    const viaGrpc = async (request: Record<string, unknown>, caller: Caller = "admin") => {
      const result = await grpc.unary("ListDags", request, grpc.metadataFor(caller));
      return result.error ? { error: result.error } : { page: result.response as PageJson };
    };
    const http = await get({ sort: "created_at", limit: 3, status: "cancelled" });
    const first = await viaGrpc({ sort: "created_at", limit: 3, status: "cancelled" });
    expect(first.page?.dags.map((d) => d.id)).toEqual(http.body.dags.map((d) => d.id));
    expect(first.page?.next_cursor).toBe(http.body.next_cursor);
    expect(first.page?.dags[0]).toMatchObject({ agent_id: http.body.dags[0]!.agent_id, status: "cancelled", created_at: http.body.dags[0]!.created_at });

    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const { page } = await viaGrpc({ limit: 2, ...(cursor ? { cursor } : {}) });
      ids.push(...page!.dags.map((d) => d.id));
      cursor = page!.next_cursor;
    } while (cursor);
    expect(ids).toEqual(await oracle());

    expect((await viaGrpc({ agent_id: fx.agentB.id }, "agent")).page?.dags).toEqual([]);
    expect((await viaGrpc({ limit: dagListLimits.maxLimit }, "agent")).page?.dags.map((d) => d.id)).toEqual(await oracle((r) => r.agent_id === fx.agentA.id));

    for (const [request, query, field] of [
      [{ limit: 0 }, { limit: 0 }, "limit"],
      [{ created_since: "yesterday" }, { created_since: "yesterday" }, "created_since"],
      [{ cursor: "nope" }, { cursor: "nope" }, "cursor"],
    ] as const) {
      const { error } = await viaGrpc(request);
      expect(error?.code).toBe(GrpcStatus.INVALID_ARGUMENT);
      expect(error?.metadata.get("apex-error-field")).toEqual([field]);
      expect(error?.details).toBe((await get(query)).body.error?.message);
    }
  });

  it("the page query is an index range scan, for all agents and for one", async () => {
    const explain = async (agentId: string | undefined, sort: "created_at" | "-created_at") =>
      fx.store.db.transaction(async (tx) => {
        await tx.query("SET LOCAL enable_seqscan = off");
        const after = { createdAt: "2026-03-01T10:00:03.000000Z", id: randomUUID() };
        const { text, values } = dagListSql({ sort, limit: 10 }, agentId, after);
        const { rows } = await tx.query<Record<string, string>>(`EXPLAIN ${text}`, values);
        return rows.map((r) => Object.values(r).join(" ")).join("\n");
      });
    expect(await explain(undefined, "-created_at")).toMatch(/Index (Only )?Scan Backward using dags_created_idx/);
    expect(await explain(undefined, "created_at")).toMatch(/Index (Only )?Scan using dags_created_idx/);
    expect(await explain(fx.agentA.id, "-created_at")).toMatch(/Index (Only )?Scan Backward using dags_agent_created_idx/);
  });

  // Last: it adds a DAG, which the oracle then includes.
  it("a DAG submitted while a client pages newest first is neither repeated nor shifts what follows", async () => {
    const before = await oracle();
    const first = await get({ limit: 4 });
    await fx.runningDag(fx.agentA.id);
    const rest: string[] = [];
    let cursor = first.body.next_cursor;
    while (cursor) {
      const { body } = await get({ limit: 4, cursor });
      rest.push(...body.dags.map((d) => d.id));
      cursor = body.next_cursor;
    }
    expect([...first.body.dags.map((d) => d.id), ...rest]).toEqual(before);
    expect((await get({ limit: 1 })).body.dags[0]!.id).not.toBe(before[0]);
  });
});

describe("the OpenAPI document", () => {
  let fx: ApiFixture;
  let app: FastifyInstance;
  beforeAll(async () => {
    fx = await createApiFixture({ service: "double" });
    app = buildHttpServer(fx.deps);
  });
  afterAll(async () => {
    await app?.close();
    await fx?.close();
  });

  it("documents GET /v1/dags with its parameters, roles and the page shape", async () => {
    const doc = JSON.parse((await app.inject({ method: "GET", url: "/openapi.json" })).body) as {
      paths: Record<string, Record<string, { description: string; parameters: { name: string; in: string }[]; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    const list = doc.paths["/v1/dags"]?.get;
    expect(list).toBeDefined();
    expect(list!.parameters.map((p) => `${p.in}:${p.name}`).sort()).toEqual(
      ["agent_id", "created_since", "created_until", "cursor", "limit", "sort", "status"].map((n) => `query:${n}`),
    );
    expect(list!.description).toContain("roles: admin, operator, viewer, agent");
    expect(list!.responses["200"]).toMatchObject({ content: { "application/json": { schema: { $ref: "#/components/schemas/DagList" } } } });
    expect(Object.keys(doc.components.schemas.DagSummary?.properties ?? {}).sort()).toEqual(
      ["agent_id", "created_at", "finished_at", "id", "name", "status", "totals", "trace_id"],
    );
    expect(doc.components.schemas.DagList?.properties).toHaveProperty("next_cursor");
  });
});
