/**
 * The runtime's JSON logger (pino), one line per event in the seed's shape (§1, Loki):
 *   {"timestamp":"2026-01-29T15:30:00.000Z","level":"INFO","message":"Task completed",
 *    "trace_id":"…32 hex…","span_id":"…16 hex…","agent_id":"…","task_id":"…",
 *    "tokens_used":1500,"cost":0.003,"duration_ms":2500, ...}
 * `trace_id`/`span_id` come from the active OpenTelemetry span and `agent_id`/`task_id`/`dag_id`
 * from the active baggage, so a line logged inside a span always leads to its trace. The usage
 * fields are passed by the call site where they apply (see `UsageFields`). Secrets are censored by
 * field name and scrubbed by value (redaction.ts).
 */
import { context, isSpanContextValid, propagation, trace } from "@opentelemetry/api";
import pino, { type DestinationStream, type LevelWithSilent } from "pino";
import { runtimeEnv } from "../contract/env";
import { REDACTED, redactPaths, secretScrubber } from "./redaction";

/** The seed's per-event fields, for call sites that log a task's or call's outcome. */
export interface UsageFields {
  readonly agent_id?: string;
  readonly task_id?: string;
  readonly dag_id?: string;
  readonly tokens_used?: number;
  /** USD. */
  readonly cost?: number;
  readonly duration_ms?: number;
}

/** Baggage keys copied onto every log line (and every span, see tracing.ts). */
export const baggageKeys = ["agent_id", "task_id", "dag_id"] as const;

const levels: readonly LevelWithSilent[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export interface LoggerOptions {
  /** `service` field of every line; default the process's (setLogServiceName, OTEL_SERVICE_NAME, else "apex"). */
  readonly service?: string;
  /** Default LOG_LEVEL, else "info". */
  readonly level?: string;
  /** Default stdout. Tests pass a stream to read the lines back. */
  readonly destination?: DestinationStream;
}

function parseLevel(raw: string | undefined): LevelWithSilent {
  const level = (raw ?? "info").toLowerCase();
  if (!(levels as readonly string[]).includes(level)) {
    throw new Error(`${runtimeEnv.logLevel}: expected one of ${levels.join(", ")}, got "${raw}"`);
  }
  return level as LevelWithSilent;
}

/** trace_id, span_id and the baggage fields of the active OpenTelemetry context. */
export function traceFields(): Record<string, string> {
  const ctx = context.active();
  const out: Record<string, string> = {};
  const spanContext = trace.getSpan(ctx)?.spanContext();
  if (spanContext && isSpanContextValid(spanContext)) {
    out.trace_id = spanContext.traceId;
    out.span_id = spanContext.spanId;
  }
  const baggage = propagation.getBaggage(ctx);
  for (const key of baggageKeys) {
    const entry = baggage?.getEntry(key);
    if (entry) out[key] = entry.value;
  }
  return out;
}

let processService = process.env[runtimeEnv.serviceName] ?? "apex";

/** Names the process (apex-api, apex-worker) in the `service` field of its loggers' lines; startTracing calls it. */
export function setLogServiceName(name: string): void {
  processService = name;
}

export function createLogger(options: LoggerOptions = {}): pino.Logger {
  const fixedService = options.service;
  const pinoOptions: pino.LoggerOptions = {
    level: parseLevel(options.level ?? process.env[runtimeEnv.logLevel]),
    messageKey: "message",
    base: undefined,
    timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
    formatters: { level: (label) => ({ level: label.toUpperCase() }) },
    mixin: () => ({ service: fixedService ?? processService, ...traceFields() }),
    redact: { paths: [...redactPaths], censor: REDACTED },
    hooks: { streamWrite: (line) => secretScrubber.scrub(line) },
  };
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}

/** stdout, plus any stream `teeLogs` adds (every level; the logger's own level filters). */
const processStreams = pino.multistream([{ stream: pino.destination({ fd: 1, sync: false }), level: "trace" }]);

/** The process's logger. */
export const logger = createLogger({ destination: processStreams });
export type Logger = pino.Logger;

/**
 * Also writes the process logger's lines (already redacted) to `stream`, e.g. for a test that reads
 * what the engine logged. Returns the function that stops it.
 */
export function teeLogs(stream: DestinationStream): () => void {
  processStreams.add({ stream, level: "trace" });
  // pino assigns each added stream an id (not in its typings); remove() takes it.
  const entry = processStreams.streams.find((s) => s.stream === stream) as { id?: number } | undefined;
  return () => {
    if (entry?.id !== undefined) processStreams.remove(entry.id);
  };
}
