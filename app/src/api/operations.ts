/**
 * The API's operations, once for both transports: each names the permission it needs (or only an
 * authenticated key, `authenticated`), parses its
 * input with zod, calls the service (scoped to the caller's agent for agent keys) and returns the
 * wire shape. HTTP routes and gRPC methods only authenticate, build the input and call `invoke`.
 */
import { z } from "zod";
import { agentScope, can, rolePermissions, type Permission } from "../auth/permissions";
import { checkUsagePeriod, usagePeriodOf } from "../service/usage-report";
import type { BudgetOwner, Principal } from "../service/types";
import { budgetJson, ownerLimitsOf } from "./budget-json";
import type { ApiDeps } from "./deps";
import { ApiError, fromZodError } from "./errors";
import { agentJson, apiKeyJson, approvalJson, dagEventJson, dagJson, dagSummaryJson, usageReportJson } from "./present";
import {
  createAgentBody,
  createApiKeyBody,
  decideApprovalBody,
  idParams,
  listApprovalsQuery,
  listDagsQuery,
  ownerBudgetsBody,
  usageReportQuery,
  type AgentJson,
  type ApiKeyJson,
  type ApprovalJson,
  type BudgetListJson,
  type CreatedApiKeyJson,
  type DagEventJson,
  type DagJson,
  type DagListJson,
  type DagStatusJson,
  type MeJson,
  type UsageReportJson,
} from "./schemas";

/** What an operation needs: a permission of the caller's role, or just a valid key of any role. */
export type Requirement = Permission | "authenticated";

export interface Operation<I, O> {
  readonly permission: Requirement;
  readonly input: z.ZodType<I>;
  run(deps: ApiDeps, principal: Principal, input: I): Promise<O>;
}

const define = <I, O>(op: Operation<I, O>): Operation<I, O> => op;
const empty = z.strictObject({});
/** PUT .../budget: the body's periods and the owner's id from the path. */
const setBudgetsInput = ownerBudgetsBody.extend({ id: idParams.shape.id });

/** The budget reads and writes, alike for an agent and an API key. */
function ownerBudgetOperations(scope: BudgetOwner["scope"], readPermission: Permission) {
  return {
    get: define({
      permission: readPermission,
      input: idParams,
      run: async ({ service }, p, { id }): Promise<BudgetListJson> => ({
        budgets: (await service.ownerBudgets({ scope, id }, agentScope(p))).map(budgetJson),
      }),
    }),
    set: define({
      permission: "budgets:write",
      input: setBudgetsInput,
      run: async ({ service }, p, { id, ...body }): Promise<BudgetListJson> => ({
        budgets: (await service.replaceOwnerBudgets({ scope, id }, ownerLimitsOf(body), p.keyId)).map(budgetJson),
      }),
    }),
  };
}
const agentBudget = ownerBudgetOperations("agent", "agents:read");
const keyBudget = ownerBudgetOperations("api_key", "budgets:write");

