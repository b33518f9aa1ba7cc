/**
 * The API's wire shapes, taken from the runtime's own zod schemas (types only: nothing of the
 * runtime is bundled), so a field renamed in app/src/api/schemas.ts breaks the console's build.
 */
import type { BudgetJson } from "../../../app/src/api/schemas";

export type {
  AgentJson as Agent,
  ApiKeyJson as ApiKey,
  ApprovalJson as Approval,
  BudgetJson as Budget,
  CreatedApiKeyJson as CreatedApiKey,
  DagBudgetJson as DagBudget,
  DagEventJson as DagEvent,
  DagJson as Dag,
  DagListJson as DagList,
  DagStatusJson as DagStatus,
  DagSummaryJson as DagSummary,
  ErrorJson,
  ListDagsQuery,
  MeJson as Me,
  OwnerBudgetsBody as OwnerBudgets,
  TaskJson as Task,
  UsageJson as Usage,
  UsageReportJson as UsageReport,
  UsageReportQuery,
} from "../../../app/src/api/schemas";

export type Role = "admin" | "operator" | "viewer" | "agent";
export type DagStatusName = "running" | "awaiting_approval" | "succeeded" | "failed" | "cancelled";
export type TaskStatusName = "pending" | "ready" | "running" | "awaiting_approval" | "succeeded" | "failed" | "cancelled" | "skipped";
export type ApprovalStatusName = "pending" | "approved" | "rejected" | "superseded" | "expired";
export type BudgetPeriod = BudgetJson["period"];
