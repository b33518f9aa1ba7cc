/**
 * The API in front of a blackholed database (a TCP proxy that keeps every connection open and
 * drops every byte: nothing is refused, so only timeouts can notice). With the runtime's default
 * database timeouts, every /v1 route, the event stream and gRPC answer 503 + Retry-After
 * (UNAVAILABLE) within 5 s, never 500 and never a hang; /readyz answers 503 within 2 s; /healthz
 * stays 200. Both with the caller's key still cached (the operation's query meets the blackhole)
 * and after the cache expired (the key lookup meets it). Once the link heals, the API serves again.
 */
import { credentials, Metadata, status as GrpcStatus, type Client, type ServiceError } from "@grpc/grpc-js";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startApi, type RunningApi } from "../src/bin/apex-api";
import { openRuntime, type Runtime } from "../src/bin/runtime";
import { loadConfig } from "../src/config";
import { loadProtos } from "../src/api/grpc/proto";
import { apiRoutes } from "../src/api/http/routes";
import { createLogger } from "../src/telemetry/logger";
import { createTestDatabase, type TestDatabase } from "./helpers/db";
import { startTcpProxy, type TcpProxy } from "./helpers/tcp-proxy";

const adminKey = `apex_test_${"b".repeat(30)}`;
/** The key cache of this API: short, so the second round meets the blackhole on the key lookup. */
const keyCacheMs = 1_000;
let database: TestDatabase;
let proxy: TcpProxy;
let rt: Runtime;
let api: RunningApi;
let grpc: Client & Record<string, unknown>;
let base: string;
let agentId: string;
let dagId: string;

beforeAll(async () => {
  database = await createTestDatabase();
  const target = new URL(database.url);
  proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
  target.port = String(proxy.port);
  // Default timeouts (APEX_DB_*_TIMEOUT_MS unset); no Redis, so DAG events go through LISTEN on the same database.
  const config = loadConfig({ DATABASE_URL: target.toString(), APEX_API_KEY_CACHE_MS: String(keyCacheMs), LOG_LEVEL: "silent" });
  rt = await openRuntime({ ...config, bootstrapAdminKey: adminKey }, { runs: "api" });
  api = await startApi(rt, { http: 0, grpc: 0 }, "127.0.0.1", { logger: createLogger({ level: "silent" }) });
  base = `http://127.0.0.1:${api.httpPort}`;
  const Apex = loadProtos().apex;
  grpc = new Apex(`127.0.0.1:${api.grpcPort}`, credentials.createInsecure()) as Client & Record<string, unknown>;
  const agent = await (await request("POST", "/v1/agents", { name: "blackhole" })).json() as { id: string };
  agentId = agent.id;
  const dag = await request("POST", "/v1/dags", {
    agent_id: agentId,
    name: "waits",
    tasks: [{ id: "a", kind: "llm", model: "local/echo", prompt: "never run: no worker" }],
  });
  expect(dag.status).toBe(201);
  dagId = ((await dag.json()) as { id: string }).id;
}, 60_000);

afterAll(async () => {
  proxy?.restore();
  grpc?.close();
  await api?.close();
  await rt?.close();
  await proxy?.close();
  await database?.drop();
}, 30_000);

function request(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
}

