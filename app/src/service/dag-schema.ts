/**
 * The submission contract of `POST /v1/dags` as zod schemas. Fields may grow; these hold.
 * Graph rules (unique ids, known deps, no cycle) and tool args live in validate-dag.ts.
 */
import { z } from "zod";
import { parseModelId } from "../llm/model-id";
import { rejectUnstorable } from "./storable-input";

/** Limits that keep one DAG from swamping the store or the workers. */
export const dagLimits = {
  maxTasks: 200,
  maxBodyBytes: 1024 * 1024,
  /** Nesting of arrays and objects in a body (`input`, `args`): deeper JSON overflows the stack of whoever walks it. */
  maxJsonDepth: 64,
  maxDepsPerTask: 200,
  maxPromptChars: 100_000,
  maxAttempts: 10,
  defaultMaxAttempts: 3,
  minTimeoutMs: 100,
  maxTimeoutMs: 3_600_000,
  defaultTimeoutMs: 60_000,
} as const;

export const taskIdPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** `provider/model`, e.g. `openai/gpt-4o-mini`, `local/echo`. */
export const modelPattern = /^[a-z][a-z0-9_-]*\/[A-Za-z0-9][\w.:@/-]*$/;

const taskCommon = {
  id: z.string().regex(taskIdPattern, "expected 1-64 letters, digits, '_' or '-', starting with a letter or digit"),
  depends_on: z.array(z.string()).max(dagLimits.maxDepsPerTask).default([]),
  max_attempts: z.number().int().min(1).max(dagLimits.maxAttempts).default(dagLimits.defaultMaxAttempts),
  /** Per-attempt time limit; for tool tasks the tool's own default applies when shorter. */
  timeout_ms: z.number().int().min(dagLimits.minTimeoutMs).max(dagLimits.maxTimeoutMs).optional(),
};

export const llmTaskSchema = z.object({
  ...taskCommon,
  kind: z.literal("llm"),
  model: z
    .string()
    .regex(modelPattern, "expected provider/model, e.g. openai/gpt-4o-mini or local/echo")
    // An unknown provider is the submitter's mistake: a 400 now, not a failed task later.
    .superRefine((model, ctx) => {
      const parsed = parseModelId(model);
      if ("error" in parsed) ctx.addIssue({ code: "custom", message: parsed.error });
    }),
  /** Template: `{{input.x}}` and `{{tasks.<id>.output}}` (id must be in depends_on). */
  prompt: z.string().min(1).max(dagLimits.maxPromptChars),
  system: z.string().max(dagLimits.maxPromptChars).optional(),
  max_tokens: z.number().int().min(1).max(200_000).optional(),
  temperature: z.number().min(0).max(2).optional(),
});

export const toolTaskSchema = z.object({
  ...taskCommon,
  kind: z.literal("tool"),
  tool: z.string().min(1).max(100),
  /** Validated against the tool's schema; string values may hold templates like prompts. */
  args: z.record(z.string(), z.unknown()).default({}),
});

export const taskSchema = z.discriminatedUnion("kind", [llmTaskSchema, toolTaskSchema]);

/** Budgets are kept in whole micro-dollars. */
export const microUsdOf = (usd: number): number => Math.round(usd * 1e6);

/** A budget's USD amount: dollars with at most 6 decimals (every budget in the API uses this rule). */
export const usdAmount = z
  .number()
  .nonnegative()
  .max(1_000_000_000)
  .refine((v) => Math.abs(v * 1e6 - microUsdOf(v)) < 1e-6, "at most 6 decimal places (whole micro-dollars)");
/** A budget's token amount. */
export const tokenAmount = z.int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** The DAG's own budget over its whole life (docs/budgets.md), and what it does when a periodic one runs out. */
export const dagBudgetSchema = z.strictObject({
  usd: usdAmount.optional().describe("Most the DAG's LLM calls may cost, in USD."),
  tokens: tokenAmount.optional().describe("Most tokens (input + output) its LLM calls may use."),
  on_exhausted: z
    .enum(["fail", "wait_for_reset"])
    .default("fail")
    .describe(
      "When an agent's or API key's hourly, daily or monthly budget refuses a call: fail the task (budget_exceeded), or keep it ready (waiting_for budget) until the period resets. A total budget always fails.",
    ),
});

export const dagSubmissionSchema = z
  .object({
    agent_id: z.uuid(),
    name: z.string().min(1).max(200),
    input: z.record(z.string(), z.unknown()).default({}),
    tasks: z.array(taskSchema).min(1).max(dagLimits.maxTasks),
    budget: dagBudgetSchema.optional(),
  })
  // Every string and key of the submission is stored (dags.input, tasks.spec): no NUL, no lone surrogate.
  .superRefine(rejectUnstorable);

export type LlmTaskSpec = z.infer<typeof llmTaskSchema>;
export type ToolTaskSpec = z.infer<typeof toolTaskSchema>;
export type TaskSpec = z.infer<typeof taskSchema>;
export type DagSubmission = z.infer<typeof dagSubmissionSchema>;
export type DagBudgetSpec = z.infer<typeof dagBudgetSchema>;
