/**
 * The HTTP routes of the authenticated API, as data: the server registers them from this table and
 * GET /openapi.json documents them from it, so the two cannot drift apart.
 */
import type { FastifyRequest } from "fastify";
import type { z } from "zod";
import { ApiError } from "../errors";
import type { OperationName } from "../operations";
import * as s from "../schemas";

export interface ApiRoute {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  /** Fastify syntax (`:id`). */
  readonly url: string;
  readonly operation: OperationName;
  /** OpenAPI operationId when one operation serves several routes; default the operation's name. */
  readonly operationId?: string;
  readonly summary: string;
  readonly successStatus: 200 | 201;
  /** Builds the operation's input from the request (params win over body fields of the same name). */
  readonly input: (req: FastifyRequest) => unknown;
  readonly body?: z.ZodType;
  readonly query?: z.ZodType;
  readonly response: z.ZodType;
}

const params = (req: FastifyRequest): Record<string, unknown> => (req.params ?? {}) as Record<string, unknown>;
const query = (req: FastifyRequest): Record<string, unknown> => (req.query ?? {}) as Record<string, unknown>;

/** The body as an object; an absent body is `{}`, anything but a JSON object is a 400 on `body`. */
export function bodyObject(req: FastifyRequest): Record<string, unknown> {
  const body: unknown = req.body;
  if (body === undefined || body === null) return {};
  if (typeof body !== "object" || Array.isArray(body)) {
    throw new ApiError("invalid_argument", "the request body must be a JSON object", "body");
  }
  return body as Record<string, unknown>;
}

/** A PUT's body: required, since an absent one must not read as `{}` (which removes every budget). */
function putBody(req: FastifyRequest): Record<string, unknown> {
  if (req.body === undefined || req.body === null) {
    throw new ApiError("invalid_argument", "a JSON object body is required: the whole set of budgets ({} removes them all)", "body");
  }
  return { ...bodyObject(req), ...params(req) };
}

export const apiRoutes: readonly ApiRoute[] = [
  {
    method: "GET",
    url: "/v1/me",
    operation: "getMe",
    summary: "The calling key (id, name, role, agent, prefix), what it may do, and where the console links traces and logs.",
    successStatus: 200,
    input: query,
    response: s.meJson,
  },
  {
    method: "POST",
    url: "/v1/agents",
    operation: "createAgent",
    summary: "Create an agent.",
    successStatus: 201,
    input: bodyObject,
    body: s.createAgentBody,
    response: s.agentJson,
  },
  {
    method: "GET",
    url: "/v1/agents",
    operation: "listAgents",
    summary: "List agents; agent keys see only their own agent.",
    successStatus: 200,
    input: query,
    response: s.agentListJson,
  },
  {
    method: "GET",
    url: "/v1/agents/:id/budget",
    operation: "getAgentBudget",
    summary: "An agent's budgets (total, month, day, hour), each in its current period: limit, spent, reserved, remaining, reset. Agent keys only their own agent's.",
    successStatus: 200,
    input: params,
    response: s.budgetListJson,
  },
  {
    method: "PUT",
    url: "/v1/agents/:id/budget",
    operation: "setAgentBudget",
    summary: "Replace an agent's budgets: the periods in the body are set (spend so far is kept), the others removed; {} removes all.",
    successStatus: 200,
    input: putBody,
    body: s.ownerBudgetsBody,
    response: s.budgetListJson,
  },
  {
    method: "POST",
    url: "/v1/dags",
    operation: "submitDag",
    summary: "Submit a DAG; agent keys only for their own agent. Validated and written in one transaction.",
    successStatus: 201,
    input: (req) => req.body,
    body: s.submitDagBody,
    response: s.dagStatusJson,
  },
  {
    method: "GET",
    url: "/v1/dags",
    operation: "listDags",
    summary:
      "List DAG summaries (no tasks), newest first unless sorted otherwise, a page at a time; filter by status, agent and creation time. Agent keys see only their own agent's DAGs.",
    successStatus: 200,
    input: query,
    query: s.listDagsQuery,
    response: s.dagListJson,
  },
  {
    method: "GET",
    url: "/v1/dags/:id",
    operation: "getDag",
    summary: "A DAG with per-task status, output, attempts, tokens and cost, and totals; agent keys only their own agent's.",
    successStatus: 200,
    input: params,
    response: s.dagJson,
  },
  {
    method: "GET",
    url: "/v1/usage",
    operation: "getUsage",
    summary:
      "LLM usage of a period (default the last 24 hours): totals, by agent and by model (most expensive first), and cost per hour or day. Agent keys see only their own agent's usage.",
    successStatus: 200,
    input: query,
    query: s.usageReportQuery,
    response: s.usageReportJson,
  },
  {
    method: "POST",
    url: "/v1/dags/:id/cancel",
    operation: "cancelDag",
    summary: "Cancel a DAG: running tasks are aborted, the rest cancelled.",
    successStatus: 200,
    input: params,
    response: s.dagStatusJson,
  },
  {
    method: "GET",
    url: "/v1/approvals",
    operation: "listApprovals",
    summary: "List tool approvals, optionally by status.",
    successStatus: 200,
    input: query,
    query: s.listApprovalsQuery,
    response: s.approvalListJson,
  },
  {
    method: "POST",
    url: "/v1/approvals/:id/approve",
    operation: "decideApproval",
    operationId: "approve",
    summary: "Approve a parked tool call; recorded with who and when.",
    successStatus: 200,
    input: (req) => ({ ...bodyObject(req), ...params(req), decision: "approve" }),
    body: s.decideApprovalBody,
    response: s.approvalJson,
  },
  {
    method: "POST",
    url: "/v1/approvals/:id/reject",
    operation: "decideApproval",
    operationId: "reject",
    summary: "Reject a parked tool call; recorded with who and when.",
    successStatus: 200,
    input: (req) => ({ ...bodyObject(req), ...params(req), decision: "reject" }),
    body: s.decideApprovalBody,
    response: s.approvalJson,
  },
  {
    method: "POST",
    url: "/v1/api-keys",
    operation: "createApiKey",
    summary: "Create an API key. The secret is in this response only.",
    successStatus: 201,
    input: bodyObject,
    body: s.createApiKeyBody,
    response: s.createdApiKeyJson,
  },
  {
    method: "GET",
    url: "/v1/api-keys",
    operation: "listApiKeys",
    summary: "List API keys without their secrets.",
    successStatus: 200,
    input: query,
    response: s.apiKeyListJson,
  },
  {
    method: "DELETE",
    url: "/v1/api-keys/:id",
    operation: "revokeApiKey",
    summary: "Revoke an API key, effective on the next request.",
    successStatus: 200,
    input: params,
    response: s.apiKeyJson,
  },
  {
    method: "GET",
    url: "/v1/api-keys/:id/budget",
    operation: "getKeyBudget",
    summary: "An API key's budgets (total, month, day, hour) over the DAGs it submits, each in its current period.",
    successStatus: 200,
    input: params,
    response: s.budgetListJson,
  },
  {
    method: "PUT",
    url: "/v1/api-keys/:id/budget",
    operation: "setKeyBudget",
    summary: "Replace an API key's budgets: the periods in the body are set (spend so far is kept), the others removed; {} removes all.",
    successStatus: 200,
    input: putBody,
    body: s.ownerBudgetsBody,
    response: s.budgetListJson,
  },
];
