/**
 * ApexService over the store: the one implementation the HTTP and gRPC transports call. The SQL
 * is in store/queries/dags.ts (one statement per submission, one transaction per decision);
 * committed changes are announced through the engine context (events, telemetry).
 */
import { randomUUID } from "node:crypto";
import { beginDagTrace, taskTraceCarrier } from "../telemetry/spans";
import type { Db } from "../store/db";
import type { ToolRegistry } from "../tools/types";
import { createInProcessEventBus } from "../coord/in-process";
import type { EventBus } from "../coord/types";
import { terminalDagStatuses } from "../domain/statuses";
import type { EngineObserver } from "../domain/engine-events";
import { engineContext, type EngineContext } from "../engine/context";
import { announce } from "../engine/events";
import { cancelDag, dagHead, decideApproval, insertDag, listApprovals, type ApprovalContextRow } from "../store/queries/dags";
import { budgetStates, replaceBudgets } from "../store/queries/budgets";
import { budgetOwnerExists, ownerBudgetLimits, type OwnerBudgetLimit } from "../store/queries/budget-owners";
import { budgetPeriodWords, type BudgetState } from "../domain/budget";
import { can } from "../auth/permissions";
import { modelCheckFromEnv, type ModelCheck } from "../llm/model-check";
import { listDagSummaries } from "./dag-list";
import { dagLimits, microUsdOf, type DagBudgetSpec } from "./dag-schema";
import { readDagView } from "./dag-view";
import { readUsageReport } from "./usage-report";
import { uuidPattern } from "./ids";
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
} from "./types";
import { validateDagSubmission } from "./validate-dag";
import { rejectUnstorable } from "./storable-input";
import { decodeJson, encodeText } from "../store/storable-text";
import { DagWatchHub } from "./watch-hub";
import { z } from "zod";

export interface ServiceDeps {
  readonly db: Db;
  /**
   * Where DAG events are published and watched: the runtime's bus, shared with its workers.
   * Default: a bus of this service's own (events of workers elsewhere never reach it).
   */
  readonly events?: EventBus;
  /** Default: telemetry. */
  readonly observer?: EngineObserver;
  /**
   * How often an open watch checks whether its DAG ended without the final event reaching it (a
   * publish lost while the bus was down). Then it sends the final snapshot and ends. 0 disables.
   * Default 10 s.
   */
  readonly watchReconcileMs?: number;
  /** Tool args are validated against these schemas at submission. */
  readonly tools: ToolRegistry;
  /**
   * Which models LLM tasks may name: a submission naming one the workers cannot call is refused.
   * Pass the runtime's LLM gateway (it has `checkModel`). Default: the providers this process's
   * environment enables, as a worker with the same environment builds them (`modelCheckFromEnv`).
   */
  readonly models?: ModelCheck;
  /** May the key that submitted a DAG approve its tool calls (APEX_APPROVAL_ALLOW_SELF)? Default false. */
  readonly allowSelfApproval?: boolean;
}

const agentInput = z.object({
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2_000).optional(),
}).superRefine(rejectUnstorable);

interface AgentRow {
  id: string;
  name: string;
  description: string | null;
  created_at: Date;
}

const toAgent = (r: AgentRow): Agent => ({
  id: r.id,
  name: r.name,
  description: r.description ?? undefined,
  createdAt: new Date(r.created_at).toISOString(),
});

const toApproval = (r: ApprovalContextRow): ApprovalView => ({
  id: r.id,
  dagId: r.dag_id,
  taskId: r.task_id,
  tool: r.tool,
  // Rendered from upstream outputs by the engine: stored escaped (store/storable-text.ts).
  args: decodeJson(r.args),
  status: r.status,
  decidedBy: r.decided_by ?? undefined,
  decidedAt: r.decided_at ? new Date(r.decided_at).toISOString() : undefined,
  reason: r.reason ?? undefined,
  createdAt: new Date(r.created_at).toISOString(),
  argsDigest: r.args_digest ?? undefined,
  expiresAt: new Date(r.expires_at).toISOString(),
  endedAt: r.ended_at ? new Date(r.ended_at).toISOString() : undefined,
  dagName: r.dag_name ?? undefined,
  agentId: r.agent_id ?? undefined,
  agentName: r.agent_name ?? undefined,
  submittedBy: r.submitted_by ?? undefined,
  submittedByName: r.submitted_by_name ?? undefined,
});

