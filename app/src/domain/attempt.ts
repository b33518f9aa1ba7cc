/**
 * One attempt's outcome as the executor decides it and the engine records it, and the LLM usage
 * an attempt paid for.
 */
import type { TaskErrorType } from "../contract/metrics";

/** One paid LLM call, recorded in `usage` when its answer arrived (not with the attempt's outcome). */
export interface LlmCallUsage {
  readonly provider: string;
  readonly model: string;
  readonly responseModel: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedTokens: number;
  readonly costUsd: number;
  readonly priceVersion: string;
  readonly latencyMs: number;
}

export type AttemptOutcome =
  /** `usage`: the calls this attempt paid for (already recorded; for telemetry). None when it reused a stored answer. */
  | { readonly kind: "succeeded"; readonly output: unknown; readonly usage?: readonly LlmCallUsage[] }
  /**
   * `retryDelayMs` undefined: not retryable. A retry happens only while attempts remain.
   * `errorType` is decided where the error is caught (from its class), never parsed back from `error`.
   */
  | {
      readonly kind: "failed";
      readonly error: string;
      readonly errorType: TaskErrorType;
      readonly retryDelayMs?: number;
      /** The lease was lost: the worker that reclaimed the task already counted this attempt. */
      readonly reportedByReclaimer?: boolean;
    }
  /**
   * Back to ready after `delayMs` without spending the attempt (breaker open, rate limited, shutdown).
   * `errorType` undefined: not a failure of the task (a worker shutting down hands it back).
   */
  | { readonly kind: "rescheduled"; readonly reason: string; readonly delayMs: number; readonly errorType?: TaskErrorType }
  /**
   * The attempt could not begin (the provider's breaker is open, or a budget has no room yet): its
   * attempts row is deleted and the attempt refunded, as if the claim had never started it; the
   * task is ready again after `delayMs`, shown waiting for `waitingFor`. `errorType` undefined:
   * not a failure (waiting for a budget).
   */
  | {
      readonly kind: "deferred";
      readonly reason: string;
      readonly delayMs: number;
      readonly waitingFor: "provider" | "budget";
      readonly errorType?: TaskErrorType;
    };

export type FinishResult = "succeeded" | "retrying" | "failed" | "rescheduled" | "lease_lost";
