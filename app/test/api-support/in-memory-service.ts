/**
 * TEST DOUBLE: an in-memory ApexService for the transport tests, so the API layer can be tested
 * without the engine. It honours the interface's contract (scoping, ServiceError codes, watch
 * until unsubscribed) but executes nothing. The end-to-end tests use the real service.
 */
import { randomUUID } from "node:crypto";
import type { BudgetState } from "../../src/domain/budget";
import {
  ServiceError,
  type Agent,
  type ApexService,
  type ApprovalView,
  type BudgetOwner,
  type DagEvent,
  type DagListQuery,
  type DagPage,
  type DagStatus,
  type DagView,
  type OwnerLimits,
  type Principal,
  type UsageReport,
  type UsageReportQuery,
} from "../../src/service/types";
import { usageBucketOf } from "../../src/service/usage-report";

const zeroUsage = { inputTokens: 0, outputTokens: 0, cachedTokens: 0, costUsd: 0 };
const finalStatuses = new Set<DagStatus>(["succeeded", "failed", "cancelled"]);

export class InMemoryApexServiceDouble implements ApexService {
  readonly agents = new Map<string, Agent>();
  readonly dags = new Map<string, DagView>();
  readonly approvals = new Map<string, ApprovalView>();
  /** Every submitDag call, with the principal the transport passed down. */
  readonly submissions: { body: unknown; principal: Principal; dagId: string }[] = [];
  private readonly watchers = new Map<string, Set<(e: DagEvent) => void>>();
  /** Owners' limits by `scope:id`; nothing is spent here. The double knows no API keys: every key id exists. */
  private readonly ownerLimits = new Map<string, OwnerLimits>();
  isReady = true;

  async createAgent(input: { name: string; description?: string }): Promise<Agent> {
    if ([...this.agents.values()].some((a) => a.name === input.name)) {
      throw new ServiceError("conflict", `an agent named ${input.name} exists`, "name");
    }
    const agent: Agent = { id: randomUUID(), name: input.name, ...(input.description ? { description: input.description } : {}), createdAt: new Date().toISOString() };
    this.agents.set(agent.id, agent);
    return agent;
  }

  async listAgents(scope?: { agentId?: string }): Promise<Agent[]> {
    return [...this.agents.values()].filter((a) => !scope?.agentId || a.id === scope.agentId);
  }

  async submitDag(body: unknown, principal: Principal): Promise<{ id: string; status: DagStatus }> {
    const b = body as { agent_id?: unknown; name?: unknown; tasks?: unknown } | null;
    if (typeof b !== "object" || b === null || Array.isArray(b)) throw new ServiceError("invalid_argument", "expected an object", "body");
    if (typeof b.agent_id !== "string" || !this.agents.has(b.agent_id)) throw new ServiceError("invalid_argument", "unknown agent", "agent_id");
    if (typeof b.name !== "string" || b.name === "") throw new ServiceError("invalid_argument", "name is required", "name");
    if (!Array.isArray(b.tasks) || b.tasks.length === 0) throw new ServiceError("invalid_argument", "at least one task", "tasks");
    const dag = this.seedDag(b.agent_id, b.name);
    this.submissions.push({ body, principal, dagId: dag.id });
    return { id: dag.id, status: dag.status };
  }

  async getDag(id: string, scope?: { agentId?: string }): Promise<DagView> {
    const dag = this.dags.get(id);
    if (!dag || (scope?.agentId && dag.agentId !== scope.agentId)) throw new ServiceError("not_found", `no DAG with id ${id}`, "id");
    return dag;
  }

