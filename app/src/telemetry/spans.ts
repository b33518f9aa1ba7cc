/**
 * The runtime's spans: `dag_execution` → `task_execution` (one per attempt) → `llm_call` /
 * `tool_execution`. One DAG is one trace across processes, queue hops, retries and approval waits:
 *
 *  1. At submission (apex-api) `beginDagTrace` starts the root `dag_execution` span to obtain its
 *     ids and sampling decision, and returns a W3C carrier (traceparent + baggage agent_id, dag_id)
 *     that the store writes to `dags.trace_context`; `taskTraceCarrier` adds task_id to it for each
 *     `tasks.trace_context`. That in-memory span is never ended, so it is never exported from there.
 *  2. Each attempt (apex-worker) runs inside `withTaskAttemptSpan(tasks.trace_context, …)`
 *     (attempt-spans.ts): a
 *     `task_execution` child of the stored root span, with the baggage active, so every span and log
 *     line below it carries trace_id and agent_id / task_id / dag_id.
 *  3. Whichever process moves the DAG to a terminal state (the transaction that set `finished_at`;
 *     exactly one does) calls `endDagTrace`, which re-creates the root span with the stored trace
 *     and span ids and the DAG's creation time as start time, and ends it (after the attempt span
 *     it was called in, when there is one). The exported `dag_execution` therefore spans submission
 *     to the DAG's end, and its children point at it.
 */
import {
  type Attributes,
  type Context,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  isSpanContextValid,
  propagation,
  trace,
} from "@opentelemetry/api";
import { ATTR_ERROR_TYPE, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from "@opentelemetry/semantic-conventions";
import { LlmError, type LlmResult, type LlmServerEndpoint } from "../llm/types";
import { apexPropagator, deferUntilSpanEnds, idGenerator } from "./tracing";

/** Span names (seed §1). */
export const spanNames = {
  dag: "dag_execution",
  task: "task_execution",
  llm: "llm_call",
  tool: "tool_execution",
} as const;

/**
 * OpenTelemetry GenAI semantic-convention attribute names. They are still "development" status in
 * @opentelemetry/semantic-conventions (incubating entry point), whose docs ask users to copy them.
 */
export const genAi = {
  operationName: "gen_ai.operation.name",
  providerName: "gen_ai.provider.name",
  requestModel: "gen_ai.request.model",
  requestMaxTokens: "gen_ai.request.max_tokens",
  requestTemperature: "gen_ai.request.temperature",
  responseModel: "gen_ai.response.model",
  responseId: "gen_ai.response.id",
  inputTokens: "gen_ai.usage.input_tokens",
  outputTokens: "gen_ai.usage.output_tokens",
  cacheReadInputTokens: "gen_ai.usage.cache_read.input_tokens",
  finishReasons: "gen_ai.response.finish_reasons",
  toolName: "gen_ai.tool.name",
} as const;

/** Apex's own span attributes. */
export const apexAttr = {
  dagId: "dag_id",
  agentId: "agent_id",
  taskId: "task_id",
  dagName: "apex.dag.name",
  dagStatus: "apex.dag.status",
  taskKind: "apex.task.kind",
  taskAttempt: "apex.task.attempt",
  taskOutcome: "apex.task.outcome",
  workerId: "apex.worker.id",
  costUsd: "apex.llm.cost_usd",
  priceVersion: "apex.llm.price_version",
  toolExitCode: "apex.tool.exit_code",
} as const;

/** W3C carrier: `traceparent`, optional `tracestate`, `baggage`. Stored as jsonb. */
export type TraceCarrier = Record<string, string>;

const tracerName = "apex-runtime";
/** The runtime's tracer (spans.ts and attempt-spans.ts). */
export const tracer = () => trace.getTracer(tracerName);

export function injectCarrier(ctx: Context): TraceCarrier {
  const carrier: TraceCarrier = {};
  apexPropagator.inject(ctx, carrier, defaultTextMapSetter);
  return carrier;
}

export function extractCarrier(carrier: TraceCarrier | null | undefined): Context {
  return carrier ? apexPropagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter) : ROOT_CONTEXT;
}

export function withBaggageEntries(ctx: Context, entries: Record<string, string | undefined>): Context {
  let baggage = propagation.getBaggage(ctx) ?? propagation.createBaggage();
  for (const [key, value] of Object.entries(entries)) {
    if (value !== undefined) baggage = baggage.setEntry(key, { value });
  }
  return propagation.setBaggage(ctx, baggage);
}