/** A valid request for every route of the route table, and the event stream: each needs the database. */
function everyRoute(): { name: string; method: string; path: string; body?: unknown }[] {
  const bodies: Record<string, unknown> = {
    "POST /v1/agents": { name: "during-outage" },
    "POST /v1/dags": { agent_id: agentId, name: "during-outage", tasks: [{ id: "a", kind: "llm", model: "local/echo", prompt: "x" }] },
    "POST /v1/dags/:id/cancel": {},
    "POST /v1/approvals/:id/approve": {},
    "POST /v1/approvals/:id/reject": { reason: "outage" },
    "POST /v1/api-keys": { name: "during-outage", role: "viewer" },
    "PUT /v1/agents/:id/budget": { day: { usd: 1 } },
    "PUT /v1/api-keys/:id/budget": { day: { usd: 1 } },
  };
  const idFor: Record<string, string> = {
    "/v1/dags/:id": dagId,
    "/v1/dags/:id/cancel": dagId,
    "/v1/approvals/:id/approve": randomUUID(),
    "/v1/approvals/:id/reject": randomUUID(),
    "/v1/api-keys/:id": randomUUID(),
    "/v1/agents/:id/budget": agentId,
    "/v1/api-keys/:id/budget": randomUUID(),
  };
  const routes = apiRoutes.map((r) => {
    const key = `${r.method} ${r.url}`;
    return { name: key, method: r.method, path: r.url.replace(":id", idFor[r.url] ?? ""), body: bodies[key] };
  });
  return [...routes, { name: "GET /v1/dags/:id/events", method: "GET", path: `/v1/dags/${dagId}/events` }];
}

interface Timed {
  readonly name: string;
  readonly status: number | string;
  readonly retryAfter: string | null;
  readonly ms: number;
}

async function timed(name: string, method: string, path: string, body?: unknown): Promise<Timed> {
  const t0 = Date.now();
  try {
    const res = await request(method, path, body);
    await res.body?.cancel();
    return { name, status: res.status, retryAfter: res.headers.get("retry-after"), ms: Date.now() - t0 };
  } catch (err) {
    return { name, status: `error: ${(err as Error).message}`, retryAfter: null, ms: Date.now() - t0 };
  }
}

function grpcListAgents(): Promise<{ code: number; ms: number; retryAfter: unknown }> {
  const md = new Metadata();
  md.set("authorization", `Bearer ${adminKey}`);
  const t0 = Date.now();
  return new Promise((resolve) => {
    (grpc.ListAgents as (req: unknown, md: Metadata, opts: object, cb: (err: ServiceError | null) => void) => void).call(
      grpc,
      {},
      md,
      { deadline: Date.now() + 30_000 },
      (err) => resolve({ code: err?.code ?? GrpcStatus.OK, ms: Date.now() - t0, retryAfter: err?.metadata?.get("retry-after")[0] }),
    );
  });
}

async function oneRound(): Promise<void> {
  const [answers, ready, health, rpc] = await Promise.all([
    Promise.all(everyRoute().map((r) => timed(r.name, r.method, r.path, r.body))),
    timed("GET /readyz", "GET", "/readyz"),
    timed("GET /healthz", "GET", "/healthz"),
    grpcListAgents(),
  ]);
  const wrong = answers.filter((a) => a.status !== 503 || a.retryAfter === null || a.ms >= 5_000);
  expect(wrong, JSON.stringify(answers)).toEqual([]);
  expect(ready.status).toBe(503);
  expect(ready.ms).toBeLessThan(2_000);
  expect(health.status).toBe(200);
  expect(rpc.code).toBe(GrpcStatus.UNAVAILABLE);
  expect(rpc.retryAfter).toBeDefined();
  expect(rpc.ms).toBeLessThan(5_000);
  console.log(`blackhole: slowest route ${Math.max(...answers.map((a) => a.ms))} ms, /readyz ${ready.ms} ms, gRPC ${rpc.ms} ms`);
}

it("answers 503 + Retry-After within 5 s on every route while the database is blackholed, then serves again", async () => {
  // Warm: the key is cached and the pool holds open connections, which the blackhole then swallows.
  expect((await request("GET", "/v1/agents")).status).toBe(200);
  proxy.blackhole();
  await oneRound();
  // Second round: the key cache has expired, so authentication itself meets the blackhole.
  await new Promise((r) => setTimeout(r, keyCacheMs));
  await oneRound();
  proxy.restore();
  await expect.poll(async () => (await request("GET", "/v1/agents")).status, { timeout: 20_000, interval: 200 }).toBe(200);
  await expect.poll(async () => (await timed("GET /readyz", "GET", "/readyz")).status, { timeout: 20_000, interval: 200 }).toBe(200);
}, 60_000);
