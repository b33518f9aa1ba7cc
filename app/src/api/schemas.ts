/**
 * The API's wire shapes as zod schemas: request inputs are parsed with them (both transports),
 * responses are typed by them, and GET /openapi.json is generated from them. JSON is snake_case,
 * like the DAG submission contract; the gRPC messages use the same field names.
 */
import { z } from "zod";

const roleSchema = z.enum(["admin", "operator", "viewer", "agent"]);
const name = z.string().trim().min(1).max(200);
const id = z.guid().describe("UUID");

// ----- requests -----

export const idParams = z.strictObject({ id });

export const createAgentBody = z.strictObject({
  name,
  description: z.string().max(2000).optional(),
});

export const listApprovalsQuery = z.strictObject({
  status: z.enum(["pending", "approved", "rejected"]).optional(),
});

export const decideApprovalBody = z.strictObject({
  reason: z.string().max(2000).optional(),
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

const taskStatus = z.enum(["pending", "ready", "running", "awaiting_approval", "succeeded", "failed", "cancelled", "skipped"]);
const dagStatus = z.enum(["running", "awaiting_approval", "succeeded", "failed", "cancelled"]);

export const taskJson = z.object({
  id: z.string(),
  kind: z.enum(["llm", "tool"]),
  status: taskStatus,
  depends_on: z.array(z.string()),
  output: z.unknown().optional(),
  error: z.string().optional(),
  attempts: z.array(attemptJson),
  usage: usageJson,
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
});

export const dagStatusJson = z.object({ id: z.string(), status: dagStatus });

export const approvalJson = z.object({
  id: z.string(),
  dag_id: z.string(),
  task_id: z.string(),
  tool: z.string(),
  args: z.unknown(),
  status: z.enum(["pending", "approved", "rejected"]),
  decided_by: z.string().optional(),
  decided_at: z.string().optional(),
  reason: z.string().optional(),
  created_at: z.string(),
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