  /** Pages by (createdAt, id) like the store; the cursor is simply the last row's position. */
  async listDags(query: DagListQuery, scope?: { agentId?: string }): Promise<DagPage> {
    if (scope?.agentId && query.agentId && query.agentId !== scope.agentId) return { dags: [] };
    const agentId = scope?.agentId ?? query.agentId;
    const direction = query.sort === "created_at" ? 1 : -1;
    const position = (d: DagView) => `${d.createdAt} ${d.id}`;
    const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    const after = query.cursor === undefined ? undefined : Buffer.from(query.cursor, "base64url").toString();
    const since = query.createdSince ? Date.parse(query.createdSince) : -Infinity;
    const until = query.createdUntil ? Date.parse(query.createdUntil) : Infinity;
    const rows = [...this.dags.values()]
      .filter((d) => (!agentId || d.agentId === agentId) && (!query.status || d.status === query.status))
      .filter((d) => Date.parse(d.createdAt) >= since && Date.parse(d.createdAt) < until)
      .filter((d) => after === undefined || compare(position(d), after) === direction)
      .sort((a, b) => direction * compare(position(a), position(b)));
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      dags: page.map(({ id, agentId: agent, name, status, totals, createdAt }) => ({ id, agentId: agent, name, status, totals, createdAt })),
      ...(rows.length > page.length && last ? { nextCursor: Buffer.from(position(last)).toString("base64url") } : {}),
    };
  }

  async cancelDag(id: string, scope?: { agentId?: string }, _cancelledBy?: string): Promise<{ id: string; status: DagStatus }> {
    const dag = await this.getDag(id, scope);
    if (finalStatuses.has(dag.status)) throw new ServiceError("conflict", `DAG ${id} already ${dag.status}`, "id");
    this.setDagStatus(id, "cancelled");
    return { id, status: "cancelled" };
  }

  async listApprovals(filter?: { status?: ApprovalView["status"] }): Promise<ApprovalView[]> {
    return [...this.approvals.values()].filter((a) => !filter?.status || a.status === filter.status);
  }

  async decideApproval(id: string, decision: "approve" | "reject", principal: Principal, reason?: string): Promise<ApprovalView> {
    const approval = this.approvals.get(id);
    if (!approval) throw new ServiceError("not_found", `no approval with id ${id}`, "id");
    if (approval.status !== "pending") throw new ServiceError("conflict", `approval ${id} is already ${approval.status}`, "id");
    const decided: ApprovalView = {
      ...approval,
      status: decision === "approve" ? "approved" : "rejected",
      decidedBy: principal.keyId,
      decidedAt: new Date().toISOString(),
      ...(reason ? { reason } : {}),
    };
    this.approvals.set(id, decided);
    return decided;
  }

  /** Nothing executes here, so nothing is used: an empty report of the period asked for. */
  async usageReport(query: UsageReportQuery): Promise<UsageReport> {
    return {
      since: query.since.toISOString(),
      until: query.until.toISOString(),
      totals: { ...zeroUsage, calls: 0, unknownCalls: 0 },
      byAgent: [],
      byModel: [],
      bucket: usageBucketOf(query.since, query.until),
      series: [],
    };
  }

  async ownerBudgets(owner: BudgetOwner, scope?: { agentId?: string }): Promise<BudgetState[]> {
    if ((owner.scope === "agent" && !this.agents.has(owner.id)) || (scope?.agentId && owner.id !== scope.agentId)) {
      throw new ServiceError("not_found", `no ${owner.scope} with id ${owner.id}`, "id");
    }
    const limits = this.ownerLimits.get(`${owner.scope}:${owner.id}`) ?? {};
    return (["total", "month", "day", "hour"] as const).flatMap((period) => {
      const l = limits[period];
      if (!l) return [];
      return [{ scope: owner.scope, scopeId: owner.id, period, limitMicroUsd: l.microUsd ?? null, limitTokens: l.tokens ?? null,
                spentMicroUsd: 0, spentTokens: 0, reservedMicroUsd: 0, reservedTokens: 0, resetsAt: null }];
    });
  }

  async replaceOwnerBudgets(owner: BudgetOwner, limits: OwnerLimits): Promise<BudgetState[]> {
    if (owner.scope === "agent" && !this.agents.has(owner.id)) throw new ServiceError("not_found", `no agent with id ${owner.id}`, "id");
    this.ownerLimits.set(`${owner.scope}:${owner.id}`, limits);
    return this.ownerBudgets(owner);
  }

  async watchDag(id: string, onEvent: (e: DagEvent) => void, scope?: { agentId?: string }): Promise<() => Promise<void>> {
    await this.getDag(id, scope);
    const set = this.watchers.get(id) ?? new Set();
    this.watchers.set(id, set);
    set.add(onEvent);
    return async () => {
      set.delete(onEvent);
    };
  }

  async ready(): Promise<boolean> {
    return this.isReady;
  }

  watcherCount(dagId: string): number {
    return this.watchers.get(dagId)?.size ?? 0;
  }

  seedDag(agentId: string, name = "seeded", status: DagStatus = "running"): DagView {
    const dag: DagView = {
      id: randomUUID(),
      agentId,
      name,
      status,
      input: { topic: "x" },
      tasks: [
        {
          id: "t1",
          kind: "llm",
          status: status === "running" ? "running" : "succeeded",
          dependsOn: [],
          attempts: [],
          usage: zeroUsage,
        },
      ],
      totals: zeroUsage,
      createdAt: new Date().toISOString(),
      budget: { onExhausted: "fail", budgets: [] },
    };
    this.dags.set(dag.id, dag);
    return dag;
  }

  seedApproval(dagId: string): ApprovalView {
    const approval: ApprovalView = {
      id: randomUUID(),
      dagId,
      taskId: "t1",
      tool: "shell",
      args: { cmd: ["echo", "hi"] },
      status: "pending",
      createdAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 24 * 60 * 60_000).toISOString(),
    };
    this.approvals.set(approval.id, approval);
    return approval;
  }

  /** Emits a task or DAG status change to watchers, as the engine would. */
  setTaskStatus(dagId: string, taskId: string, status: string): void {
    this.emit({ dagId, type: "task_status", taskId, status, at: new Date().toISOString() });
  }

  setDagStatus(dagId: string, status: DagStatus): void {
    const dag = this.dags.get(dagId);
    if (dag) this.dags.set(dagId, { ...dag, status });
    this.emit({ dagId, type: "dag_status", status, at: new Date().toISOString() });
  }

  private emit(e: DagEvent): void {
    for (const w of this.watchers.get(e.dagId) ?? []) w(e);
  }
}