export const operations = {
  getMe: define({
    permission: "authenticated",
    input: empty,
    run: async ({ keys, links }, p): Promise<MeJson> => {
      const key = await keys.get(p.keyId);
      // Revoked or deleted since this process cached the key: as unknown as the next request will find it.
      if (!key || key.revokedAt) throw new ApiError("unauthenticated", "unknown or revoked API key");
      return {
        key: { id: key.id, name: key.name, role: p.role, ...(p.agentId ? { agent_id: p.agentId } : {}), prefix: key.prefix },
        permissions: [...rolePermissions[p.role]].sort(),
        links: {
          ...(links?.traceUrlTemplate ? { trace_url_template: links.traceUrlTemplate } : {}),
          ...(links?.logsUrlTemplate ? { logs_url_template: links.logsUrlTemplate } : {}),
        },
      };
    },
  }),
  createAgent: define({
    permission: "agents:write",
    input: createAgentBody,
    run: async ({ service }, _p, input): Promise<AgentJson> => agentJson(await service.createAgent(input)),
  }),
  listAgents: define({
    permission: "agents:read",
    input: empty,
    run: async ({ service }, p): Promise<{ agents: AgentJson[] }> => ({
      agents: (await service.listAgents(agentScope(p))).map(agentJson),
    }),
  }),
  getAgentBudget: agentBudget.get,
  setAgentBudget: agentBudget.set,
  submitDag: define({
    permission: "dags:submit",
    // The service validates the DAG in full; see schemas.submitDagBody for its documented shape.
    input: z.unknown(),
    run: async ({ service }, p, body): Promise<DagStatusJson> => {
      const scope = agentScope(p);
      if (scope && isObject(body) && typeof body.agent_id === "string" && body.agent_id !== scope.agentId) {
        throw new ApiError("permission_denied", "this key may only submit DAGs for its own agent", "agent_id");
      }
      const created = await service.submitDag(body, p);
      return { id: created.id, status: created.status };
    },
  }),
  listDags: define({
    permission: "dags:read",
    input: listDagsQuery,
    run: async ({ service }, p, q): Promise<DagListJson> => {
      const page = await service.listDags(
        {
          ...(q.status ? { status: q.status } : {}),
          ...(q.agent_id ? { agentId: q.agent_id } : {}),
          ...(q.created_since ? { createdSince: q.created_since } : {}),
          ...(q.created_until ? { createdUntil: q.created_until } : {}),
          ...(q.cursor ? { cursor: q.cursor } : {}),
          sort: q.sort,
          limit: q.limit,
        },
        agentScope(p),
      );
      return { dags: page.dags.map(dagSummaryJson), ...(page.nextCursor ? { next_cursor: page.nextCursor } : {}) };
    },
  }),
  getDag: define({
    permission: "dags:read",
    input: idParams,
    run: async (deps, p, { id }): Promise<DagJson> => dagJson(await getScopedDag(deps, p, id)),
  }),
  getUsage: define({
    permission: "dags:read",
    input: usageReportQuery,
    run: async ({ service }, p, q): Promise<UsageReportJson> => {
      const period = usagePeriodOf(q);
      checkUsagePeriod(period);
      return usageReportJson(await service.usageReport({ ...period, ...(q.agent_id ? { agentId: q.agent_id } : {}) }, agentScope(p)));
    },
  }),
  cancelDag: define({
    permission: "dags:cancel",
    input: idParams,
    run: async ({ service }, p, { id }): Promise<DagStatusJson> => {
      const result = await service.cancelDag(id, agentScope(p), p.keyId);
      return { id: result.id, status: result.status };
    },
  }),
  listApprovals: define({
    permission: "approvals:read",
    input: listApprovalsQuery,
    run: async ({ service }, _p, filter): Promise<{ approvals: ApprovalJson[] }> => ({
      approvals: (await service.listApprovals(filter)).map(approvalJson),
    }),
  }),
  decideApproval: define({
    permission: "approvals:decide",
    input: decideApprovalBody.extend({ id: idParams.shape.id, decision: z.enum(["approve", "reject"]) }),
    run: async ({ service }, p, { id, decision, reason }): Promise<ApprovalJson> =>
      approvalJson(await service.decideApproval(id, decision, p, reason)),
  }),
  createApiKey: define({
    permission: "api_keys:manage",
    input: createApiKeyBody,
    run: async ({ keys }, _p, input): Promise<CreatedApiKeyJson> => {
      const { key, secret } = await keys.create({ name: input.name, role: input.role, agentId: input.agent_id });
      return { ...apiKeyJson(key), secret };
    },
  }),
  listApiKeys: define({
    permission: "api_keys:manage",
    input: empty,
    run: async ({ keys }): Promise<{ api_keys: ApiKeyJson[] }> => ({ api_keys: (await keys.list()).map(apiKeyJson) }),
  }),
  revokeApiKey: define({
    permission: "api_keys:manage",
    input: idParams,
    run: async ({ keys }, _p, { id }): Promise<ApiKeyJson> => apiKeyJson(await keys.revoke(id)),
  }),
  getKeyBudget: keyBudget.get,
  setKeyBudget: keyBudget.set,
} as const;

export type OperationName = keyof typeof operations;

/**
 * The principal behind an `Authorization`-style value (`Bearer <key>`), or unauthenticated. With
 * `deps.limits` the client address is rate limited first (before any lookup), then the key.
 */
