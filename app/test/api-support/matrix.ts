/**
 * The route x role matrix, written from issue 3's role table (not from src/auth/permissions.ts,
 * so a wrong permission table fails it): every operation, every caller kind, with agent keys on
 * their own agent's resources and on another agent's. Run over HTTP and over gRPC.
 *
 *   admin everything; operator manages agents, approves, cancels, reads all; viewer reads only;
 *   agent submits and reads only DAGs of its own agent (another agent's DAG is "not found", and
 *   listing another agent's DAGs finds none). Every key may read itself (GET /v1/me); usage is
 *   read like DAGs (agent keys: their own agent's only).
 *
 * Issue 16's budgets: admins and operators set agents' and API keys' budgets; an agent's budget
 * is read like the agent (agent keys: their own only, another's is "not found"); a key's budget
 * is read by those who may set it.
 */
import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import { dagListLimits } from "../../src/service/dag-list";
import type { ApiFixture, Caller } from "./fixture";

export type Outcome = "ok" | "unauthenticated" | "permission_denied" | "not_found";

export interface PreparedCall {
  /** HTTP form. */
  readonly url: string;
  readonly body?: unknown;
  /** gRPC form. */
  readonly grpc: Record<string, unknown>;
  /** Checks a successful answer (HTTP JSON, or the gRPC message / collected stream events). */
  verify?(result: unknown): void;
}

export interface MatrixCase {
  readonly name: string;
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  readonly okStatus: 200 | 201;
  readonly grpcMethod: string;
  /** Server-streaming over gRPC, server-sent events over HTTP. */
  readonly stream?: boolean;
  readonly expect: Readonly<Record<Caller, Outcome>>;
  /** Fresh resources for one cell, so cells do not depend on each other's side effects. */
  prepare(fx: ApiFixture, caller: Caller): Promise<PreparedCall>;
}

const ok = "ok" as const;
const no = "permission_denied" as const;
const nf = "not_found" as const;
const row = (admin: Outcome, operator: Outcome, viewer: Outcome, agent: Outcome): Record<Caller, Outcome> => ({
  anonymous: "unauthenticated",
  revoked: "unauthenticated",
  admin,
  operator,
  viewer,
  agent,
});

const dagBody = (agentId: string) => ({
  agent_id: agentId,
  name: "matrix",
  input: { topic: "roles" },
  tasks: [{ id: "t1", kind: "llm", model: "local/echo", prompt: "{{input.topic}}", depends_on: [] }],
});

const hasId = (id: string) => (result: unknown) => expect((result as { id?: string }).id).toBe(id);

/** A budget list answer holds exactly these (scope, scope_id, period, limit_usd) rows. */
const hasBudgets = (expected: { scope: string; scope_id: string; period: string; limit_usd: number }[]) => (result: unknown) =>
  expect((result as { budgets: unknown[] }).budgets).toEqual(expected.map((b) => expect.objectContaining(b)));

/** A generous budget, so that the matrix's other DAGs of agent A are never refused by it. */
const roomyMonth = { month: { microUsd: 1_000_000_000 } };