/** `error.type` for a failure: the LLM error kind, an explicit type, or the error's class name. */
export function errorTypeOf(err: unknown): string {
  if (err instanceof LlmError) return err.kind;
  if (err && typeof err === "object" && "errorType" in err && typeof err.errorType === "string") return err.errorType;
  if (err instanceof Error) return err.name || "Error";
  return "_OTHER";
}

/** Marks a span failed with `error.type` (and the exception event when there is one). */
export function markSpanError(span: Span, errorType: string, err?: unknown): void {
  span.setAttribute(ATTR_ERROR_TYPE, errorType);
  if (err instanceof Error) span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : errorType });
}

export interface DagTrace {
  /** Write to dags.trace_context. */
  readonly carrier: TraceCarrier;
  /** 32 hex, or undefined when tracing is not started in this process. */
  readonly traceId: string | undefined;
}

/**
 * Carrier key holding the traceparent of the request that submitted the DAG (the API's SERVER span):
 * the root span links to it, both when opened and when re-created at the DAG's end.
 */
export const submissionLinkKey = "apex-submitted-by";

function submissionLinks(dagCarrier: TraceCarrier | null | undefined): Link[] {
  const traceparent = dagCarrier?.[submissionLinkKey];
  if (!traceparent) return [];
  const linked = trace.getSpanContext(apexPropagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter));
  return linked && isSpanContextValid(linked) ? [{ context: linked }] : [];
}

/**
 * Opens the DAG's trace at submission; see the file comment. The DAG is its own trace (it outlives
 * the request); when submitted inside a request's span (the API's SERVER span, which continues the
 * client's traceparent), the root span links to it.
 */
export function beginDagTrace(dag: { readonly dagId: string; readonly agentId: string; readonly name?: string }): DagTrace {
  const active = trace.getActiveSpan()?.spanContext();
  const caller = active && isSpanContextValid(active) ? active : undefined;
  const baggageCtx = withBaggageEntries(ROOT_CONTEXT, { agent_id: dag.agentId, dag_id: dag.dagId });
  const root = tracer().startSpan(spanNames.dag, { root: true, kind: SpanKind.INTERNAL, links: caller ? [{ context: caller }] : [] }, baggageCtx);
  const spanContext = root.spanContext();
  const carrier = injectCarrier(trace.setSpan(baggageCtx, root));
  const callerTraceparent = caller ? injectCarrier(trace.setSpanContext(ROOT_CONTEXT, caller)).traceparent : undefined;
  if (callerTraceparent) carrier[submissionLinkKey] = callerTraceparent;
  return {
    carrier,
    traceId: isSpanContextValid(spanContext) ? spanContext.traceId : undefined,
  };
}

/** The carrier stored on a task row: the DAG's, plus baggage task_id. */
export function taskTraceCarrier(dagCarrier: TraceCarrier | null | undefined, taskId: string): TraceCarrier {
  return injectCarrier(withBaggageEntries(extractCarrier(dagCarrier), { task_id: taskId }));
}

/** The trace id of a stored carrier (for DagView.traceId), if it has one. */
export function traceIdOf(carrier: TraceCarrier | null | undefined): string | undefined {
  const spanContext = trace.getSpanContext(extractCarrier(carrier));
  return spanContext && isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

/** Runs `fn` inside the stored trace context (no new span), e.g. to log about a DAG or task. */
export function withStoredContext<T>(carrier: TraceCarrier | null | undefined, fn: () => T): T {
  return context.with(extractCarrier(carrier), fn);
}

export interface DagOutcome {
  readonly status: "succeeded" | "failed" | "cancelled";
  /** When the DAG was submitted (dags.created_at): the span's start. */
  readonly startTime: Date;
  /** Default now. */
  readonly endTime?: Date;
  readonly name?: string;
  readonly attributes?: Attributes;
}

/**
 * Ends the DAG's root span (see the file comment). Call once, from the transaction that moved the
 * DAG to its terminal state. Does nothing for a carrier without a valid trace.
 */
export function endDagTrace(dagCarrier: TraceCarrier | null | undefined, outcome: DagOutcome): void {
  const stored = extractCarrier(dagCarrier);
  const spanContext = trace.getSpanContext(stored);
  if (!spanContext || !isSpanContextValid(spanContext)) return;
  // The DAG usually ends inside its last attempt's transaction: end the root after that attempt's
  // span, so no child outlives its parent.
  const active = trace.getActiveSpan();
  const activeContext = active?.spanContext();
  if (active?.isRecording() && activeContext?.traceId === spanContext.traceId) {
    if (deferUntilSpanEnds(activeContext.spanId, () => replayDagSpan(dagCarrier, stored, spanContext, outcome))) return;
  }
  replayDagSpan(dagCarrier, stored, spanContext, outcome);
}

function replayDagSpan(dagCarrier: TraceCarrier | null | undefined, stored: Context, spanContext: SpanContext, outcome: DagOutcome): void {
  const span = idGenerator.withIds({ traceId: spanContext.traceId, spanId: spanContext.spanId }, () =>
    tracer().startSpan(
      spanNames.dag,
      {
        root: true,
        kind: SpanKind.INTERNAL,
        startTime: outcome.startTime,
        links: submissionLinks(dagCarrier),
        attributes: {
          [apexAttr.dagStatus]: outcome.status,
          ...(outcome.name ? { [apexAttr.dagName]: outcome.name } : {}),
          ...outcome.attributes,
        },
      },
      stored,
    ),
  );
  if (outcome.status === "failed") markSpanError(span, "dag_failed");
  span.end(outcome.endTime);
}

/** Runs `fn` with `span` active; a throw marks it failed (error.type) and rethrows; ends it. */
export async function runInSpan<T>(span: Span, parent: Context, fn: (span: Span) => Promise<T>): Promise<T> {
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    markSpanError(span, errorTypeOf(err), err);
    throw err;
  } finally {
    span.end();
  }
}