export async function authenticate(deps: ApiDeps, authorization: string | undefined, clientIp = "unknown"): Promise<Principal> {
  await deps.limits?.admitIp(clientIp);
  const match = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  if (!match?.[1]) throw new ApiError("unauthenticated", "missing API key: send Authorization: Bearer <key>");
  const principal = await deps.keys.authenticate(match[1]);
  if (!principal) throw new ApiError("unauthenticated", "unknown or revoked API key");
  await deps.limits?.admitKey(principal.keyId);
  return principal;
}

/** Refuses a role without the permission; `authenticated` admits every (authenticated) principal. */
export function authorize(principal: Principal, permission: Requirement): void {
  if (permission !== "authenticated" && !can(principal.role, permission)) {
    throw new ApiError("permission_denied", `role ${principal.role} lacks permission ${permission}`);
  }
}

/** Authorise, then validate, then run: a caller without the permission learns nothing about input rules. */
export async function invoke<I, O>(deps: ApiDeps, principal: Principal, op: Operation<I, O>, rawInput: unknown): Promise<O> {
  authorize(principal, op.permission);
  const parsed = op.input.safeParse(rawInput);
  if (!parsed.success) throw fromZodError(parsed.error);
  return op.run(deps, principal, parsed.data);
}

export interface DagEventSink {
  event(e: DagEventJson): void;
  /** The DAG reached a final status; no more events follow. */
  end(): void;
}

const finalDagStatuses: ReadonlySet<string> = new Set(["succeeded", "failed", "cancelled"]);

/**
 * Streams one DAG's events: subscribes first, then sends a snapshot of the current task and DAG
 * statuses (so a late watcher is not left waiting), then the live events, and ends when the DAG
 * reaches a final status. An event that repeats the status last sent for its task (or the DAG) is
 * dropped, so a service that sends its own snapshot, or a change racing the snapshot, is not seen
 * twice. Returns the function that stops watching; call it when the client leaves.
 */
export async function watchDag(
  deps: ApiDeps,
  principal: Principal,
  rawInput: unknown,
  sink: DagEventSink,
): Promise<() => Promise<void>> {
  authorize(principal, "dags:read");
  const parsed = idParams.safeParse(rawInput);
  if (!parsed.success) throw fromZodError(parsed.error);
  const { id } = parsed.data;
  const scope = agentScope(principal);
  // Held until the watch stops; over the key's cap this throws before anything is subscribed.
  const releaseSlot = deps.limits?.openWatch(principal.keyId) ?? (() => undefined);

  let ended = false;
  let live = false;
  const buffered: DagEventJson[] = [];
  const lastStatus = new Map<string, string>();
  const deliver = (e: DagEventJson): void => {
    if (ended) return;
    const key = e.type === "task_status" ? `task:${e.task_id ?? ""}` : "dag";
    if (lastStatus.get(key) === e.status) return;
    lastStatus.set(key, e.status);
    sink.event(e);
    if (e.type === "dag_status" && finalDagStatuses.has(e.status)) {
      ended = true;
      // The stream is over whether or not the transport calls stop().
      releaseSlot();
      sink.end();
    }
  };

  let unsubscribe: () => Promise<void>;
  try {
    unsubscribe = await deps.service.watchDag(
      id,
      (e) => {
        const json = dagEventJson(e);
        if (live) deliver(json);
        else buffered.push(json);
      },
      scope,
    );
  } catch (error) {
    releaseSlot();
    throw error;
  }
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    ended = true;
    releaseSlot();
    await unsubscribe();
  };
  try {
    const dag = await getScopedDag(deps, principal, id);
    const at = new Date().toISOString();
    for (const task of dag.tasks) deliver({ dag_id: id, type: "task_status", task_id: task.id, status: task.status, at });
    deliver({ dag_id: id, type: "dag_status", status: dag.status, at });
  } catch (error) {
    await stop();
    throw error;
  }
  live = true;
  for (const e of buffered.splice(0)) deliver(e);
  return stop;
}

async function getScopedDag(deps: ApiDeps, principal: Principal, id: string) {
  const scope = agentScope(principal);
  const dag = await deps.service.getDag(id, scope);
  // The service scopes too; this keeps another agent's DAG out of the answer whatever it does.
  if (scope && dag.agentId !== scope.agentId) throw new ApiError("not_found", `no DAG with id ${id}`, "id");
  return dag;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
