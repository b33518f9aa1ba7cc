/**
 * The API's wire shapes, taken from the runtime's own zod schemas (types only: nothing of the
 * runtime is bundled), so a field renamed in app/src/api/schemas.ts breaks the console's build.
 */
import type { z } from "zod";
import type { budgetJson, ownerBudgetsBody } from "../../../app/src/api/schemas";

export type {
  AgentJson as Agent,
  ApiKeyJson as ApiKey,
  ApprovalJson as Approval,
  CreatedApiKeyJson as CreatedApiKey,
  DagEventJson as DagEvent,
  DagJson as Dag,
  DagListJson as DagList,
  DagStatusJson as DagStatus,
  DagSummaryJson as DagSummary,
  ErrorJson,
  ListDagsQuery,
  MeJson as Me,
  TaskJson as Task,
  UsageJson as Usage,
  UsageReportJson as UsageReport,
  UsageReportQuery,
} from "../../../app/src/api/schemas";

/** One budget in its current period (GET /v1/dags/:id's `budget.budgets`, GET /v1/agents/:id/budget). */
export type Budget = z.infer<typeof budgetJson>;
/** PUT /v1/agents/:id/budget: the whole set of an agent's limits; a period left out has no budget. */
export type OwnerBudgets = z.input<typeof ownerBudgetsBody>;
export type BudgetPeriod = Budget["period"];
/** The budgets of a DAG (its own, its agent's, its submitting key's) and what it does when a periodic one runs out. */
export interface DagBudget {
  readonly on_exhausted: "fail" | "wait_for_reset";
  readonly budgets: readonly Budget[];
}

export type Role = "admin" | "operator" | "viewer" | "agent";
export type DagStatusName = "running" | "awaiting_approval" | "succeeded" | "failed" | "cancelled";
export type TaskStatusName = "pending" | "ready" | "running" | "awaiting_approval" | "succeeded" | "failed" | "cancelled" | "skipped";
export type ApprovalStatusName = "pending" | "approved" | "rejected" | "superseded" | "expired";
