/**
 * One DAG's life through both transports at once, on real Postgres with the real service and a
 * real worker: an agent key submits over HTTP, a viewer watches over gRPC and the agent over SSE,
 * the tool call parks for approval, the agent may not approve, an operator approves over gRPC,
 * both streams see every status change once and end, and the result carries tokens and cost.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { credentials, Metadata, status, type Client, type ServiceError } from "@grpc/grpc-js";
import { buildHttpServer } from "../src/api/http/server";
import { startGrpcServer, type RunningGrpcServer } from "../src/api/grpc/server";
import { loadProtos } from "../src/api/grpc/proto";
import { createApiFixture, type ApiFixture } from "./api-support/fixture";

let fx: ApiFixture;
let http: FastifyInstance;
let grpcServer: RunningGrpcServer;
let base: string;
let client: Client & Record<string, unknown>;

beforeAll(async () => {
  fx = await createApiFixture({ store: "postgres", service: "real" });
  http = buildHttpServer(fx.deps);
  await http.listen({ port: 0, host: "127.0.0.1" });
  const address = http.server.address();
  if (!address || typeof address === "string") throw new Error("no TCP address");
  base = `http://127.0.0.1:${address.port}`;
  grpcServer = await startGrpcServer(fx.deps, 0, "127.0.0.1");
  client = new (loadProtos().apex)(`127.0.0.1:${grpcServer.port}`, credentials.createInsecure()) as Client & Record<string, unknown>;
});

afterAll(async () => {
  client?.close();
  await grpcServer?.close();
  await http?.close();
  await fx?.close();
});

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

function grpcMetadata(key: string): Metadata {
  const md = new Metadata();
  md.set("authorization", `Bearer ${key}`);
  return md;
}

function unary<T>(method: string, request: unknown, key: string): Promise<T> {
  return new Promise((resolve, reject) =>
    (client[method] as (r: unknown, md: Metadata, cb: (e: ServiceError | null, r: T) => void) => void).call(client, request, grpcMetadata(key), (e, r) =>
      e ? reject(e) : resolve(r),
    ),
  );
}

async function http_<T>(method: string, path: string, key: string, body?: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(base + path, {
    method,
    headers: { ...bearer(key), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as T };
}

async function sseEvents(path: string, key: string): Promise<{ type: string; task_id?: string; status: string }[]> {
  const res = await fetch(base + path, { headers: bearer(key) });
  expect(res.status).toBe(200);
  const text = await res.text();
  return text
    .split("\n\n")
    .map((block) => block.split("\n").find((l) => l.startsWith("data: ")))
    .filter((l): l is string => l !== undefined)
    .map((l) => JSON.parse(l.slice(6)) as { type: string; task_id?: string; status: string });
}

function grpcEvents(dagId: string, key: string): Promise<{ type: string; task_id?: string; status: string }[]> {
  const call = (client.WatchDag as (r: unknown, md: Metadata) => NodeJS.EventEmitter).call(client, { id: dagId }, grpcMetadata(key));
  const events: { type: string; task_id?: string; status: string }[] = [];
  return new Promise((resolve, reject) => {
    call.on("data", (e: { type: string; task_id?: string; status: string }) => events.push(e));
    call.on("end", () => resolve(events));
    call.on("error", reject);
  });
}

const transitions = (events: { type: string; task_id?: string; status: string }[], taskId?: string) =>
  events.filter((e) => (taskId ? e.task_id === taskId : e.type === "dag_status")).map((e) => e.status);

describe("a DAG across HTTP and gRPC", () => {
  it("submit, watch, approve, finish; scoped to its agent", { timeout: 60_000 }, async () => {
    const admin = fx.tokens.admin!;
    const agent = await http_<{ id: string }>("POST", "/v1/agents", admin, { name: "e2e-researcher" });
    expect(agent.status).toBe(201);
    const created = await unary<{ key: { role: string }; secret: string }>("CreateApiKey", { name: "e2e-bot", role: "agent", agent_id: agent.json.id }, admin);
    expect(created.key.role).toBe("agent");
    const agentKey = created.secret;

    const submitted = await http_<{ id: string; status: string }>("POST", "/v1/dags", agentKey, {
      agent_id: agent.json.id,
      name: "ship-it",
      input: { target: "staging" },
      tasks: [
        { id: "plan", kind: "llm", model: "local/echo", prompt: "plan the rollout to {{input.target}}" },
        { id: "deploy", kind: "tool", tool: "deploy", args: { target: "{{input.target}}" }, depends_on: ["plan"] },
        { id: "report", kind: "llm", model: "local/echo", prompt: "report {{tasks.deploy.output.deployed}}", depends_on: ["deploy"] },
      ],
    });
    expect(submitted).toMatchObject({ status: 201, json: { status: "running" } });
    const dagId = submitted.json.id;

    const watchedOverSse = sseEvents(`/v1/dags/${dagId}/events`, agentKey);
    const watchedOverGrpc = grpcEvents(dagId, fx.tokens.viewer!);

    let approvalId: string | undefined;
    for (const deadline = Date.now() + 20_000; !approvalId && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      const { approvals } = await unary<{ approvals: { id: string; dag_id: string }[] }>("ListApprovals", { status: "pending" }, fx.tokens.operator!);
      approvalId = approvals.find((a) => a.dag_id === dagId)?.id;
    }
    expect(approvalId).toBeDefined();

    const byAgent = await http_<{ error: { code: string } }>("POST", `/v1/approvals/${approvalId}/approve`, agentKey);
    expect(byAgent).toMatchObject({ status: 403, json: { error: { code: "permission_denied" } } });
    const decided = await unary<{ status: string; decided_by: string }>("DecideApproval", { id: approvalId, decision: "approve", reason: "staging" }, fx.tokens.operator!);
    expect(decided).toMatchObject({ status: "approved", decided_by: fx.keyIds.operator });

    const [sse, grpc] = await Promise.all([watchedOverSse, watchedOverGrpc]);
    for (const events of [sse, grpc]) {
      expect(transitions(events).at(-1)).toBe("succeeded");
      expect(transitions(events, "deploy")).toContain("awaiting_approval");
      expect(transitions(events, "deploy").at(-1)).toBe("succeeded");
      expect(transitions(events, "report").at(-1)).toBe("succeeded");
      for (const key of ["plan", "deploy", "report", undefined]) {
        const seq = transitions(events, key);
        seq.forEach((s, i) => expect(s, `${key ?? "dag"} repeats ${s}`).not.toBe(seq[i - 1]));
      }
    }

    const dag = await unary<{ status: string; tasks: { id: string; output?: { stringValue?: string; structValue?: unknown } }[]; totals: { input_tokens?: number; cost_usd?: number } }>(
      "GetDag",
      { id: dagId },
      agentKey,
    );
    expect(dag.status).toBe("succeeded");
    expect(dag.tasks.find((t) => t.id === "report")?.output?.stringValue).toBe("echo: report staging");
    expect(dag.totals.input_tokens).toBeGreaterThan(0);
    expect(dag.totals.cost_usd).toBeGreaterThan(0);

    // The fixture's agent key is bound to another agent: this DAG does not exist for it.
    const other = fx.tokens.agent!;
    expect((await http_("GET", `/v1/dags/${dagId}`, other)).status).toBe(404);
    await expect(unary("GetDag", { id: dagId }, other)).rejects.toMatchObject({ code: status.NOT_FOUND });
  });
});
