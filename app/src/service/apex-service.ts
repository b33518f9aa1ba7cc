/**
 * ApexService over the store: the one implementation the HTTP and gRPC transports call.
 * Writes happen in single transactions that lock the DAG row first (see engine/dag-state.ts).
 */
import { beginDagTrace, taskTraceCarrier } from "../telemetry/spans";
import type { Db } from "../store/db";
import type { ToolRegistry } from "../tools/types";
import { cancelDagTasks, lockDag, settleDag, terminalDagStatuses } from "../engine/dag-state";
import type { EventBus } from "../coord/types";
import { dagEventBusOf, emitTaskStatus, notifyTasksReady, withDagEvents } from "../engine/events";
import { failTask } from "../engine/lifecycle";
import { modelCheckFromEnv, type ModelCheck } from "../llm/model-check";
import { listDagSummaries } from "./dag-list";
import { dagLimits } from "./dag-schema";
import { readDagView } from "./dag-view";
import { uuidPattern } from "./ids";
import {
  ServiceError,
  type Agent,
  type ApexService,
  type ApprovalView,
  type DagEvent,
  type DagListQuery,
  type DagPage,
  type DagStatus,
  type DagView,
  type Principal,
} from "./types";
import { validateDagSubmission } from "./validate-dag";
import { DagWatchHub } from "./watch-hub";
import { z } from "zod";

export interface ServiceDeps {
  /** The store; when it carries an event bus (`withDagEvents`, as the runtime wires it) that bus is used. */
  readonly db: Db;
  /**
   * Where DAG events are published and watched. Default: the bus `db` carries, else this
   * process's in-process bus (the engine wired by hand in one process).
   */
  readonly events?: EventBus;
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
}

const agentInput = z.object({
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2_000).optional(),
});

interface AgentRow {
  id: string;
  name: string;
  description: string | null;
  created_at: Date;
}

interface ApprovalRow {
  id: string;
  dag_id: string;
  task_id: string;
  tool: string;
  args: unknown;
  status: ApprovalView["status"];
  decided_by: string | null;
  decided_at: Date | null;
  reason: string | null;
  created_at: Date;
}

const toAgent = (r: AgentRow): Agent => ({
  id: r.id,
  name: r.name,
  description: r.description ?? undefined,
  createdAt: new Date(r.created_at).toISOString(),
});

const toApproval = (r: ApprovalRow): ApprovalView => ({
  id: r.id,
  dagId: r.dag_id,
  taskId: r.task_id,
  tool: r.tool,
  args: r.args,
  status: r.status,
  decidedBy: r.decided_by ?? undefined,
  decidedAt: r.decided_at ? new Date(r.decided_at).toISOString() : undefined,
  reason: r.reason ?? undefined,
  createdAt: new Date(r.created_at).toISOString(),
});

function notFound(what: string, id: string): ServiceError {
  return new ServiceError("not_found", `${what} ${id} not found`, "id");
}

export class StoreApexService implements ApexService {
  private readonly hub: DagWatchHub;
  private readonly deps: ServiceDeps;
  private readonly models: ModelCheck;

