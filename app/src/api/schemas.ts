/**
 * The API's wire shapes as zod schemas: request inputs are parsed with them (both transports),
 * responses are typed by them, and GET /openapi.json is generated from them. JSON is snake_case,
 * like the DAG submission contract; the gRPC messages use the same field names.
 */
import { z } from "zod";
import { tokenAmount, usdAmount } from "../service/dag-schema";
import { dagListLimits } from "../service/dag-list";
import { rejectUnstorable } from "../service/storable-input";

const roleSchema = z.enum(["admin", "operator", "viewer", "agent"]);
const name = z.string().trim().min(1).max(200).superRefine(rejectUnstorable);
/** Free text the API stores: no NUL, no lone surrogate (service/storable-input.ts). */
const storedText = (max: number) => z.string().max(max).superRefine(rejectUnstorable);
const id = z.guid().describe("UUID");
const taskStatus = z.enum(["pending", "ready", "running", "awaiting_approval", "succeeded", "failed", "cancelled", "skipped"]);
const dagStatus = z.enum(["running", "awaiting_approval", "succeeded", "failed", "cancelled"]);
const rfc3339 = z.iso.datetime({ offset: true, error: "expected an RFC 3339 timestamp with a time zone, e.g. 2026-11-26T11:05:27Z" });

// ----- requests -----

export const idParams = z.strictObject({ id });

export const createAgentBody = z.strictObject({
  name,
  description: storedText(2000).optional(),
});

const approvalStatus = z.enum(["pending", "approved", "rejected", "superseded", "expired"]);

export const listApprovalsQuery = z.strictObject({
  status: approvalStatus.optional(),
});

const { defaultLimit, maxLimit } = dagListLimits;
const limitMessage = `expected an integer from 1 to ${maxLimit}`;

export const listDagsQuery = z
  .strictObject({
    status: dagStatus.optional(),
    agent_id: id.optional().describe("Only this agent's DAGs. For an agent key, another agent's id lists nothing."),
    created_since: rfc3339.optional().describe("Only DAGs created at or after this instant (RFC 3339)."),
    created_until: rfc3339.optional().describe("Only DAGs created before this instant (RFC 3339)."),
    sort: z
      .enum(["created_at", "-created_at"])
      .default("-created_at")
      .describe("created_at: oldest first; -created_at: newest first. DAGs created at the same instant are ordered by id, the same way."),
    limit: z.coerce
      .number({ error: limitMessage })
      .int({ error: limitMessage })
      .min(1, { error: limitMessage })
      .max(maxLimit, { error: limitMessage })
      .default(defaultLimit)
      .describe("Page size."),
    cursor: z
      .string()
      .min(1)
      .max(1_000)
      .optional()
      .describe("A previous page's next_cursor, sent with the same filters and sort."),
  })
  .refine((q) => !q.created_since || !q.created_until || Date.parse(q.created_until) >= Date.parse(q.created_since), {
    path: ["created_until"],
    message: "must not be before created_since",
  });

export const usageReportQuery = z
  .strictObject({
    since: rfc3339.optional().describe("Start of the period (inclusive, RFC 3339); default 24 hours before `until`."),
    until: rfc3339.optional().describe("End of the period (exclusive, RFC 3339); default now."),
    agent_id: id.optional().describe("Only this agent's usage. For an agent key, another agent's id reports nothing."),
  })
  .refine((q) => !q.since || !q.until || Date.parse(q.until) > Date.parse(q.since), {
    path: ["until"],
    message: "must be after since",
  });

export const decideApprovalBody = z.strictObject({
  reason: storedText(2000).optional(),
});

export const createApiKeyBody = z.strictObject({
  name,
  role: roleSchema,
  agent_id: id.optional().describe("Required for role agent: the agent the key acts for."),
});

/**
 * The DAG submission contract is the service's (service/dag-schema.ts); the service validates it
 * in full (graph rules, tools' argument schemas), the transports pass the body through.
 */
export { dagSubmissionSchema as submitDagBody } from "../service/dag-schema";

// ----- responses -----

export const usageJson = z.object({
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  cached_tokens: z.number().int(),
  cost_usd: z.number(),
});

export const agentJson = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().optional(),
  created_at: z.string(),
});

export const attemptJson = z.object({
  number: z.number().int(),
  status: z.enum(["running", "succeeded", "failed"]),
  worker_id: z.string(),
  started_at: z.string(),
  finished_at: z.string().optional(),
  error: z.string().optional(),
  spent: z.boolean().optional().describe("false when the execution was rescheduled without spending an attempt."),
});

