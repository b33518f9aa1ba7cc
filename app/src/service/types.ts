/**
 * The service layer: everything the HTTP and gRPC APIs do, once. The store/engine implements it;
 * the transports only authenticate, authorise, parse and call it. Authorisation happens in the
 * transports (see auth/); the service trusts its caller but still scopes by `agentScope` where given.
 */
import type { BudgetExhaustedAction, BudgetLimit, BudgetPeriod, BudgetState } from "../domain/budget";
import type { DagStatus, Role, TaskStatus } from "../domain/statuses";

export type { DagStatus, Role, TaskStatus } from "../domain/statuses";

/** The authenticated caller, as the transports pass it down. */
export interface Principal {
  readonly keyId: string;
  readonly role: Role;
  /** Set for role "agent": it may only see and submit DAGs of this agent. */
  readonly agentId?: string;
}

export interface Agent {
  readonly id: string;
  readonly name: string;
  readonly description?: string;
  readonly createdAt: string;
}

export interface TaskUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedTokens: number;
  readonly costUsd: number;
}

export interface AttemptView {
  readonly number: number;
  readonly status: "running" | "succeeded" | "failed";
  readonly workerId: string;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly error?: string;
  /** false for an execution that was rescheduled without spending an attempt (breaker open, rate limited, shutdown). */
  readonly spent?: boolean;
}

export interface TaskView {
  readonly id: string;
  readonly kind: "llm" | "tool";
  readonly status: TaskStatus;
  readonly dependsOn: readonly string[];
  readonly output?: unknown;
  readonly error?: string;
  /** A ready task waiting for its LLM provider's breaker to close (no attempt starts meanwhile). */
  readonly waitingFor?: "provider" | "budget";
  readonly attempts: readonly AttemptView[];
  readonly usage: TaskUsage;
}

export interface DagView {
  readonly id: string;
  readonly agentId: string;
  readonly name: string;
  readonly status: DagStatus;
  readonly input: unknown;
  readonly tasks: readonly TaskView[];
  readonly totals: TaskUsage;
  /** All LLM usage of this DAG's agent, across its DAGs. */
  readonly agentTotals?: TaskUsage;
  readonly traceId?: string;
  readonly createdAt: string;
  readonly finishedAt?: string;
  readonly budget: DagBudgetView;
}

/** The budgets a DAG's LLM calls are reserved against, each in its current period. */
export interface DagBudgetView {
  /** What the DAG does when a periodic agent or key budget refuses a call. */
  readonly onExhausted: BudgetExhaustedAction;
  /** The DAG's own (if it has one), then its agent's, then its submitting key's. */
  readonly budgets: readonly BudgetState[];
}

/** An agent or an API key, as the owner of periodic budgets. */
export interface BudgetOwner {
  readonly scope: "agent" | "api_key";
  readonly id: string;
}

/** An owner's whole set of limits: a period left out has no budget. */
export type OwnerLimits = Partial<Record<BudgetPeriod, BudgetLimit>>;

/** One DAG in a listing: what tells DAGs apart and what they cost, without tasks or input. */
export interface DagSummary {
  readonly id: string;
  readonly agentId: string;
  readonly name: string;
  readonly status: DagStatus;
  readonly totals: TaskUsage;
  readonly traceId?: string;
  readonly createdAt: string;
  readonly finishedAt?: string;
}

/** `created_at` oldest first, `-created_at` newest first; DAGs created at the same instant by id, same direction. */
export type DagSort = "created_at" | "-created_at";

export interface DagListQuery {
  readonly status?: DagStatus;
  readonly agentId?: string;
  /** RFC 3339: DAGs created at or after this instant. */
  readonly createdSince?: string;
  /** RFC 3339: DAGs created before this instant. */
  readonly createdUntil?: string;
  readonly sort: DagSort;
  /** Page size, 1 to `dagListLimits.maxLimit`. */
  readonly limit: number;
  /** A previous page's `nextCursor`; the filters and sort must be the ones that page was listed with. */
  readonly cursor?: string;
}

export interface DagPage {
  readonly dags: readonly DagSummary[];
  /** Continues the listing after this page; absent on the last page. */
  readonly nextCursor?: string;
}