  constructor(deps: ServiceDeps) {
    const events = deps.events ?? dagEventBusOf(deps.db);
    // The service's own transactions (approve, cancel) publish on the same bus it watches.
    this.deps = { ...deps, db: withDagEvents(deps.db, events), events };
    this.hub = new DagWatchHub(events);
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
    return this.deps.db.transaction(async (tx) => {
      const agent = await tx.query("SELECT 1 FROM agents WHERE id = $1", [dag.agent_id]);
      if (agent.rowCount === 0) throw new ServiceError("invalid_argument", `agent_id: unknown agent ${dag.agent_id}`, "agent_id");
      const inserted = await tx.query<{ id: string }>(
        "INSERT INTO dags (agent_id, name, input, submitted_by) VALUES ($1, $2, $3::jsonb, $4) RETURNING id",
        [dag.agent_id, dag.name, JSON.stringify(dag.input), principal.keyId],
      );
      const dagId = inserted.rows[0]!.id;
      // The DAG's trace starts here: its root span's context goes on the DAG row and, with the task
      // id in baggage, on each task row, so every attempt on any worker joins this one trace.
      const dagTrace = beginDagTrace({ dagId, agentId: dag.agent_id, name: dag.name });
      await tx.query("UPDATE dags SET trace_context = $2::jsonb WHERE id = $1", [dagId, JSON.stringify(dagTrace.carrier)]);
      for (const [position, t] of dag.tasks.entries()) {
        const timeoutMs =
          t.timeout_ms ?? (t.kind === "tool" ? this.deps.tools.get(t.tool)?.timeoutMs : undefined) ?? dagLimits.defaultTimeoutMs;
        await tx.query(
          `INSERT INTO tasks (dag_id, id, kind, spec, depends_on, status, max_attempts, timeout_ms, position, trace_context)
           VALUES ($1, $2, $3, $4::jsonb, $5::text[], $6, $7, $8, $9, $10::jsonb)`,
          [
            dagId, t.id, t.kind, JSON.stringify(t), t.depends_on, t.depends_on.length === 0 ? "ready" : "pending", t.max_attempts, timeoutMs, position,
            JSON.stringify(taskTraceCarrier(dagTrace.carrier, t.id)),
          ],
        );
      }
      await notifyTasksReady(tx);
      return { id: dagId, status: "running" as const };
    });
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
    return this.deps.db.transaction(async (tx) => {
      const dag = await lockDag(tx, id);
      if (!dag || (scope?.agentId !== undefined && dag.agent_id !== scope.agentId)) throw notFound("dag", id);
      if (dag.status === "cancelled") return { id, status: dag.status };
      if (terminalDagStatuses.includes(dag.status)) {
        throw new ServiceError("conflict", `dag ${id} already finished (${dag.status})`, "id");
      }
      await cancelDagTasks(tx, dag, cancelledBy);
      return { id, status: "cancelled" as const };
    });
  }

  async listApprovals(filter?: { status?: ApprovalView["status"] }): Promise<ApprovalView[]> {
    const r = filter?.status
      ? await this.deps.db.query<ApprovalRow>("SELECT * FROM approvals WHERE status = $1 ORDER BY created_at", [filter.status])
      : await this.deps.db.query<ApprovalRow>("SELECT * FROM approvals ORDER BY created_at");
    return r.rows.map(toApproval);
  }

  async decideApproval(id: string, decision: "approve" | "reject", principal: Principal, reason?: string): Promise<ApprovalView> {
    if (!uuidPattern.test(id)) throw notFound("approval", id);
    if (decision !== "approve" && decision !== "reject") {
      throw new ServiceError("invalid_argument", `decision: expected approve or reject`, "decision");
    }
    const first = await this.deps.db.query<{ dag_id: string }>("SELECT dag_id FROM approvals WHERE id = $1", [id]);
    const dagId = first.rows[0]?.dag_id;
    if (!dagId) throw notFound("approval", id);
    return this.deps.db.transaction(async (tx) => {
      const dag = await lockDag(tx, dagId);
      const a = (await tx.query<ApprovalRow>("SELECT * FROM approvals WHERE id = $1 FOR UPDATE", [id])).rows[0];
      if (!dag || !a) throw notFound("approval", id);
      if (a.status !== "pending") throw new ServiceError("conflict", `approval ${id} was already ${a.status}`, "id");
      const status = decision === "approve" ? "approved" : "rejected";
      const updated = await tx.query<ApprovalRow>(
        "UPDATE approvals SET status = $2, decided_by = $3, decided_at = now(), reason = $4 WHERE id = $1 RETURNING *",
        [id, status, principal.keyId, reason ?? null],
      );
      if (decision === "approve") {
        const t = await tx.query(
          `UPDATE tasks SET status = 'ready', next_run_at = now(), updated_at = now()
            WHERE dag_id = $1 AND id = $2 AND status = 'awaiting_approval'`,
          [a.dag_id, a.task_id],
        );
        if (t.rowCount > 0) {
          await notifyTasksReady(tx);
          await emitTaskStatus(tx, a.dag_id, [a.task_id], "ready");
          await settleDag(tx, dag);
        }
      } else {
        const held = await tx.query("SELECT 1 FROM tasks WHERE dag_id = $1 AND id = $2 AND status = 'awaiting_approval'", [a.dag_id, a.task_id]);
        if (held.rowCount > 0) {
          const why = `approval rejected by ${principal.keyId}${reason ? `: ${reason}` : ""}`;
          await failTask(tx, dag, a.dag_id, a.task_id, why);
        }
      }
      return toApproval(updated.rows[0]!);
    });
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
      clearInterval(reconcile);
      unsubscribe();
    };
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
    await this.hub.close();
  }
}
