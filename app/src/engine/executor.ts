/**
 * Runs one claimed task to an AttemptOutcome: renders templates, calls the LLM gateway (a step
 * paid once: paid-once.ts) or the tool, enforces the time limit through AbortSignal, and
 * classifies errors (retry, reschedule without spending an attempt, defer without an attempt while
 * the provider's breaker is open or a budget has no room yet, or fail for good).
 */
import { ZodError } from "zod";
import { LlmError, type LlmGateway } from "../llm/types";
import { SandboxError } from "../sandbox/errors";
import type { SandboxDriver } from "../sandbox/types";
import type { ToolRegistry } from "../tools/types";
import type { LlmTaskSpec, ToolTaskSpec } from "../service/dag-schema";
import type { Db } from "../store/db";
import { withToolSpan } from "../telemetry/spans";
import { retryDelayMs, type BackoffPolicy } from "./backoff";
import type { AttemptOutcome, LlmCallUsage } from "../domain/attempt";
import type { ClaimedTask } from "./lifecycle";
import { BudgetRefusedError } from "./budget-refused";
import { callOnce } from "./paid-once";
import { renderDeep, renderTemplate, TemplateError, type TemplateScope } from "./template";

export interface ExecutorDeps {
  /** Where LLM calls are journaled (answers and usage as they arrive) and budgets reserved. */
  readonly db: Db;
  /** The budgets' clock (which hour, day and month a call counts in). Default Date.now. */
  readonly now?: () => number;
  readonly llm: LlmGateway;
  readonly tools: ToolRegistry;
  readonly sandbox: SandboxDriver;
  readonly backoff: BackoffPolicy;
}

/** Why a running task's signal was aborted by the worker (the time limit aborts with "timeout"). */
export type AbortReason = "cancelled" | "lease_lost" | "shutdown";

export class AbortedError extends Error {
  constructor(readonly reason: AbortReason | "timeout", message: string) {
    super(message);
    this.name = "AbortedError";
  }
}

/** Reschedule delay when the breaker is open and the error gives no hint. */
const breakerRetryMs = 5_000;

/** The effective per-attempt limit: the task's, or the tool's default when shorter. */
export function effectiveTimeoutMs(task: ClaimedTask, tools: ToolRegistry): number {
  if (task.spec.kind !== "tool") return task.timeoutMs;
  const toolLimit = tools.get(task.spec.tool)?.timeoutMs;
  return toolLimit === undefined ? task.timeoutMs : Math.min(toolLimit, task.timeoutMs);
}

/**
 * Executes the task under `workerSignal` (cancel, lease loss, shutdown) plus the time limit.
 * Never throws for task errors: they become outcomes.
 */
export async function executeTask(
  deps: ExecutorDeps,
  task: ClaimedTask,
  attempt: number,
  workerSignal: AbortSignal,
): Promise<AttemptOutcome> {
  const timeoutMs = effectiveTimeoutMs(task, deps.tools);
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = AbortSignal.any([workerSignal, timeout]);
  try {
    const scope = task.scope;
    // Race the work against the signal: a provider or tool that ignores it cannot hold the slot.
    const output = await raceAbort(
      signal,
      task.spec.kind === "llm"
        ? runLlm(deps, task, attempt, task.spec, scope, signal)
        : runTool(deps, task.spec, scope, signal, timeoutMs),
    );
    return { kind: "succeeded", output: output.output, usage: output.usage };
  } catch (err) {
    if (workerSignal.aborted) {
      const reason = workerSignal.reason as AbortReason;
      if (reason === "shutdown") return { kind: "rescheduled", reason: "worker shut down", delayMs: 0 };
      if (reason === "cancelled") return { kind: "failed", error: "cancelled", errorType: "cancelled" };
      return { kind: "failed", error: "lease lost", errorType: "lease_expired", reportedByReclaimer: true };
    }
    if (timeout.aborted) {
      return {
        kind: "failed",
        error: `timeout: attempt ${attempt} exceeded ${timeoutMs} ms`,
        errorType: "timeout",
        retryDelayMs: retryDelayMs(attempt, deps.backoff),
      };
    }
    if (err instanceof BudgetRefusedError) return budgetOutcome(err, deps.now ?? Date.now);
    return classifyError(err, task.kind, attempt, deps.backoff);
  }
}

/** How long a call that fits once the calls in flight settle waits before trying again (plus up to as much jitter). */
const budgetSettleRetryMs = 500;

