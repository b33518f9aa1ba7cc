/**
 * What one finished task attempt reports: its duration and error type (metrics), its outcome on
 * the task_execution span, and the seed's usage fields for the attempt's log line (always all three). An attempt whose
 * worker died is reported by the worker that reclaimed it (`reportLostAttempt`).
 */
import type { Span } from "@opentelemetry/api";
import type { AttemptOutcome } from "../domain/attempt";
import type { LostAttemptReport } from "../domain/engine-events";
import { logger, type UsageFields } from "./logger";
import { recordTaskAttempt } from "./record";
import { endLostAttemptSpan } from "./attempt-spans";
import { apexAttr, markSpanError, withStoredContext } from "./spans";

export function observeAttempt(span: Span, kind: "llm" | "tool", outcome: AttemptOutcome, durationMs: number): UsageFields {
  // A reschedule (breaker open, rate limited) spends no attempt but is still a failed try; a
  // shutdown hand-back carries no error type: it is not an error of the task.
  const errorType = outcome.kind === "succeeded" ? undefined : outcome.errorType;

  // A lost lease was counted by the worker that reclaimed it (reportLostAttempt): count it once.
  if (!(outcome.kind === "failed" && outcome.reportedByReclaimer)) recordTaskAttempt({ kind, durationMs, errorType });
  span.setAttribute(apexAttr.taskOutcome, outcome.kind);
  if (errorType) markSpanError(span, errorType);

  // Every attempt's line carries the seed's usage fields: 0 for a tool task, a reused answer, or an
  // attempt that failed or was handed back (a failed outcome carries no usage: the calls it paid
  // for are journaled and reused by the next attempt, see engine/paid-once.ts).
  const usage = (outcome.kind === "succeeded" && outcome.usage) || [];
  return {
    duration_ms: Math.round(durationMs),
    tokens_used: usage.reduce((n, u) => n + u.inputTokens + u.outputTokens, 0),
    cost: usage.reduce((n, u) => n + u.costUsd, 0),
  };
}


/**
 * An attempt lost with its worker (crash, or hung past the lease): its task_execution span is
 * ended with the stored ids and error.type lease_expired, it is counted in
 * apex_task_errors_total{error_type="lease_expired"} and apex_task_duration_seconds, and a WARN
 * line carrying the lost span's ids says so.
 */
export function reportLostAttempt(lost: LostAttemptReport): void {
  const durationMs = Math.max(0, Date.now() - lost.startTime.getTime());
  recordTaskAttempt({ kind: lost.kind, durationMs, errorType: "lease_expired" });
  endLostAttemptSpan(lost.attemptCarrier, lost.taskCarrier, {
    kind: lost.kind,
    attempt: lost.attempt,
    workerId: lost.workerId,
    startTime: lost.startTime,
    errorType: "lease_expired",
    message: lost.message,
  });
  withStoredContext(lost.attemptCarrier ?? lost.taskCarrier, () =>
    logger.warn(
      {
        dag_id: lost.dagId,
        task_id: lost.taskId,
        agent_id: lost.agentId,
        worker_id: lost.workerId,
        attempt: lost.attempt,
        result: "lease_expired",
        duration_ms: Math.round(durationMs),
      },
      `Task attempt lost: ${lost.message}`,
    ),
  );
}
