/**
 * `task_execution` spans, one per attempt: a child of the DAG's root span (stored with the task)
 * with the baggage agent_id / dag_id / task_id active. The span id is planned before the attempt is
 * recorded and stored with it, so that if the worker dies, the worker that reclaims the task ends
 * that same span (`endLostAttemptSpan`). See spans.ts for the whole trace.
 */
import { type Span, SpanKind, SpanStatusCode, TraceFlags, isSpanContextValid, trace } from "@opentelemetry/api";
import { ATTR_ERROR_TYPE } from "@opentelemetry/semantic-conventions";
import { apexAttr, extractCarrier, injectCarrier, runInSpan, spanNames, tracer, withBaggageEntries, type TraceCarrier } from "./spans";
import { idGenerator, supersededSpanAttr } from "./tracing";

export interface TaskAttemptInfo {
  readonly dagId: string;
  readonly taskId: string;
  readonly agentId?: string;
  readonly kind: "llm" | "tool";
  /** Execution number (attempts.number). */
  readonly attempt: number;
  readonly workerId: string;
  /** The span id chosen by `planAttemptSpan` (stored with the attempt); default random. */
  readonly spanId?: string;
}

export interface AttemptSpanPlan {
  /** Pass to withTaskAttemptSpan (info.spanId). Undefined when the task has no valid trace. */
  readonly spanId: string | undefined;
  /** Store with the attempt (attempts.trace_context): the attempt span's own carrier. */
  readonly carrier: TraceCarrier | null;
}

/**
 * The attempt span's carrier: its span id is chosen before the attempt is recorded (the claim
 * stores it), so if the worker dies, whoever reclaims the task ends that very span (`endLostAttemptSpan`).
 */
export function planAttemptSpan(taskCarrier: TraceCarrier | null | undefined, spanId: string = idGenerator.generateSpanId()): AttemptSpanPlan {
  const parent = extractCarrier(taskCarrier);
  const parentContext = trace.getSpanContext(parent);
  if (!parentContext || !isSpanContextValid(parentContext)) return { spanId: undefined, carrier: null };
  const own = trace.setSpanContext(parent, { traceId: parentContext.traceId, spanId, traceFlags: parentContext.traceFlags ?? TraceFlags.NONE });
  return { spanId, carrier: injectCarrier(own) };
}

/**
 * Runs one task attempt inside a `task_execution` span, child of the DAG's root span, with baggage
 * agent_id / dag_id / task_id active. A throw marks the span failed with `error.type` and rethrows;
 * callers that handle failures themselves call `markSpanError` on the span they are given.
 */
export async function withTaskAttemptSpan<T>(
  taskCarrier: TraceCarrier | null | undefined,
  info: TaskAttemptInfo,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = withBaggageEntries(extractCarrier(taskCarrier), {
    agent_id: info.agentId,
    dag_id: info.dagId,
    task_id: info.taskId,
  });
  const start = () =>
    tracer().startSpan(
      spanNames.task,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          [apexAttr.taskKind]: info.kind,
          [apexAttr.taskAttempt]: info.attempt,
          [apexAttr.workerId]: info.workerId,
        },
      },
      parent,
    );
  const traceId = trace.getSpanContext(parent)?.traceId;
  const span = info.spanId && traceId ? idGenerator.withIds({ traceId, spanId: info.spanId }, start) : start();
  return runInSpan(span, parent, fn);
}

export interface LostAttempt {
  readonly kind: "llm" | "tool";
  readonly attempt: number;
  /** The worker that held the lease. */
  readonly workerId: string;
  readonly startTime: Date;
  readonly errorType: string;
  readonly message: string;
}

/**
 * Ends, from another process, the `task_execution` span of an attempt whose worker died: same
 * trace and span id as stored with the attempt, child of the DAG root, with the task's baggage.
 * Returns false (nothing recorded) when the attempt or the task carries no valid trace.
 */
export function endLostAttemptSpan(
  attemptCarrier: TraceCarrier | null | undefined,
  taskCarrier: TraceCarrier | null | undefined,
  lost: LostAttempt,
): boolean {
  const own = trace.getSpanContext(extractCarrier(attemptCarrier));
  const parent = extractCarrier(taskCarrier);
  if (!own || !isSpanContextValid(own) || trace.getSpanContext(parent)?.traceId !== own.traceId) return false;
  const span = idGenerator.withIds({ traceId: own.traceId, spanId: own.spanId }, () =>
    tracer().startSpan(
      spanNames.task,
      {
        kind: SpanKind.CONSUMER,
        startTime: lost.startTime,
        attributes: {
          [apexAttr.taskKind]: lost.kind,
          [apexAttr.taskAttempt]: lost.attempt,
          [apexAttr.workerId]: lost.workerId,
          [apexAttr.taskOutcome]: "failed",
        },
      },
      parent,
    ),
  );
  span.setAttribute(ATTR_ERROR_TYPE, lost.errorType);
  span.setStatus({ code: SpanStatusCode.ERROR, message: lost.message });
  span.end();
  return true;
}

/**
 * Withdraws this process's attempt span from export: the attempt was reclaimed by another worker,
 * which ends the same span id itself (endLostAttemptSpan). Call before the span ends.
 */
export function supersedeAttemptSpan(span: Span): void {
  span.setAttribute(supersededSpanAttr, true);
}
