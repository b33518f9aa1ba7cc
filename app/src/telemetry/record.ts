/**
 * What the engine, the LLM gateway and the worker pool report; each call updates the contract's
 * metrics. One function per event so call sites stay one line and label values stay consistent
 * (model = `provider/model`, status = a terminal task status, error_type = a closed set).
 */
import { propagation, context } from "@opentelemetry/api";
import { breakerStateValue, taskStatusLabels } from "../contract/metrics";
import type { BreakerState } from "../coord/types";
import type { LlmErrorKind, LlmResult } from "../llm/types";
import { apexMetrics } from "./metrics";

/** Values of apex_task_errors_total{error_type}. */
export const taskErrorTypes = [
  "timeout",
  "rate_limited",
  "provider_error",
  "breaker_open",
  "invalid_request",
  "tool_error",
  "sandbox_error",
  "cancelled",
  "internal",
] as const;
export type TaskErrorType = (typeof taskErrorTypes)[number];

export type TerminalTaskStatus = (typeof taskStatusLabels)[number];

/** The `model` label: always `provider/model`. */
export function modelLabel(provider: string, model: string): string {
  return model.startsWith(`${provider}/`) ? model : `${provider}/${model}`;
}

function activeAgentId(): string | undefined {
  return propagation.getBaggage(context.active())?.getEntry("agent_id")?.value;
}

/** Maps an LLM error kind onto the error_type label. */
export function errorTypeForLlm(kind: LlmErrorKind): TaskErrorType {
  return kind;
}

/**
 * Starts every known label combination at 0, so rate() and increase() see the first event and a
 * scrape shows every series the dashboards and alerts use before anything happened.
 */
export function initialiseSeries(options: { readonly providers?: readonly string[] } = {}): void {
  for (const status of taskStatusLabels) apexMetrics.tasksTotal.inc({ status }, 0);
  for (const error_type of taskErrorTypes) apexMetrics.taskErrorsTotal.inc({ error_type }, 0);
  for (const provider of options.providers ?? []) {
    apexMetrics.circuitBreakerState.set({ provider }, breakerStateValue.closed);
  }
}

/** A successful LLM call: tokens by kind, USD cost by model and by agent, latency. */
export function recordLlmCall(result: LlmResult, agentId: string | undefined = activeAgentId()): void {
  const model = modelLabel(result.provider, result.requestModel);
  const { inputTokens, outputTokens, cachedTokens } = result.usage;
  apexMetrics.tokensTotal.inc({ model, kind: "input" }, inputTokens);
  apexMetrics.tokensTotal.inc({ model, kind: "output" }, outputTokens);
  if (cachedTokens > 0) apexMetrics.tokensTotal.inc({ model, kind: "cached" }, cachedTokens);
  apexMetrics.costTotal.inc({ model }, result.costUsd);
  if (agentId) apexMetrics.agentCostTotal.inc({ agent_id: agentId }, result.costUsd);
  apexMetrics.llmLatency.observe({ model }, result.latencyMs / 1000);
}

/** A failed LLM call that reached the provider (timeouts and provider errors take time too). */
export function recordLlmFailure(model: string, latencyMs: number | undefined, kind: LlmErrorKind): void {
  if (latencyMs === undefined || kind === "breaker_open" || kind === "rate_limited") return;
  apexMetrics.llmLatency.observe({ model }, latencyMs / 1000);
}

export function recordBreakerState(provider: string, state: BreakerState): void {
  apexMetrics.circuitBreakerState.set({ provider }, breakerStateValue[state]);
}

export interface AttemptOutcome {
  readonly kind: "llm" | "tool";
  readonly durationMs: number;
  /** Why the attempt failed; undefined when it succeeded. */
  readonly errorType?: TaskErrorType;
}

/** One finished task attempt: its duration, and its error type if it failed. */
export function recordTaskAttempt(outcome: AttemptOutcome): void {
  apexMetrics.taskDuration.observe({ kind: outcome.kind }, outcome.durationMs / 1000);
  if (outcome.errorType) apexMetrics.taskErrorsTotal.inc({ error_type: outcome.errorType });
}

/** A task reached a terminal status (counted once per task, not per attempt). */
export function recordTaskTerminal(status: TerminalTaskStatus): void {
  apexMetrics.tasksTotal.inc({ status });
}

/** This worker's busy slots out of its slots. */
export function recordWorkerSlots(busy: number, slots: number): void {
  apexMetrics.workerUtilization.set(slots > 0 ? busy / slots : 0);
}