/** Splits `provider/model` into its parts (a model without a slash has provider "unknown"). */
export function splitModel(model: string): { provider: string; model: string } {
  const slash = model.indexOf("/");
  return slash > 0 ? { provider: model.slice(0, slash), model: model.slice(slash + 1) } : { provider: "unknown", model };
}

export interface LlmCallInfo {
  /** `provider/model` as requested. */
  readonly model: string;
  readonly maxTokens?: number;
  readonly temperature?: number;
}

/** `server.address` / `server.port`: the provider endpoint the call went to. */
function recordLlmServer(span: Span, server: LlmServerEndpoint | undefined): void {
  if (server) span.setAttributes({ [ATTR_SERVER_ADDRESS]: server.address, [ATTR_SERVER_PORT]: server.port });
}

/** Sets the GenAI response attributes of a finished call on its span. */
export function recordLlmResult(span: Span, result: LlmResult): void {
  recordLlmServer(span, result.server);
  span.setAttributes({
    ...(result.responseId !== undefined ? { [genAi.responseId]: result.responseId } : {}),
    [genAi.responseModel]: result.responseModel,
    [genAi.inputTokens]: result.usage.inputTokens,
    [genAi.outputTokens]: result.usage.outputTokens,
    [genAi.cacheReadInputTokens]: result.usage.cachedTokens,
    [genAi.finishReasons]: [...result.finishReasons],
    [apexAttr.costUsd]: result.costUsd,
    [apexAttr.priceVersion]: result.priceVersion,
  });
}

/** Runs one LLM call inside an `llm_call` span with the GenAI semantic-convention attributes. */
export function withLlmCallSpan(info: LlmCallInfo, fn: (span: Span) => Promise<LlmResult>): Promise<LlmResult> {
  const { provider, model } = splitModel(info.model);
  const parent = context.active();
  const span = tracer().startSpan(
    spanNames.llm,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        [genAi.operationName]: "chat",
        [genAi.providerName]: provider,
        [genAi.requestModel]: model,
        ...(info.maxTokens !== undefined ? { [genAi.requestMaxTokens]: info.maxTokens } : {}),
        ...(info.temperature !== undefined ? { [genAi.requestTemperature]: info.temperature } : {}),
      },
    },
    parent,
  );
  return runInSpan(span, parent, async (s) => {
    let result: LlmResult;
    try {
      result = await fn(s);
    } catch (err) {
      // A request that reached the provider still names it on the failed span.
      if (err instanceof LlmError) recordLlmServer(s, err.options.server);
      throw err;
    }
    recordLlmResult(s, result);
    return result;
  });
}

/** Runs one tool invocation inside a `tool_execution` span. */
export function withToolSpan<T>(toolName: string, fn: (span: Span) => Promise<T>): Promise<T> {
  const parent = context.active();
  const span = tracer().startSpan(
    spanNames.tool,
    { kind: SpanKind.INTERNAL, attributes: { [genAi.operationName]: "execute_tool", [genAi.toolName]: toolName } },
    parent,
  );
  return runInSpan(span, parent, fn);
}