export const taskJson = z.object({
  id: z.string(),
  kind: z.enum(["llm", "tool"]),
  status: taskStatus,
  depends_on: z.array(z.string()),
  output: z.unknown().optional(),
  error: z.string().optional(),
  waiting_for: z
    .enum(["provider", "budget"])
    .optional()
    .describe(
      "Set on a ready task that waits for something other than its time: provider = its LLM provider's breaker is open; budget = a budget has no room for its call yet (calls in flight to settle, or the period's reset its DAG asked to wait for). No attempt starts meanwhile.",
    ),
  attempts: z.array(attemptJson),
  usage: usageJson,
});

export const dagStatusJson = z.object({ id: z.string(), status: dagStatus });

export const dagSummaryJson = z.object({
  id: z.string(),
  agent_id: z.string(),
  name: z.string(),
  status: dagStatus,
  totals: usageJson,
  trace_id: z.string().optional(),
  created_at: z.string(),
  finished_at: z.string().optional(),
});

export const dagListJson = z.object({
  dags: z.array(dagSummaryJson),
  next_cursor: z.string().optional().describe("Pass as `cursor` for the next page; absent on the last page."),
});

export const approvalJson = z.object({
  id: z.string(),
  dag_id: z.string(),
  task_id: z.string(),
  tool: z.string(),
  args: z.unknown(),
  status: approvalStatus.describe(
    "superseded: the arguments rendered at run time differed from the approved ones; expired: past expires_at. Either way the task asked for a new approval.",
  ),
  decided_by: z.string().optional(),
  decided_at: z.string().optional(),
  reason: z.string().optional(),
  created_at: z.string(),
  args_digest: z.string().optional().describe("SHA-256 (hex) of the canonical JSON of args: the exact call this approval covers."),
  expires_at: z.string().describe("After this the approval can no longer be decided (409) and an approved call no longer starts."),
  ended_at: z.string().optional().describe("When it was superseded or expired."),
  dag_name: z.string().optional().describe("The name of the DAG the tool call belongs to."),
  agent_id: z.string().optional().describe("The agent whose DAG it is."),
  agent_name: z.string().optional(),
  submitted_by: z.string().optional().describe("API key id that submitted the DAG."),
  submitted_by_name: z.string().optional().describe("That key's name (absent when the key was deleted or the DAG predates recording it)."),
});

export const apiKeyJson = z.object({
  id: z.string(),
  name: z.string(),
  role: roleSchema,
  agent_id: z.string().optional(),
  prefix: z.string().describe("First characters of the secret, for recognising a key."),
  created_at: z.string(),
  revoked_at: z.string().optional(),
  last_used_at: z.string().optional(),
});

export const createdApiKeyJson = apiKeyJson.extend({
  secret: z.string().describe("The key itself. Shown once; only its SHA-256 hash is stored."),
});

export const dagEventJson = z.object({
  dag_id: z.string(),
  type: z.enum(["dag_status", "task_status"]),
  task_id: z.string().optional(),
  status: z.string(),
  at: z.string(),
});

export const errorJson = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    field: z.string().optional().describe("The request field at fault, e.g. tasks[1].depends_on."),
  }),
});

export const meJson = z.object({
  key: z.object({
    id: z.string(),
    name: z.string(),
    role: roleSchema,
    agent_id: z.string().optional(),
    prefix: z.string(),
  }),
  permissions: z.array(z.string()).describe("What this key may do (the permission table in docs/security.md)."),
  links: z
    .object({
      trace_url_template: z.string().optional().describe("A trace's page, with {trace_id} to fill in (APEX_TRACE_URL_TEMPLATE)."),
      logs_url_template: z
        .string()
        .optional()
        .describe("A DAG's (or task's) logs, with {dag_id}, {task_id} and {trace_id} to fill in, URL-encoded (APEX_LOGS_URL_TEMPLATE)."),
    })
    .describe("Where operators follow a DAG outside Apex; absent links are not configured."),
});

const usageGroup = usageJson.extend({
  calls: z.number().int().describe("LLM calls recorded (each attempt's call, paid or possibly paid), unknown ones included."),
  unknown_calls: z
    .number()
    .int()
    .optional()
    .describe(
      "Calls whose worker died before the answer arrived: they may have been paid, but their tokens and cost are unknown and not in the sums, which are then a lower bound. Absent when none.",
    ),
});