export const matrix: readonly MatrixCase[] = [
  {
    name: "who am I",
    method: "GET",
    okStatus: 200,
    grpcMethod: "GetMe",
    expect: row(ok, ok, ok, ok),
    async prepare(fx, caller) {
      return {
        url: "/v1/me",
        grpc: {},
        verify(r) {
          const me = r as { key: { id: string; role: string; agent_id?: string }; permissions: string[] };
          expect(me.key).toMatchObject({ id: fx.keyIds[caller as "admin"], role: caller });
          expect(me.key.agent_id).toBe(caller === "agent" ? fx.agentA.id : undefined);
          expect(me.permissions).toContain(caller === "admin" ? "api_keys:manage" : "dags:read");
          if (caller !== "admin") expect(me.permissions).not.toContain("api_keys:manage");
        },
      };
    },
  },
  {
    name: "create agent",
    method: "POST",
    okStatus: 201,
    grpcMethod: "CreateAgent",
    expect: row(ok, ok, no, no),
    async prepare() {
      const name = `new-${randomUUID()}`;
      return { url: "/v1/agents", body: { name }, grpc: { name }, verify: (r) => expect((r as { name: string }).name).toBe(name) };
    },
  },
  {
    name: "list agents",
    method: "GET",
    okStatus: 200,
    grpcMethod: "ListAgents",
    expect: row(ok, ok, ok, ok),
    async prepare(fx, caller) {
      return {
        url: "/v1/agents",
        grpc: {},
        verify(r) {
          const ids = (r as { agents: { id: string }[] }).agents.map((a) => a.id);
          if (caller === "agent") expect(ids).toEqual([fx.agentA.id]);
          else expect(ids).toEqual(expect.arrayContaining([fx.agentA.id, fx.agentB.id]));
        },
      };
    },
  },
  {
    name: "get own agent's budget",
    method: "GET",
    okStatus: 200,
    grpcMethod: "GetAgentBudget",
    expect: row(ok, ok, ok, ok),
    async prepare(fx) {
      const id = fx.agentA.id;
      await fx.service.replaceOwnerBudgets({ scope: "agent", id }, roomyMonth, "matrix");
      return { url: `/v1/agents/${id}/budget`, grpc: { id }, verify: hasBudgets([{ scope: "agent", scope_id: id, period: "month", limit_usd: 1000 }]) };
    },
  },
  {
    name: "get another agent's budget",
    method: "GET",
    okStatus: 200,
    grpcMethod: "GetAgentBudget",
    expect: row(ok, ok, ok, nf),
    async prepare(fx) {
      const id = fx.agentB.id;
      await fx.service.replaceOwnerBudgets({ scope: "agent", id }, roomyMonth, "matrix");
      return { url: `/v1/agents/${id}/budget`, grpc: { id }, verify: hasBudgets([{ scope: "agent", scope_id: id, period: "month", limit_usd: 1000 }]) };
    },
  },
  {
    name: "get an unknown agent's budget",
    method: "GET",
    okStatus: 200,
    grpcMethod: "GetAgentBudget",
    expect: row(nf, nf, nf, nf),
    async prepare() {
      const id = randomUUID();
      return { url: `/v1/agents/${id}/budget`, grpc: { id } };
    },
  },
  {
    name: "set an agent's budget",
    method: "PUT",
    okStatus: 200,
    grpcMethod: "SetAgentBudget",
    expect: row(ok, ok, no, no),
    async prepare(fx) {
      const { id } = await fx.service.createAgent({ name: `budgeted-${randomUUID()}` });
      const limits = { day: { usd: 5, tokens: 100_000 } };
      return {
        url: `/v1/agents/${id}/budget`,
        body: limits,
        grpc: { id, ...limits },
        async verify(r) {
          hasBudgets([{ scope: "agent", scope_id: id, period: "day", limit_usd: 5 }])(r);
          expect(await fx.service.ownerBudgets({ scope: "agent", id })).toEqual([
            expect.objectContaining({ period: "day", limitMicroUsd: 5_000_000, limitTokens: 100_000 }),
          ]);
        },
      };
    },
  },
  {
    name: "set an unknown agent's budget",
    method: "PUT",
    okStatus: 200,
    grpcMethod: "SetAgentBudget",
    expect: row(nf, nf, no, no),
    async prepare() {
      const id = randomUUID();
      return { url: `/v1/agents/${id}/budget`, body: { total: { usd: 1 } }, grpc: { id, total: { usd: 1 } } };
    },
  },
  {
    name: "submit DAG for the agent key's own agent",
    method: "POST",
    okStatus: 201,
    grpcMethod: "SubmitDag",
    expect: row(ok, no, no, ok),
    async prepare(fx, caller) {
      const body = dagBody(fx.agentA.id);
      return {
        url: "/v1/dags",
        body,
        grpc: { ...body, input: { fields: { topic: { stringValue: "roles" } } } },
        async verify(r) {
          const id = (r as { id: string }).id;
          const dag = await fx.service.getDag(id);
          expect(dag).toMatchObject({ agentId: fx.agentA.id, name: "matrix", input: { topic: "roles" }, tasks: [{ id: "t1", kind: "llm" }] });
          expect(await fx.submittedBy(id)).toBe(fx.keyIds[caller as "admin" | "agent"]);
        },
      };
    },
  },
  {
    name: "submit DAG for another agent",
    method: "POST",
    okStatus: 201,
    grpcMethod: "SubmitDag",
    expect: row(ok, no, no, no),
    async prepare(fx) {
      const body = dagBody(fx.agentB.id);
      return { url: "/v1/dags", body, grpc: { ...body, input: { fields: { topic: { stringValue: "roles" } } } } };
    },
  },
  {
    name: "list DAGs",
    method: "GET",
    okStatus: 200,
    grpcMethod: "ListDags",
    expect: row(ok, ok, ok, ok),
    async prepare(fx, caller) {
      const [own, other] = await Promise.all([fx.runningDag(fx.agentA.id), fx.runningDag(fx.agentB.id)]);
      return {
        url: `/v1/dags?limit=${dagListLimits.maxLimit}`,
        grpc: { limit: dagListLimits.maxLimit },
        verify(r) {
          const dags = (r as { dags: { id: string; agent_id: string }[] }).dags;
          expect(dags.map((d) => d.id)).toContain(own);
          if (caller === "agent") expect(dags.every((d) => d.agent_id === fx.agentA.id)).toBe(true);
          else expect(dags.map((d) => d.id)).toContain(other);
        },
      };
    },
  },
  {
    name: "list another agent's DAGs",
    method: "GET",
    okStatus: 200,
    grpcMethod: "ListDags",
    expect: row(ok, ok, ok, ok),
    async prepare(fx, caller) {
      const other = await fx.runningDag(fx.agentB.id);
      return {
        url: `/v1/dags?agent_id=${fx.agentB.id}&limit=${dagListLimits.maxLimit}`,
        grpc: { agent_id: fx.agentB.id, limit: dagListLimits.maxLimit },
        verify(r) {
          const ids = (r as { dags: { id: string }[] }).dags.map((d) => d.id);
          if (caller === "agent") expect(ids).toEqual([]);
          else expect(ids).toContain(other);
        },
      };
    },
  },
  {
    name: "usage report",
    method: "GET",
    okStatus: 200,
    grpcMethod: "GetUsage",
    expect: row(ok, ok, ok, ok),
    async prepare(fx, caller) {
      return {
        url: "/v1/usage",
        grpc: {},
        verify(r) {
          const report = r as { bucket: string; by_agent: { agent_id: string }[] };
          expect(report.bucket).toBe("hour");
          if (caller === "agent") expect(report.by_agent.every((a) => a.agent_id === fx.agentA.id)).toBe(true);
        },
      };
    },
  },
  {
    name: "usage report of another agent",
    method: "GET",
    okStatus: 200,
    grpcMethod: "GetUsage",
    expect: row(ok, ok, ok, ok),
    async prepare(fx, caller) {
      return {
        url: `/v1/usage?agent_id=${fx.agentB.id}`,
        grpc: { agent_id: fx.agentB.id },
        verify(r) {
          const report = r as { totals: { calls: number }; by_agent: { agent_id: string }[] };
          if (caller === "agent") expect(report).toMatchObject({ totals: { calls: 0 }, by_agent: [] });
          else expect(report.by_agent.every((a) => a.agent_id === fx.agentB.id)).toBe(true);
        },
      };
    },
  },
  {
    name: "get own agent's DAG",
    method: "GET",
    okStatus: 200,
    grpcMethod: "GetDag",
    expect: row(ok, ok, ok, ok),
    async prepare(fx) {
      const id = await fx.runningDag(fx.agentA.id);
      return { url: `/v1/dags/${id}`, grpc: { id }, verify: hasId(id) };
    },
  },
  {
    name: "get another agent's DAG",
    method: "GET",
    okStatus: 200,
    grpcMethod: "GetDag",
    expect: row(ok, ok, ok, nf),
    async prepare(fx) {
      const id = await fx.runningDag(fx.agentB.id);
      return { url: `/v1/dags/${id}`, grpc: { id }, verify: hasId(id) };
    },
  },
  {
    name: "get an unknown DAG",
    method: "GET",
    okStatus: 200,
    grpcMethod: "GetDag",
    expect: row(nf, nf, nf, nf),
    async prepare() {
      const id = randomUUID();
      return { url: `/v1/dags/${id}`, grpc: { id } };
    },
  },
  {
    name: "cancel own agent's DAG",
    method: "POST",
    okStatus: 200,
    grpcMethod: "CancelDag",
    expect: row(ok, ok, no, no),
    async prepare(fx) {
      const id = await fx.runningDag(fx.agentA.id);
      return { url: `/v1/dags/${id}/cancel`, grpc: { id }, verify: (r) => expect(r).toMatchObject({ id, status: "cancelled" }) };
    },
  },
  {
    name: "cancel another agent's DAG",
    method: "POST",
    okStatus: 200,
    grpcMethod: "CancelDag",
    expect: row(ok, ok, no, no),
    async prepare(fx) {
      const id = await fx.runningDag(fx.agentB.id);
      return { url: `/v1/dags/${id}/cancel`, grpc: { id }, verify: (r) => expect(r).toMatchObject({ id, status: "cancelled" }) };
    },
  },
  {
    name: "watch own agent's DAG",
    method: "GET",
    okStatus: 200,
    grpcMethod: "WatchDag",
    stream: true,
    expect: row(ok, ok, ok, ok),
    async prepare(fx) {
      const dag = await fx.finishedDag(fx.agentA.id);
      return {
        url: `/v1/dags/${dag.id}/events`,
        grpc: { id: dag.id },
        verify: (events) =>
          expect(events).toEqual([
            expect.objectContaining({ dag_id: dag.id, type: "task_status", task_id: "t1", status: "succeeded" }),
            expect.objectContaining({ dag_id: dag.id, type: "dag_status", status: dag.status }),
          ]),
      };
    },
  },
  {
    name: "watch another agent's DAG",
    method: "GET",
    okStatus: 200,
    grpcMethod: "WatchDag",
    stream: true,
    expect: row(ok, ok, ok, nf),
    async prepare(fx) {
      const dag = await fx.finishedDag(fx.agentB.id);
      return {
        url: `/v1/dags/${dag.id}/events`,
        grpc: { id: dag.id },
        verify: (events) => expect((events as { type: string; status: string }[]).at(-1)).toMatchObject({ type: "dag_status", status: dag.status }),
      };
    },
  },
  {
    name: "list approvals",
    method: "GET",
    okStatus: 200,
    grpcMethod: "ListApprovals",
    expect: row(ok, ok, ok, no),
    async prepare(fx) {
      const approval = await fx.pendingApproval(fx.agentA.id);
      return {
        url: "/v1/approvals?status=pending",
        grpc: { status: "pending" },
        verify: (r) =>
          expect((r as { approvals: { id: string }[] }).approvals.find((a) => a.id === approval)).toMatchObject({
            agent_id: fx.agentA.id,
            agent_name: fx.agentA.name,
            dag_name: "fixture",
          }),
      };
    },
  },
  {
    name: "approve a tool call",
    method: "POST",
    okStatus: 200,
    grpcMethod: "DecideApproval",
    expect: row(ok, ok, no, no),
    async prepare(fx, caller) {
      const approval = await fx.pendingApproval(fx.agentA.id);
      return {
        url: `/v1/approvals/${approval}/approve`,
        body: { reason: "looks safe" },
        grpc: { id: approval, decision: "approve", reason: "looks safe" },
        verify: (r) => expect(r).toMatchObject({ id: approval, status: "approved", decided_by: fx.keyIds[caller as "admin"], reason: "looks safe" }),
      };
    },
  },
  {
    name: "reject a tool call",
    method: "POST",
    okStatus: 200,
    grpcMethod: "DecideApproval",
    expect: row(ok, ok, no, no),
    async prepare(fx) {
      const approval = await fx.pendingApproval(fx.agentA.id);
      return {
        url: `/v1/approvals/${approval}/reject`,
        grpc: { id: approval, decision: "reject" },
        verify: (r) => expect(r).toMatchObject({ id: approval, status: "rejected" }),
      };
    },
  },
  {
    name: "create an API key",
    method: "POST",
    okStatus: 201,
    grpcMethod: "CreateApiKey",
    expect: row(ok, no, no, no),
    async prepare(fx) {
      const request = { name: `k-${randomUUID()}`, role: "agent", agent_id: fx.agentB.id };
      return {
        url: "/v1/api-keys",
        body: request,
        grpc: request,
        async verify(r) {
          const secret = (r as { secret: string }).secret;
          expect(secret).toMatch(/^apex_[A-Za-z0-9_-]{43}$/);
          await expect(fx.keys.authenticate(secret)).resolves.toMatchObject({ role: "agent", agentId: fx.agentB.id });
        },
      };
    },
  },
  {
    name: "list API keys",
    method: "GET",
    okStatus: 200,
    grpcMethod: "ListApiKeys",
    expect: row(ok, no, no, no),
    async prepare(fx) {
      return {
        url: "/v1/api-keys",
        grpc: {},
        verify(r) {
          const text = JSON.stringify(r);
          for (const token of Object.values(fx.tokens)) if (token) expect(text).not.toContain(token);
          expect(text).not.toMatch(/[0-9a-f]{64}/);
          expect((r as { api_keys: { id: string }[] }).api_keys.map((k) => k.id)).toContain(fx.keyIds.viewer);
        },
      };
    },
  },
  {
    name: "revoke an API key",
    method: "DELETE",
    okStatus: 200,
    grpcMethod: "RevokeApiKey",
    expect: row(ok, no, no, no),
    async prepare(fx) {
      const victim = await fx.keys.create({ name: `victim-${randomUUID()}`, role: "viewer" });
      return {
        url: `/v1/api-keys/${victim.key.id}`,
        grpc: { id: victim.key.id },
        async verify(r) {
          expect((r as { revoked_at?: string }).revoked_at).toBeTruthy();
          await expect(fx.keys.authenticate(victim.secret)).resolves.toBeUndefined();
        },
      };
    },
  },
  {
    name: "get an API key's budget",
    method: "GET",
    okStatus: 200,
    grpcMethod: "GetKeyBudget",
    expect: row(ok, ok, no, no),
    async prepare(fx) {
      const id = fx.keyIds.viewer;
      await fx.service.replaceOwnerBudgets({ scope: "api_key", id }, { total: { microUsd: 2_500_000 } }, "matrix");
      return { url: `/v1/api-keys/${id}/budget`, grpc: { id }, verify: hasBudgets([{ scope: "api_key", scope_id: id, period: "total", limit_usd: 2.5 }]) };
    },
  },
  {
    name: "get an unknown API key's budget",
    method: "GET",
    okStatus: 200,
    grpcMethod: "GetKeyBudget",
    expect: row(nf, nf, no, no),
    async prepare() {
      const id = randomUUID();
      return { url: `/v1/api-keys/${id}/budget`, grpc: { id } };
    },
  },
  {
    name: "set an API key's budget",
    method: "PUT",
    okStatus: 200,
    grpcMethod: "SetKeyBudget",
    expect: row(ok, ok, no, no),
    async prepare(fx) {
      const { key } = await fx.keys.create({ name: `budgeted-${randomUUID()}`, role: "agent", agentId: fx.agentB.id });
      const limits = { hour: { tokens: 5_000 } };
      return {
        url: `/v1/api-keys/${key.id}/budget`,
        body: limits,
        grpc: { id: key.id, ...limits },
        async verify(r) {
          expect((r as { budgets: unknown[] }).budgets).toEqual([
            expect.objectContaining({ scope: "api_key", scope_id: key.id, period: "hour", limit_tokens: 5_000 }),
          ]);
          expect(await fx.service.ownerBudgets({ scope: "api_key", id: key.id })).toEqual([
            expect.objectContaining({ period: "hour", limitMicroUsd: null, limitTokens: 5_000 }),
          ]);
        },
      };
    },
  },
  {
    name: "set an unknown API key's budget",
    method: "PUT",
    okStatus: 200,
    grpcMethod: "SetKeyBudget",
    expect: row(nf, nf, no, no),
    async prepare() {
      const id = randomUUID();
      return { url: `/v1/api-keys/${id}/budget`, body: { total: { usd: 1 } }, grpc: { id, total: { usd: 1 } } };
    },
  },
];
