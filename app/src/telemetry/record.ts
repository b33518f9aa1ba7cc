/**
 * What the engine, the LLM gateway and the worker pool report; each call updates the contract's
 * metrics. One function per event so call sites stay one line and label values stay consistent
 * (model = `provider/model`, status = a terminal task status, error_type = a closed set).
 */
import { propagation, context } from "@opentelemetry/api";
import { breakerStateValue, taskErrorTypes, taskStatusLabels, type TaskErrorType } from "../contract/metrics";
import type { BreakerState } from "../coord/types";
import type { LlmErrorKind, LlmUsage } from "../llm/types";
import { apexMetrics, ensureRegistered } from "./metrics";
import { budgetScopes } from "../domain/budget";

/** Values of apex_task_errors_total{error_type}: defined in the contract (shared with dashboards and alerts). */
export { taskErrorTypes, type TaskErrorType } from "../contract/metrics";

export type TerminalTaskStatus = (typeof taskStatusLabels)[number];

/** The `model` label: always `provider/model`. */
export function modelLabel(provider: string, model: string): string {
  return model.startsWith(`${provider}/`) ? model : `${provider}/${model}`;
}

function activeAgentId(): string | undefined {
  return propagation.getBaggage(context.active())?.getEntry("agent_id")?.value;
}

/** The `kind` values of apex_tokens_total. */
export const tokenKinds = ["input", "output", "cached"] as const;

export interface SeriesOptions {
  /** Providers this process can call: their breaker series start closed. */
  readonly providers?: readonly string[];
  /**
   * `provider/model` names this process may call (the price table's models of its providers):
   * their cost and token series start at 0. None for a process that makes no LLM call.
   */
  readonly models?: readonly string[];
}

/**
 * Starts every known label combination at 0, so rate() and increase() see the first event and a
 * scrape shows every series the dashboards and alerts use before anything happened. Agents'
 * cost series are started by `trackAgentSeries` (metrics.ts): agents come and go at run time.
 */
export function initialiseSeries(options: SeriesOptions = {}): void {
  for (const status of taskStatusLabels) apexMetrics.tasksTotal.inc({ status }, 0);
  for (const error_type of taskErrorTypes) apexMetrics.taskErrorsTotal.inc({ error_type }, 0);
  for (const scope of budgetScopes) apexMetrics.budgetRejectionsTotal.inc({ scope }, 0);
  for (const provider of options.providers ?? []) {
    apexMetrics.circuitBreakerState.set({ provider }, breakerStateValue.closed);
  }
  for (const model of options.models ?? []) {
    apexMetrics.costTotal.inc({ model }, 0);
    for (const kind of tokenKinds) apexMetrics.tokensTotal.inc({ model, kind }, 0);
  }
}

/** The models of `priced` (a price table's `provider/model` names) whose provider is one of `providers`. */
export function modelsOfProviders(priced: readonly string[], providers: readonly string[]): string[] {
  return priced.filter((m) => providers.includes(m.slice(0, m.indexOf("/"))));
}

/** One LLM gateway call as the gateway reports it (its `onCall` event has this shape). */
export interface LlmCallRecord {
  readonly provider: string;
  /** `provider/model` as requested. */
  readonly model: string;
  readonly outcome: "success" | LlmErrorKind;
  /** False when the breaker or the rate limiter rejected the call before any provider request. */
  readonly providerCalled: boolean;
  readonly latencyMs: number;
  readonly usage?: LlmUsage;
  readonly costUsd?: number;
}

/**
 * Tokens by kind, USD cost by model and by agent (the active baggage's agent_id), and latency of
 * every call that reached the provider (failed calls take time too; rejected ones did not call).
 */
export function recordLlmCall(call: LlmCallRecord, agentId: string | undefined = activeAgentId()): void {
  const model = modelLabel(call.provider, call.model);
  if (call.usage) {
    const { inputTokens, outputTokens, cachedTokens } = call.usage;
    apexMetrics.tokensTotal.inc({ model, kind: "input" }, inputTokens);
    apexMetrics.tokensTotal.inc({ model, kind: "output" }, outputTokens);
    if (cachedTokens > 0) apexMetrics.tokensTotal.inc({ model, kind: "cached" }, cachedTokens);
  }
  if (call.costUsd !== undefined && call.costUsd > 0) {
    apexMetrics.costTotal.inc({ model }, call.costUsd);
    if (agentId) apexMetrics.agentCostTotal.inc({ agent_id: agentId }, call.costUsd);
  } else if (call.outcome === "success") {
    // A free call (local provider, unpriced model) still makes the series exist at 0.
    apexMetrics.costTotal.inc({ model }, 0);
    if (agentId) apexMetrics.agentCostTotal.inc({ agent_id: agentId }, 0);
  }
  if (call.providerCalled) apexMetrics.llmLatency.observe({ model }, call.latencyMs / 1000);
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

/** This worker's busy slots out of its slots. */
export function recordWorkerSlots(busy: number, slots: number): void {
  ensureRegistered("workerUtilization");
  apexMetrics.workerUtilization.set(slots > 0 ? busy / slots : 0);
}

const terminalStatuses: ReadonlySet<string> = new Set(taskStatusLabels);

/**
 * `count` tasks moved to `status`: terminal ones are counted in apex_tasks_total. The engine calls
 * it where it emits status events, once the transaction that made the change has committed.
 */
export function recordTaskStatuses(status: string, count: number): void {
  if (count > 0 && terminalStatuses.has(status)) apexMetrics.tasksTotal.inc({ status }, count);
}