export interface ApprovalView {
  readonly id: string;
  readonly dagId: string;
  readonly taskId: string;
  readonly tool: string;
  readonly args: unknown;
  /** superseded: the tool's arguments changed after approval; expired: past `expiresAt`. Both were replaced by a new approval. */
  readonly status: "pending" | "approved" | "rejected" | "superseded" | "expired";
  readonly decidedBy?: string;
  readonly decidedAt?: string;
  readonly reason?: string;
  readonly createdAt: string;
  /** SHA-256 (hex) of the canonical JSON of `args`: the call this approval covers. */
  readonly argsDigest?: string;
  /** After this it can no longer be decided, and an approved call no longer starts. */
  readonly expiresAt: string;
  /** When it was superseded or expired. */
  readonly endedAt?: string;
  /** Context for the operator deciding it: the DAG's name and agent, and the key that submitted the DAG. */
  readonly dagName?: string;
  readonly agentId?: string;
  readonly agentName?: string;
  /** API key id the DAG was submitted with. */
  readonly submittedBy?: string;
  /** That key's name; absent when no key has that id. */
  readonly submittedByName?: string;
}

/** One group of a usage report: LLM calls recorded and what is known of their tokens and cost. */
export interface UsageGroup extends TaskUsage {
  readonly calls: number;
  /** Calls whose worker died before their answer: maybe paid, counts unknown (not in the sums). */
  readonly unknownCalls: number;
}

export interface UsageReportQuery {
  /** Inclusive. */
  readonly since: Date;
  /** Exclusive. */
  readonly until: Date;
  readonly agentId?: string;
}

/** LLM usage of a period: totals, by agent and by model (most expensive first), and cost over time. */
export interface UsageReport {
  readonly since: string;
  readonly until: string;
  readonly totals: UsageGroup;
  readonly byAgent: readonly (UsageGroup & { readonly agentId: string; readonly agentName: string })[];
  readonly byModel: readonly (UsageGroup & { readonly model: string })[];
  /** hour for periods up to 48 hours, day beyond (UTC). */
  readonly bucket: "hour" | "day";
  /** One entry per bucket with usage, oldest first. */
  readonly series: readonly { readonly start: string; readonly costUsd: number; readonly inputTokens: number; readonly outputTokens: number }[];
}

export interface DagEvent {
  readonly dagId: string;
  readonly type: "dag_status" | "task_status";
  readonly taskId?: string;
  readonly status: string;
  readonly at: string;
}

/** A user error the transports turn into 400/404/409 with `field` named. */
export class ServiceError extends Error {
  constructor(
    readonly code: "invalid_argument" | "not_found" | "conflict" | "permission_denied",
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = "ServiceError";
  }
}

export interface ApexService {
  createAgent(input: { name: string; description?: string }): Promise<Agent>;
  listAgents(scope?: { agentId?: string }): Promise<Agent[]>;
  /**
   * Validates (zod, unknown deps, cycles, tool args) and writes the DAG in one transaction. A
   * principal without `budgets:write` may only give the DAG a budget within its agent's limits.
   */
  submitDag(body: unknown, principal: Principal): Promise<{ id: string; status: DagStatus }>;
  getDag(id: string, scope?: { agentId?: string }): Promise<DagView>;
  /** A page of DAG summaries; a scoped caller filtering on another agent gets an empty page. */
  listDags(query: DagListQuery, scope?: { agentId?: string }): Promise<DagPage>;
  /** `cancelledBy`: the API key id of the caller, recorded on the tasks and on rejected approvals. */
  cancelDag(id: string, scope?: { agentId?: string }, cancelledBy?: string): Promise<{ id: string; status: DagStatus }>;
  listApprovals(filter?: { status?: ApprovalView["status"] }): Promise<ApprovalView[]>;
  decideApproval(id: string, decision: "approve" | "reject", principal: Principal, reason?: string): Promise<ApprovalView>;
  /** LLM usage of a period; a scoped caller asking for another agent gets an empty report. */
  usageReport(query: UsageReportQuery, scope?: { agentId?: string }): Promise<UsageReport>;
  /**
   * An agent's or API key's budgets in their current periods (total, month, day, hour). Unknown
   * owner, or an agent outside `scope`: not_found.
   */
  ownerBudgets(owner: BudgetOwner, scope?: { agentId?: string }): Promise<BudgetState[]>;
  /** Replaces an owner's limits (spend so far is kept) and returns its budgets as ownerBudgets does. */
  replaceOwnerBudgets(owner: BudgetOwner, limits: OwnerLimits, updatedBy: string): Promise<BudgetState[]>;
  /** Events of one DAG until it ends or the returned function is called. */
  watchDag(id: string, onEvent: (e: DagEvent) => void, scope?: { agentId?: string }): Promise<() => Promise<void>>;
  ready(): Promise<boolean>;
}