/**
 * A refused reservation: nothing was sent. It fails for good (budget_exceeded, no retry), or the
 * attempt is handed back without counting: until the period's reset the DAG asked to wait for, or
 * briefly while calls in flight hold the room it needs.
 */
function budgetOutcome(err: BudgetRefusedError, now: () => number): AttemptOutcome {
  const { decision, waitUntil } = err.refusal;
  if (decision === "fail") return { kind: "failed", error: `budget_exceeded: ${err.message}`, errorType: "budget_exceeded" };
  const delayMs =
    decision === "wait_reset" && waitUntil ? Math.max(0, waitUntil.getTime() - now()) : budgetSettleRetryMs + Math.floor(Math.random() * budgetSettleRetryMs);
  return { kind: "deferred", reason: `budget: ${err.message}`, waitingFor: "budget", delayMs };
}

/**
 * Retry policy and error type of a failed attempt, from the error's class (never its text):
 * LLM errors by kind, sandbox failures, everything else a tool threw is a tool error, and what
 * failed on an LLM task outside the provider (templates) is internal.
 */
export function classifyError(err: unknown, kind: "llm" | "tool", attempt: number, backoff: BackoffPolicy): AttemptOutcome {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof LlmError) {
    const errorType = err.kind;
    if (err.kind === "breaker_open") {
      return { kind: "deferred", reason: `breaker_open: ${message}`, waitingFor: "provider", errorType, delayMs: err.options.retryAfterMs ?? breakerRetryMs };
    }
    if (err.kind === "rate_limited") {
      return { kind: "rescheduled", reason: `rate_limited: ${message}`, errorType, delayMs: err.options.retryAfterMs ?? retryDelayMs(attempt, backoff) };
    }
    if (!err.retryable) return { kind: "failed", error: `${err.kind}: ${message}`, errorType };
    return { kind: "failed", error: `${err.kind}: ${message}`, errorType, retryDelayMs: retryDelayMs(attempt, backoff) };
  }
  const otherType = kind === "tool" ? "tool_error" : "internal";
  if (err instanceof TemplateError) return { kind: "failed", error: `template: ${message}`, errorType: otherType };
  if (err instanceof PermanentTaskError) return { kind: "failed", error: message, errorType: otherType };
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    return { kind: "failed", error: `invalid tool args at ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? message}`, errorType: otherType };
  }
  const errorType = err instanceof SandboxError ? "sandbox_error" : otherType;
  return { kind: "failed", error: message, errorType, retryDelayMs: retryDelayMs(attempt, backoff) };
}

interface RunResult {
  readonly output: unknown;
  readonly usage?: readonly LlmCallUsage[];
}

/** An error that no retry can fix (e.g. a tool this worker does not have). */
export class PermanentTaskError extends Error {
  override readonly name = "PermanentTaskError";
}

async function runLlm(deps: ExecutorDeps, task: ClaimedTask, attempt: number, spec: LlmTaskSpec, scope: TemplateScope, signal: AbortSignal): Promise<RunResult> {
  const prompt = renderTemplate(spec.prompt, scope);
  const system = spec.system === undefined ? undefined : renderTemplate(spec.system, scope);
  const answer = await callOnce(
    deps.db,
    deps.llm,
    task,
    attempt,
    { model: spec.model, prompt, system, maxTokens: spec.max_tokens, temperature: spec.temperature, signal },
    deps.now,
  );
  // The usage is already recorded (with the answer); it rides along only for the attempt's telemetry.
  return { output: answer.text, usage: answer.usage ? [answer.usage] : undefined };
}

async function runTool(deps: ExecutorDeps, spec: ToolTaskSpec, scope: TemplateScope, signal: AbortSignal, timeoutMs: number): Promise<RunResult> {
  const tool = deps.tools.get(spec.tool);
  if (!tool) throw new PermanentTaskError(`tool "${spec.tool}" is not registered on this worker`);
  const args = tool.args.parse(renderDeep(spec.args, scope));
  return { output: await withToolSpan(tool.name, () => tool.run(args, { sandbox: deps.sandbox, signal, timeoutMs })) };
}

function raceAbort<T>(signal: AbortSignal, work: Promise<T>): Promise<T> {
  if (signal.aborted) return Promise.reject(new AbortedError("timeout", "aborted before start"));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortedError("timeout", "aborted"));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
