/**
 * Route x role matrix over HTTP: every /v1 route for anonymous, revoked, admin, operator, viewer and
 * agent callers (agent keys on their own and on another agent's resources), through Fastify's
 * inject, and a sample of it over a real socket on an ephemeral port; on PGlite and on Postgres,
 * with the real service and a real worker.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { buildHttpServer } from "../src/api/http/server";
import { storeKinds } from "./helpers/db";
import { callers, createApiFixture, type ApiFixture, type Caller } from "./api-support/fixture";
import { matrix, type MatrixCase, type Outcome, type PreparedCall } from "./api-support/matrix";

const statusOf: Record<Exclude<Outcome, "ok">, number> = {
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
};

let fx: ApiFixture;
let app: FastifyInstance;


async function keyCounts(): Promise<string> {
  const { rows } = await fx.store.db.query<{ total: number; revoked: number }>(
    `SELECT count(*)::int AS total, count(revoked_at)::int AS revoked FROM api_keys`,
  );
  return JSON.stringify(rows[0]);
}

function parseSse(text: string): unknown[] {
  return text
    .split("\n\n")
    .map((block) => block.split("\n").find((line) => line.startsWith("data: ")))
    .filter((line): line is string => line !== undefined)
    .map((line) => JSON.parse(line.slice("data: ".length)) as unknown);
}

async function expectCell(c: MatrixCase, caller: Caller, call: PreparedCall, send: () => Promise<{ status: number; headers: Record<string, unknown>; body: string }>) {
  const outcome = c.expect[caller];
  const callsBefore = fx.calls.length;
  const keysBefore = await keyCounts();
  const res = await send();
  if (outcome === "ok") {
    expect(res.status, res.body).toBe(c.okStatus);
    if (c.stream) {
      expect(String(res.headers["content-type"])).toMatch(/^text\/event-stream/);
      await call.verify?.(parseSse(res.body));
    } else {
      await call.verify?.(JSON.parse(res.body));
    }
    return;
  }
  expect(res.status, res.body).toBe(statusOf[outcome]);
  expect(JSON.parse(res.body)).toMatchObject({ error: { code: outcome, message: expect.any(String) } });
  if (outcome === "unauthenticated") expect(res.headers["www-authenticate"]).toBe('Bearer realm="apex"');
  if (outcome !== "not_found") {
    // Refused before the service: nothing called, no key created or revoked.
    expect(fx.calls.slice(callsBefore)).toEqual([]);
    expect(await keyCounts()).toBe(keysBefore);
  }
}

describe.each(storeKinds)("on %s", (kind) => {
  beforeAll(async () => {
    fx = await createApiFixture({ store: kind, service: "real" });
    app = buildHttpServer(fx.deps);
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
    await fx?.close();
  });

  describe.each(matrix.map((c) => [c.name, c] as const))("HTTP %s", (_name, c) => {
    it.each(callers.map((caller) => [caller, c.expect[caller]] as const))("%s -> %s", async (caller) => {
      const call = await c.prepare(fx, caller);
      const token = fx.tokens[caller];
      await expectCell(c, caller, call, async () => {
        const res = await app.inject({
          method: c.method,
          url: call.url,
          headers: token ? { authorization: `Bearer ${token}` } : {},
          ...(call.body === undefined ? {} : { payload: call.body as object }),
        });
        return { status: res.statusCode, headers: res.headers, body: res.body };
      });
    });
  });

  describe("public endpoints answer every caller, whatever credentials it sends", () => {
    it.each(callers.flatMap((caller) => ["/healthz", "/readyz", "/openapi.json"].map((path) => [path, caller] as const)))("%s for %s", async (path, caller) => {
      const token = fx.tokens[caller];
      const res = await app.inject({ method: "GET", url: path, headers: token ? { authorization: `Bearer ${token}` } : {} });
      expect(res.statusCode).toBe(200);
    });
  });

  describe("HTTP over a real socket", () => {
    let server: FastifyInstance;
    let base: string;

    beforeAll(async () => {
      server = buildHttpServer(fx.deps);
      await server.listen({ port: 0, host: "127.0.0.1" });
      const address = server.server.address();
      if (!address || typeof address === "string") throw new Error("no TCP address");
      base = `http://127.0.0.1:${address.port}`;
    });
    afterAll(async () => {
      await server?.close();
    });

    const sample = matrix.filter((c) => ["submit DAG for another agent", "get another agent's DAG", "watch own agent's DAG", "create an API key"].includes(c.name));
    describe.each(sample.map((c) => [c.name, c] as const))("%s", (_name, c) => {
      it.each(callers.map((caller) => [caller] as const))("%s", async (caller) => {
        const call = await c.prepare(fx, caller);
        const token = fx.tokens[caller];
        await expectCell(c, caller, call, async () => {
          const res = await fetch(base + call.url, {
            method: c.method,
            headers: {
              ...(token ? { authorization: `Bearer ${token}` } : {}),
              ...(call.body === undefined ? {} : { "content-type": "application/json" }),
            },
            ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
          });
          return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
        });
      });
    });

    it("a key revoked through the API is refused on the very next request", async () => {
      const admin = { authorization: `Bearer ${fx.tokens.admin}`, "content-type": "application/json" };
      const created = (await (await fetch(`${base}/v1/api-keys`, { method: "POST", headers: admin, body: JSON.stringify({ name: "short-lived", role: "viewer" }) })).json()) as {
        id: string;
        secret: string;
      };
      const asNew = { authorization: `Bearer ${created.secret}` };
      expect((await fetch(`${base}/v1/agents`, { headers: asNew })).status).toBe(200);
      expect((await fetch(`${base}/v1/api-keys/${created.id}`, { method: "DELETE", headers: { authorization: admin.authorization } })).status).toBe(200);
      expect((await fetch(`${base}/v1/agents`, { headers: asNew })).status).toBe(401);
    });
  });
});
