/**
 * What one finished task attempt reports: its duration and error type (metrics), its outcome on
 * the task_execution span, and the seed's usage fields for the attempt's log line.
 */
import type { Span } from "@opentelemetry/api";
import type { AttemptOutcome } from "../engine/lifecycle";
import type { UsageFields } from "./logger";
import { recordTaskAttempt } from "./record";
import { apexAttr, markSpanError } from "./spans";

export function observeAttempt(span: Span, kind: "llm" | "tool", outcome: AttemptOutcome, durationMs: number): UsageFields {
  // A reschedule (breaker open, rate limited) spends no attempt but is still a failed try; a
  // shutdown hand-back carries no error type: it is not an error of the task.
  const errorType = outcome.kind === "succeeded" ? undefined : outcome.errorType;

  recordTaskAttempt({ kind, durationMs, errorType });
  span.setAttribute(apexAttr.taskOutcome, outcome.kind);
  if (errorType) markSpanError(span, errorType);

  const fields: { duration_ms: number; tokens_used?: number; cost?: number } = { duration_ms: Math.round(durationMs) };
  if (outcome.kind === "succeeded" && outcome.usage && outcome.usage.length > 0) {
    fields.tokens_used = outcome.usage.reduce((n, u) => n + u.inputTokens + u.outputTokens, 0);
    fields.cost = outcome.usage.reduce((n, u) => n + u.costUsd, 0);
  }
  return fields;
}
