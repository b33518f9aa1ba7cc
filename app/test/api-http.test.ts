/**
 * The HTTP API beyond roles: the error format for bad input (field named), body limits, content
 * types, conflicts, bearer parsing, server-sent events, health/readiness, metrics and the generated
 * OpenAPI document (validated against the OpenAPI 3.1 schema).
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { Writable } from "node:stream";
import { Counter, Registry } from "prom-client";
import { buildHttpServer } from "../src/api/http/server";
import { apiRoutes } from "../src/api/http/routes";
import { createApiFixture, type ApiFixture } from "./api-support/fixture";

let fx: ApiFixture;
let app: FastifyInstance;
let registry: Registry;

beforeAll(async () => {
  registry = new Registry();
  new Counter({ name: "apex_test_requests_total", help: "test counter", registers: [registry] }).inc(3);
  fx = await createApiFixture({ store: "postgres", service: "double", deps: { registry, maxRequestBytes: 64 * 1024 } });
  app = buildHttpServer(fx.deps);
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await fx?.close();
});

const as = (caller: "admin" | "operator" | "viewer" | "agent") => ({ authorization: `Bearer ${fx.tokens[caller]}` });
const errorOf = (body: string) => (JSON.parse(body) as { error: { code: string; message: string; field?: string } }).error;

describe("bad input gets 400 naming the field", () => {
  it.each([
    ["a wrong type", { name: 5 }, "name"],
    ["a missing field", {}, "name"],
    ["an empty name", { name: "  " }, "name"],
    ["an unknown field", { name: "ok", nickname: "x" }, "nickname"],
  ])("%s", async (_what, payload, field) => {
    const res = await app.inject({ method: "POST", url: "/v1/agents", headers: as("admin"), payload });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res.body)).toMatchObject({ code: "invalid_argument", field });
    expect(errorOf(res.body).message).toContain(field);
  });

  it("a nested field of an API key request", async () => {
    const res = await app.inject({ method: "POST", url: "/v1/api-keys", headers: as("admin"), payload: { name: "k", role: "root" } });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res.body)).toMatchObject({ code: "invalid_argument", field: "role" });
  });

  it("an agent key without its agent, and an agent for a non-agent role", async () => {
    const missing = await app.inject({ method: "POST", url: "/v1/api-keys", headers: as("admin"), payload: { name: "k", role: "agent" } });
    expect(errorOf(missing.body)).toMatchObject({ code: "invalid_argument", field: "agent_id" });
    const extra = await app.inject({ method: "POST", url: "/v1/api-keys", headers: as("admin"), payload: { name: "k", role: "viewer", agent_id: fx.agentA.id } });
    expect(errorOf(extra.body)).toMatchObject({ code: "invalid_argument", field: "agent_id" });
    const unknown = await app.inject({ method: "POST", url: "/v1/api-keys", headers: as("admin"), payload: { name: "k", role: "agent", agent_id: randomUUID() } });
    expect(unknown.statusCode).toBe(400);
    expect(errorOf(unknown.body)).toMatchObject({ code: "invalid_argument", field: "agent_id" });
  });

  it("an id that is not a UUID", async () => {
    const res = await app.inject({ method: "GET", url: "/v1/dags/not-a-uuid", headers: as("viewer") });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res.body)).toMatchObject({ code: "invalid_argument", field: "id" });
  });

  it("an unknown query parameter and a bad status filter", async () => {
    const unknown = await app.inject({ method: "GET", url: "/v1/approvals?state=pending", headers: as("viewer") });
    expect(errorOf(unknown.body)).toMatchObject({ code: "invalid_argument", field: "state" });
    const bad = await app.inject({ method: "GET", url: "/v1/approvals?status=maybe", headers: as("viewer") });
    expect(errorOf(bad.body)).toMatchObject({ code: "invalid_argument", field: "status" });
  });

  it("the service's own validation errors keep their field", async () => {
    const res = await app.inject({ method: "POST", url: "/v1/dags", headers: as("admin"), payload: { agent_id: fx.agentA.id, name: "x", tasks: [] } });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res.body)).toMatchObject({ code: "invalid_argument", field: "tasks" });
  });

  it("malformed JSON, a non-object body, a wrong content type, an oversized body", async () => {
    const malformed = await app.inject({ method: "POST", url: "/v1/agents", headers: { ...as("admin"), "content-type": "application/json" }, payload: "{nope" });
    expect(malformed.statusCode).toBe(400);
    expect(errorOf(malformed.body)).toMatchObject({ code: "invalid_argument", field: "body" });

    const array = await app.inject({ method: "POST", url: "/v1/agents", headers: as("admin"), payload: [1, 2] });
    expect(array.statusCode).toBe(400);
    expect(errorOf(array.body)).toMatchObject({ code: "invalid_argument", field: "body" });

    const text = await app.inject({ method: "POST", url: "/v1/agents", headers: { ...as("admin"), "content-type": "text/plain" }, payload: "name" });
    expect(text.statusCode).toBe(415);
    expect(errorOf(text.body).code).toBe("unsupported_media_type");

    const huge = await app.inject({
      method: "POST",
      url: "/v1/dags",
      headers: as("admin"),
      payload: { agent_id: fx.agentA.id, name: "big", input: { blob: "x".repeat(70 * 1024) }, tasks: [] },
    });
    expect(huge.statusCode).toBe(413);
    expect(errorOf(huge.body)).toMatchObject({ code: "payload_too_large", field: "body" });
  });
});

describe("conflicts and unknown ids", () => {
  it("deciding an approval twice is a 409", async () => {
    const approval = fx.double!.seedApproval(fx.double!.seedDag(fx.agentA.id).id);
    const first = await app.inject({ method: "POST", url: `/v1/approvals/${approval.id}/approve`, headers: as("operator") });
    expect(first.statusCode).toBe(200);
    const second = await app.inject({ method: "POST", url: `/v1/approvals/${approval.id}/reject`, headers: as("admin") });
    expect(second.statusCode).toBe(409);
    expect(errorOf(second.body).code).toBe("conflict");
  });

  it("the last active admin key cannot be revoked", async () => {
    const { rows } = await fx.store.db.query<{ id: string }>(`SELECT id FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL`);
    expect(rows.map((r) => r.id)).toEqual([fx.keyIds.admin]);
    const res = await app.inject({ method: "DELETE", url: `/v1/api-keys/${fx.keyIds.admin}`, headers: as("admin") });
    expect(res.statusCode).toBe(409);
    expect(errorOf(res.body)).toMatchObject({ code: "conflict", field: "id" });
  });

  it("unknown API key, approval and route ids are 404 in the JSON error format", async () => {
    for (const url of [`/v1/api-keys/${randomUUID()}`]) {
      const res = await app.inject({ method: "DELETE", url, headers: as("admin") });
      expect(res.statusCode).toBe(404);
    }
    const approval = await app.inject({ method: "POST", url: `/v1/approvals/${randomUUID()}/approve`, headers: as("admin") });
    expect(approval.statusCode).toBe(404);
    const route = await app.inject({ method: "GET", url: "/v1/nothing-here", headers: as("admin") });
    expect(route.statusCode).toBe(404);
    expect(errorOf(route.body)).toMatchObject({ code: "not_found" });
  });
});

describe("authentication header", () => {
  it.each([
    ["another scheme", `Basic ${Buffer.from("a:b").toString("base64")}`],
    ["a bare key", "apex_notbearer"],
    ["an empty bearer", "Bearer "],
    ["a made-up key", `Bearer apex_${"A".repeat(43)}`],
  ])("%s is 401", async (_what, authorization) => {
    const res = await app.inject({ method: "GET", url: "/v1/agents", headers: { authorization } });
    expect(res.statusCode).toBe(401);
    expect(errorOf(res.body).code).toBe("unauthenticated");
  });

  it("the scheme is case-insensitive", async () => {
    const res = await app.inject({ method: "GET", url: "/v1/agents", headers: { authorization: `bearer ${fx.tokens.viewer}` } });
    expect(res.statusCode).toBe(200);
  });

  it("a refused caller learns nothing about input rules (403 before 400)", async () => {
    const res = await app.inject({ method: "POST", url: "/v1/agents", headers: as("viewer"), payload: { name: 5 } });
    expect(res.statusCode).toBe(403);
  });
});

describe("server-sent events", () => {
  it("sends the snapshot, then live changes, and ends when the DAG finishes", async () => {
    const server = buildHttpServer(fx.deps);
    await server.listen({ port: 0, host: "127.0.0.1" });
    try {
      const address = server.server.address();
      if (!address || typeof address === "string") throw new Error("no address");
      const dag = fx.double!.seedDag(fx.agentA.id);
      const res = await fetch(`http://127.0.0.1:${address.port}/v1/dags/${dag.id}/events`, { headers: as("agent") });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = "";
      while (!text.includes("event: dag_status")) text += decoder.decode((await reader.read()).value);
      fx.double!.setTaskStatus(dag.id, "t1", "succeeded");
      fx.double!.setDagStatus(dag.id, "succeeded");
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += decoder.decode(chunk.value);
      }
      const events = text
        .split("\n\n")
        .filter((b) => b.startsWith("event: "))
        .map((b) => b.split("\n")[0]!.slice(7) + ":" + (JSON.parse(b.split("\n")[1]!.slice(6)) as { status: string }).status);
      expect(events).toEqual(["task_status:running", "dag_status:running", "task_status:succeeded", "dag_status:succeeded"]);
      await expect.poll(() => fx.double!.watcherCount(dag.id)).toBe(0);
    } finally {
      await server.close();
    }
  });

  it("stops watching when the client goes away, and close() ends open streams", async () => {
    const server = buildHttpServer(fx.deps);
    await server.listen({ port: 0, host: "127.0.0.1" });
    const address = server.server.address();
    if (!address || typeof address === "string") throw new Error("no address");
    const gone = fx.double!.seedDag(fx.agentA.id);
    const controller = new AbortController();
    const res = await fetch(`http://127.0.0.1:${address.port}/v1/dags/${gone.id}/events`, { headers: as("viewer"), signal: controller.signal });
    await res.body!.getReader().read();
    expect(fx.double!.watcherCount(gone.id)).toBe(1);
    controller.abort();
    await expect.poll(() => fx.double!.watcherCount(gone.id)).toBe(0);

    const open = fx.double!.seedDag(fx.agentA.id);
    const still = await fetch(`http://127.0.0.1:${address.port}/v1/dags/${open.id}/events`, { headers: as("viewer") });
    await still.body!.getReader().read();
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(3000);
    await expect.poll(() => fx.double!.watcherCount(open.id)).toBe(0);
  });

  it("an unknown DAG is a JSON 404, not an empty stream", async () => {
    const res = await app.inject({ method: "GET", url: `/v1/dags/${randomUUID()}/events`, headers: as("admin") });
    expect(res.statusCode).toBe(404);
    expect(res.headers["content-type"]).toMatch(/application\/json/);
  });
});

describe("public endpoints", () => {
  it("healthz and readyz follow the service's readiness, without a key", async () => {
    expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
    fx.double!.isReady = false;
    try {
      const res = await app.inject({ method: "GET", url: "/readyz" });
      expect(res.statusCode).toBe(503);
      expect(JSON.parse(res.body)).toEqual({ status: "not_ready" });
      expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    } finally {
      fx.double!.isReady = true;
    }
  });

  it("metrics are served from the given registry in the Prometheus text format", async () => {
    const res = await app.inject({ method: "GET", url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe(registry.contentType);
    expect(res.body).toContain("apex_test_requests_total 3");
  });

  it("without a registry there is no /metrics route", async () => {
    const bare = buildHttpServer({ service: fx.service, keys: fx.keys });
    try {
      expect((await bare.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(404);
    } finally {
      await bare.close();
    }
  });

  it("openapi.json is a valid OpenAPI 3.1 document covering every route", async () => {
    const res = await app.inject({ method: "GET", url: "/openapi.json" });
    expect(res.statusCode).toBe(200);
    const doc = JSON.parse(res.body) as { openapi: string; paths: Record<string, Record<string, { description?: string }>>; components: { schemas: Record<string, unknown> } };
    expect(doc.openapi).toBe("3.1.0");
    const { Validator } = await import("@seriousme/openapi-schema-validator");
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    for (const route of apiRoutes) {
      const path = route.url.replace(/:(\w+)/g, "{$1}");
      expect(doc.paths[path]?.[route.method.toLowerCase()], `${route.method} ${path}`).toBeDefined();
    }
    for (const path of ["/v1/dags/{id}/events", "/healthz", "/readyz", "/metrics", "/openapi.json"]) expect(doc.paths[path]).toBeDefined();
    expect(doc.paths["/v1/dags"]?.post?.description).toContain("roles: admin, agent");
    expect(doc.components.schemas.CreateApiKeyRequest).toMatchObject({ properties: { role: { enum: ["admin", "operator", "viewer", "agent"] } } });
  });
});

describe("logs and internal errors", () => {
  it("never logs keys or secrets, and hides internal error details from the client", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino({ level: "trace" }, sink);
    const server = buildHttpServer({ ...fx.deps, logger });
    try {
      const created = await server.inject({ method: "POST", url: "/v1/api-keys", headers: as("admin"), payload: { name: "logged", role: "viewer" } });
      const secret = (JSON.parse(created.body) as { secret: string }).secret;
      await server.inject({ method: "GET", url: "/v1/agents", headers: { authorization: `Bearer ${secret}` } });
      await server.inject({ method: "GET", url: "/v1/agents", headers: { authorization: `Bearer ${fx.tokens.revoked}` } });
      await server.inject({ method: "GET", url: "/v1/agents", headers: { authorization: "Bearer apex_not-a-real-key-at-all-0123456789" } });

      const failing = fx.double!.listApprovals;
      fx.double!.listApprovals = async () => {
        throw new Error("connect ECONNREFUSED 10.0.0.7:5432");
      };
      let res;
      try {
        res = await server.inject({ method: "GET", url: "/v1/approvals", headers: as("viewer") });
      } finally {
        fx.double!.listApprovals = failing;
      }
      expect(res.statusCode).toBe(500);
      expect(JSON.parse(res.body)).toEqual({ error: { code: "internal", message: "internal error" } });

      const log = lines.join("");
      expect(log).toContain("incoming request");
      expect(log).toContain("ECONNREFUSED 10.0.0.7:5432"); // the operator sees the cause in the log...
      for (const key of [secret, fx.tokens.admin!, fx.tokens.viewer!, fx.tokens.revoked!, "apex_not-a-real-key-at-all-0123456789"]) {
        expect(log).not.toContain(key); // ...but never a credential
      }
      expect(log.toLowerCase()).not.toContain("authorization");
    } finally {
      await server.close();
    }
  });
});