function notFound(what: string, id: string): ServiceError {
  return new ServiceError("not_found", `${what} ${id} not found`, "id");
}

const usd = (microUsd: number): string => (microUsd / 1e6).toFixed(6);

function agentBudgetExceeded(field: string, asked: string, agentBudget: OwnerBudgetLimit, limit: string): ServiceError {
  return new ServiceError(
    "invalid_argument",
    `${field}: ${asked} exceeds the agent's ${budgetPeriodWords[agentBudget.period]} budget of ${limit}; a DAG budget may only lower its agent's`,
    field,
  );
}

export class StoreApexService implements ApexService {
  private readonly hub: DagWatchHub;
  private readonly deps: ServiceDeps;
  private readonly models: ModelCheck;
  private readonly ctx: EngineContext;
  /** Stops of the open watches: close() ends them, reconcile timers included. */
  private readonly openWatches = new Set<() => void>();

  constructor(deps: ServiceDeps) {
    this.deps = deps;
    // The service's own changes (approve, cancel) go out on the same bus it watches.
    this.ctx = engineContext(deps.db, deps.events ?? createInProcessEventBus(), deps.observer);
    this.hub = new DagWatchHub(this.ctx.events);
    this.models = deps.models ?? modelCheckFromEnv();
  }

  async createAgent(input: { name: string; description?: string }): Promise<Agent> {
    const parsed = agentInput.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.join(".") || "body";
      throw new ServiceError("invalid_argument", `${field}: ${issue?.message ?? "invalid"}`, field);
    }
    try {
      const r = await this.deps.db.query<AgentRow>(
        "INSERT INTO agents (name, description) VALUES ($1, $2) RETURNING id, name, description, created_at",
        [parsed.data.name, parsed.data.description ?? null],
      );
      return toAgent(r.rows[0]!);
    } catch (err) {
      if ((err as { code?: string }).code === "23505") {
        throw new ServiceError("conflict", `an agent named "${parsed.data.name}" already exists`, "name");
      }
      throw err;
    }
  }

  async listAgents(scope?: { agentId?: string }): Promise<Agent[]> {
    if (scope?.agentId !== undefined && !uuidPattern.test(scope.agentId)) return [];
    const r = scope?.agentId
      ? await this.deps.db.query<AgentRow>("SELECT id, name, description, created_at FROM agents WHERE id = $1", [scope.agentId])
      : await this.deps.db.query<AgentRow>("SELECT id, name, description, created_at FROM agents ORDER BY created_at, name");
    return r.rows.map(toAgent);
  }

  async submitDag(body: unknown, principal: Principal): Promise<{ id: string; status: DagStatus }> {
    const dag = validateDagSubmission(body, this.deps.tools, this.models);
    if (principal.role === "agent" && principal.agentId !== dag.agent_id) {
      throw new ServiceError("permission_denied", "agent_id: an agent key may only submit DAGs for its own agent", "agent_id");
    }
    const budget = dag.budget && {
      limit: {
        ...(dag.budget.usd === undefined ? {} : { microUsd: microUsdOf(dag.budget.usd) }),
        ...(dag.budget.tokens === undefined ? {} : { tokens: dag.budget.tokens }),
      },
      onExhausted: dag.budget.on_exhausted,
    };
    if (dag.budget && !can(principal.role, "budgets:write")) await this.checkWithinAgentBudgets(dag.agent_id, dag.budget);
    const dagId = randomUUID();
    // The DAG's trace starts here: its root span's context goes on the DAG row and, with the task
    // id in baggage, on each task row, so every attempt on any worker joins this one trace.
    const dagTrace = beginDagTrace({ dagId, agentId: dag.agent_id, name: dag.name });
    try {
      await insertDag(this.deps.db, {
        id: dagId,
        agentId: dag.agent_id,
        name: dag.name,
        input: dag.input,
        submittedBy: principal.keyId,
        traceContext: dagTrace.carrier,
        ...(budget ? { budget } : {}),
        tasks: dag.tasks.map((t, position) => ({
          id: t.id,
          kind: t.kind,
          spec: t,
          depends_on: t.depends_on,
          max_attempts: t.max_attempts,
          timeout_ms: t.timeout_ms ?? (t.kind === "tool" ? this.deps.tools.get(t.tool)?.timeoutMs : undefined) ?? dagLimits.defaultTimeoutMs,
          position,
          trace_context: taskTraceCarrier(dagTrace.carrier, t.id),
        })),
      });
    } catch (err) {
      if ((err as { code?: string; constraint?: string }).code === "23503") {
        throw new ServiceError("invalid_argument", `agent_id: unknown agent ${dag.agent_id}`, "agent_id");
      }
      throw err;
    }
    return { id: dagId, status: "running" };
  }

  /** "A submitter may only lower a DAG's budget below its agent's": each limit against each of the agent's. */
  private async checkWithinAgentBudgets(agentId: string, budget: DagBudgetSpec): Promise<void> {
    if (budget.usd === undefined && budget.tokens === undefined) return;
    const agentBudgets = await ownerBudgetLimits(this.deps.db, "agent", agentId);
    const microUsd = budget.usd === undefined ? undefined : microUsdOf(budget.usd);
    for (const b of agentBudgets) {
      if (microUsd !== undefined && b.limitMicroUsd !== null && microUsd > b.limitMicroUsd) {
        throw agentBudgetExceeded("budget.usd", `$${usd(microUsd)}`, b, `$${usd(b.limitMicroUsd)}`);
      }
      if (budget.tokens !== undefined && b.limitTokens !== null && budget.tokens > b.limitTokens) {
        throw agentBudgetExceeded("budget.tokens", `${budget.tokens} tokens`, b, `${b.limitTokens} tokens`);
      }
    }
  }

  async getDag(id: string, scope?: { agentId?: string }): Promise<DagView> {
    if (!uuidPattern.test(id)) throw notFound("dag", id);
    const view = await readDagView(this.deps.db, id);
    // Another agent's DAG is reported as absent, not forbidden: ids do not leak across agents.
    if (!view || (scope?.agentId !== undefined && view.agentId !== scope.agentId)) throw notFound("dag", id);
    return view;
  }

  async listDags(query: DagListQuery, scope?: { agentId?: string }): Promise<DagPage> {
    return listDagSummaries(this.deps.db, query, scope);
  }

  async cancelDag(id: string, scope?: { agentId?: string }, cancelledBy = "unknown caller"): Promise<{ id: string; status: DagStatus }> {
    if (!uuidPattern.test(id)) throw notFound("dag", id);
    const head = await dagHead(this.deps.db, id);
    if (!head || (scope?.agentId !== undefined && head.agent_id !== scope.agentId)) throw notFound("dag", id);
    const changes = await this.deps.db.transaction((tx) => cancelDag(tx, id, cancelledBy));
    if (changes) {
      announce(this.ctx, changes);
      return { id, status: "cancelled" };
    }
    const now = await dagHead(this.deps.db, id);
    if (now?.status === "cancelled") return { id, status: "cancelled" };
    throw new ServiceError("conflict", `dag ${id} already finished (${now?.status ?? head.status})`, "id");
  }

  async listApprovals(filter?: { status?: ApprovalView["status"] }): Promise<ApprovalView[]> {
    return (await listApprovals(this.deps.db, filter?.status)).map(toApproval);
  }

  async decideApproval(id: string, decision: "approve" | "reject", principal: Principal, reason?: string): Promise<ApprovalView> {
    if (!uuidPattern.test(id)) throw notFound("approval", id);
    if (decision !== "approve" && decision !== "reject") {
      throw new ServiceError("invalid_argument", `decision: expected approve or reject`, "decision");
    }
    const result = await decideApproval(this.deps.db, {
      id,
      approve: decision === "approve",
      decidedBy: principal.keyId,
      allowSelfApproval: this.deps.allowSelfApproval ?? false,
      reason: reason ?? null,
      // tasks.error holds escaped text (store/storable-text.ts); the reason may hold the escape character.
      rejectionError: encodeText(`approval rejected by ${principal.keyId}${reason ? `: ${reason}` : ""}`),
    });
    if (result.kind === "not_found") throw notFound("approval", id);
    if (result.kind === "self_approval") {
      throw new ServiceError(
        "permission_denied",
        `approval ${id}: the API key that submitted DAG ${result.dagId} may not approve its tool calls; another key must approve (self-approval is off: APEX_APPROVAL_ALLOW_SELF)`,
        "id",
      );
    }
    if (result.kind === "already") throw new ServiceError("conflict", `approval ${id} was already ${result.status}`, "id");
    if (result.kind === "expired") {
      announce(this.ctx, result.changes);
      throw new ServiceError(
        "conflict",
        `approval ${id} expired at ${new Date(result.expiredAt).toISOString()} (APEX_APPROVAL_TTL_MS) and can no longer be decided; the task asks for a new approval`,
        "id",
      );
    }
    announce(this.ctx, result.changes);
    return toApproval(result.approval);
  }

  async usageReport(query: UsageReportQuery, scope?: { agentId?: string }): Promise<UsageReport> {
    return readUsageReport(this.deps.db, query, scope);
  }

  async ownerBudgets(owner: BudgetOwner, scope?: { agentId?: string }): Promise<BudgetState[]> {
    await this.requireBudgetOwner(owner, scope);
    return budgetStates(this.deps.db, owner.scope, owner.id, new Date());
  }

  async replaceOwnerBudgets(owner: BudgetOwner, limits: OwnerLimits, updatedBy: string): Promise<BudgetState[]> {
    await this.requireBudgetOwner(owner);
    await replaceBudgets(this.deps.db, owner.scope, owner.id, limits, updatedBy);
    return budgetStates(this.deps.db, owner.scope, owner.id, new Date());
  }

  private async requireBudgetOwner(owner: BudgetOwner, scope?: { agentId?: string }): Promise<void> {
    const what = owner.scope === "agent" ? "agent" : "API key";
    if (!uuidPattern.test(owner.id)) throw notFound(what, owner.id);
    // Another agent's budget is absent to an agent key, like its DAGs.
    if (scope?.agentId !== undefined && (owner.scope !== "agent" || owner.id !== scope.agentId)) throw notFound(what, owner.id);
    if (!(await budgetOwnerExists(this.deps.db, owner.scope, owner.id))) throw notFound(what, owner.id);
  }

  async watchDag(id: string, onEvent: (e: DagEvent) => void, scope?: { agentId?: string }): Promise<() => Promise<void>> {
    // Subscribe before reading the current state, so nothing between the two is missed.
    let stopped = false;
    const unsubscribe = await this.hub.watch(id, (e) => {
      if (stopped) return;
      onEvent(e);
      if (e.type === "dag_status" && terminalDagStatuses.includes(e.status as DagStatus)) stop();
    });
    let reconcile: NodeJS.Timeout | undefined;
    const stop = () => {
      stopped = true;
      this.openWatches.delete(stop);
      clearInterval(reconcile);
      unsubscribe();
    };
    this.openWatches.add(stop);
    const sendSnapshot = (view: DagView) => {
      const at = new Date().toISOString();
      for (const t of view.tasks) onEvent({ dagId: id, type: "task_status", taskId: t.id, status: t.status, at });
      onEvent({ dagId: id, type: "dag_status", status: view.status, at });
      if (terminalDagStatuses.includes(view.status)) stop();
    };
    try {
      sendSnapshot(await this.getDag(id, scope));
    } catch (err) {
      stop();
      throw err;
    }
    const every = this.deps.watchReconcileMs ?? 10_000;
    if (!stopped && every > 0) {
      // Events are at most once (a publish fails while Redis is down). Only a finished DAG's
      // snapshot is sent: its statuses are final, so it can never move a task backwards.
      reconcile = setInterval(() => {
        this.getDag(id, scope).then(
          (view) => {
            if (!stopped && terminalDagStatuses.includes(view.status)) sendSnapshot(view);
          },
          () => undefined, // store unreachable: try again next time
        );
      }, every);
      reconcile.unref();
    }
    return async () => stop();
  }

  async ready(): Promise<boolean> {
    try {
      await this.deps.db.query("SELECT 1 FROM schema_migrations LIMIT 1");
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    for (const stop of [...this.openWatches]) stop();
    await this.hub.close();
  }
}