export const usageReportJson = z.object({
  since: z.string(),
  until: z.string(),
  totals: usageGroup,
  by_agent: z.array(usageGroup.extend({ agent_id: z.string(), agent_name: z.string() })).describe("Most expensive first."),
  by_model: z.array(usageGroup.extend({ model: z.string().describe("provider/model as requested.") })).describe("Most expensive first."),
  bucket: z.enum(["hour", "day"]).describe("hour for periods up to 48 hours, day beyond."),
  series: z
    .array(z.object({ start: z.string(), cost_usd: z.number(), input_tokens: z.number().int(), output_tokens: z.number().int() }))
    .describe("Cost over the period, one entry per bucket that has usage, oldest first."),
});

const budgetScope = z.enum(["dag", "agent", "api_key"]);
const budgetPeriod = z.enum(["total", "hour", "day", "month"]);

/** One period's limit: USD, tokens or both. */
export const budgetLimitBody = z
  .strictObject({ usd: usdAmount.optional(), tokens: tokenAmount.optional() })
  .refine((l) => l.usd !== undefined || l.tokens !== undefined, "set usd, tokens or both");

/** PUT /v1/agents/:id/budget and /v1/api-keys/:id/budget: the whole set; a period left out has no budget. */
export const ownerBudgetsBody = z.strictObject({
  total: budgetLimitBody.optional(),
  hour: budgetLimitBody.optional(),
  day: budgetLimitBody.optional(),
  month: budgetLimitBody.optional(),
});

/** One budget in its current period (calendar periods in UTC). */
export const budgetJson = z.object({
  scope: budgetScope,
  scope_id: z.string(),
  period: budgetPeriod,
  limit_usd: z.number().nullable(),
  limit_tokens: z.number().nullable(),
  spent_usd: z.number().describe("Settled spend this period; a call that ended without an answer counts at its worst case."),
  spent_tokens: z.number(),
  reserved_usd: z.number().describe("Held by LLM calls in flight (their worst case)."),
  reserved_tokens: z.number(),
  remaining_usd: z.number().nullable().describe("limit - spent - reserved; null without a USD limit."),
  remaining_tokens: z.number().nullable(),
  resets_at: z.string().nullable().describe("When the period ends; null for total."),
});
export const budgetListJson = z.object({ budgets: z.array(budgetJson) });

/** GET /v1/dags/:id's `budget`. */
export const dagBudgetJson = z.object({
  on_exhausted: z
    .enum(["fail", "wait_for_reset"])
    .describe("What the DAG does when an agent's or key's periodic budget refuses a call: fail the task, or wait for the period's reset."),
  budgets: z
    .array(budgetJson)
    .describe("Every budget its LLM calls are reserved against, each in its current period: the DAG's own, its agent's, its submitting key's."),
});

export const dagJson = z.object({
  id: z.string(),
  agent_id: z.string(),
  name: z.string(),
  status: dagStatus,
  input: z.unknown(),
  tasks: z.array(taskJson),
  totals: usageJson,
  agent_totals: usageJson.optional().describe("All LLM usage of this DAG's agent, across its DAGs."),
  trace_id: z.string().optional(),
  created_at: z.string(),
  finished_at: z.string().optional(),
  budget: dagBudgetJson.optional().describe("The budgets that apply to this DAG (docs/budgets.md); always sent by GET /v1/dags/:id."),
});

export const agentListJson = z.object({ agents: z.array(agentJson) });
export const approvalListJson = z.object({ approvals: z.array(approvalJson) });
export const apiKeyListJson = z.object({ api_keys: z.array(apiKeyJson) });

export type AgentJson = z.infer<typeof agentJson>;
export type DagJson = z.infer<typeof dagJson>;
export type TaskJson = z.infer<typeof taskJson>;
export type UsageJson = z.infer<typeof usageJson>;
export type ApprovalJson = z.infer<typeof approvalJson>;
export type ApiKeyJson = z.infer<typeof apiKeyJson>;
export type CreatedApiKeyJson = z.infer<typeof createdApiKeyJson>;
export type DagEventJson = z.infer<typeof dagEventJson>;
export type DagStatusJson = z.infer<typeof dagStatusJson>;
export type DagSummaryJson = z.infer<typeof dagSummaryJson>;
export type DagListJson = z.infer<typeof dagListJson>;
export type MeJson = z.infer<typeof meJson>;
export type UsageReportJson = z.infer<typeof usageReportJson>;
export type BudgetJson = z.infer<typeof budgetJson>;
export type BudgetListJson = z.infer<typeof budgetListJson>;
export type DagBudgetJson = z.infer<typeof dagBudgetJson>;
export type OwnerBudgetsBody = z.infer<typeof ownerBudgetsBody>;
export type ErrorJson = z.infer<typeof errorJson>;
export type ListDagsQuery = z.input<typeof listDagsQuery>;
export type UsageReportQuery = z.input<typeof usageReportQuery>;
