/**
 * OpenTelemetry tracing for apex-api and apex-worker: a NodeTracerProvider with an OTLP trace exporter,
 * W3C trace-context + baggage for the carriers Apex stores, and a span processor that copies the
 * baggage keys agent_id / task_id / dag_id onto every span as attributes.
 *
 * Exporter endpoint: OTEL_EXPORTER_OTLP_ENDPOINT. The Pulumi program sets it to the stack's Jaeger
 * (`defaultOtlpEndpoint`, http://jaeger:4317). When it is unset (local `npm start`, tests) spans are
 * still created, so trace ids reach logs and DAG rows, but nothing is exported: a process never
 * sends telemetry to a host nobody configured. Protocol: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else
 * OTEL_EXPORTER_OTLP_PROTOCOL: `grpc` (default), `http/protobuf` or `http/json` (otlp-exporter.ts).
 *
 * Span helpers for the DAG/task/LLM/tool spans live in spans.ts; the library instrumentations
 * (HTTP, Fastify, gRPC, pg, ioredis) in instrumentations.ts.
 */
import { type Context, type Span, propagation } from "@opentelemetry/api";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { defaultResource, detectResources, envDetector, hostDetector, osDetector, processDetector, resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  RandomIdGenerator,
  type IdGenerator,
  type ReadableSpan,
  type Span as SdkSpan,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import { runtimeEnv } from "../contract/env";
import { services } from "../contract/services";
import { installInstrumentations } from "./instrumentations";
import { baggageKeys, setLogServiceName } from "./logger";
import { createOtlpTraceExporter, resolveOtlpProtocol, type OtlpProtocol } from "./otlp-exporter";

/** What deployed stacks set OTEL_EXPORTER_OTLP_ENDPOINT to: the stack's Jaeger, OTLP over gRPC. */
export const defaultOtlpEndpoint = `http://${services.jaeger.name}:${services.jaeger.otlpGrpcPort}`;

/** For the carriers Apex stores on DAG, task and attempt rows (spans.ts): trace context and baggage. */
export const apexPropagator = new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
});

/**
 * The process-wide propagator, used by the instrumentations on incoming and outgoing requests:
 * trace context only. A client must not set agent_id / dag_id / task_id through `baggage` (they
 * come from the store), and Apex's baggage must not leave with a request to a provider or a tool's URL.
 */
export const wirePropagator = new W3CTraceContextPropagator();

/**
 * Random ids, except when a span is being re-created with known ids: the root `dag_execution` span
 * is opened in the API at submission (its ids stored on the DAG row) but ended by whichever process
 * sees the DAG finish, which starts it again with the stored ids and start time (spans.ts).
 * Span creation is synchronous, so a one-shot preset cannot leak into another span.
 */
export class ReplayableIdGenerator implements IdGenerator {
  private readonly random = new RandomIdGenerator();
  private preset: { traceId: string; spanId: string } | undefined;

  generateTraceId(): string {
    return this.preset?.traceId ?? this.random.generateTraceId();
  }
  generateSpanId(): string {
    return this.preset?.spanId ?? this.random.generateSpanId();
  }
  /** Runs `create` (which must start exactly one root span) with the given ids. */
  withIds<T>(ids: { traceId: string; spanId: string }, create: () => T): T {
    this.preset = ids;
    try {
      return create();
    } finally {
      this.preset = undefined;
    }
  }
}

export const idGenerator = new ReplayableIdGenerator();

/** Copies agent_id / task_id / dag_id from the parent context's baggage onto each span. */
export class BaggageAttributesSpanProcessor implements SpanProcessor {
  onStart(span: Span, parentContext: Context): void {
    const baggage = propagation.getBaggage(parentContext);
    if (!baggage) return;
    for (const key of baggageKeys) {
      const entry = baggage.getEntry(key);
      if (entry) span.setAttribute(key, entry.value);
    }
  }
  onEnd(_span: ReadableSpan): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const afterSpanEnds = new Map<string, () => void>();
let spanEndHooksInstalled = false;

/**
 * Runs `fn` once the span with `spanId` has ended (in this process). Returns false, running
 * nothing, when no SpanEndHooksProcessor is installed (tracing not started).
 */
export function deferUntilSpanEnds(spanId: string, fn: () => void): boolean {
  if (!spanEndHooksInstalled) return false;
  afterSpanEnds.set(spanId, fn);
  return true;
}

/** Runs what `deferUntilSpanEnds` queued for a span, right after that span ends. */
export class SpanEndHooksProcessor implements SpanProcessor {
  constructor() {
    spanEndHooksInstalled = true;
  }
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    const spanId = span.spanContext().spanId;
    const fn = afterSpanEnds.get(spanId);
    if (!fn) return;
    afterSpanEnds.delete(spanId);
    queueMicrotask(fn);
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Attribute that withdraws a span from export: set on an attempt span whose attempt another worker
 * reclaimed and reported under the same span id (attempt-spans.ts), so Jaeger never sees it twice.
 */
export const supersededSpanAttr = "apex.span.superseded";

/** Forwards to `inner` every span except those marked superseded. */
export class SupersededSpanFilter implements SpanProcessor {
  constructor(private readonly inner: SpanProcessor) {}
  onStart(span: SdkSpan, parentContext: Context): void {
    this.inner.onStart(span, parentContext);
  }
  onEnd(span: ReadableSpan): void {
    if (span.attributes[supersededSpanAttr] === true) return;
    this.inner.onEnd(span);
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

export interface TracingOptions {
  /** `service.name`: apex-api or apex-worker. */
  readonly serviceName: string;
  /** OTLP endpoint; default OTEL_EXPORTER_OTLP_ENDPOINT; null or unset: no export. */
  readonly endpoint?: string | null;
  /** Default from OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL, else grpc. */
  readonly protocol?: OtlpProtocol;
  /** More processors (tests add an in-memory exporter here). */
  readonly spanProcessors?: readonly SpanProcessor[];
}

export interface Tracing {
  /** The endpoint spans are exported to, if any. */
  readonly endpoint: string | undefined;
  readonly protocol: OtlpProtocol;
  /** Flushes pending spans. */
  forceFlush(): Promise<void>;
  /** Flushes and stops; call on process shutdown. */
  shutdown(): Promise<void>;
}

function validateEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error(`${runtimeEnv.otlpEndpoint}: expected a URL such as ${defaultOtlpEndpoint}, got "${endpoint}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`${runtimeEnv.otlpEndpoint}: expected an http:// or https:// URL, got "${endpoint}"`);
  }
  return endpoint;
}

/** Starts OpenTelemetry tracing for this process (once, before the runtime does any work). */
export function startTracing(options: TracingOptions): Tracing {
  const protocol = options.protocol ?? resolveOtlpProtocol(process.env);
  const configured = options.endpoint === undefined ? process.env[runtimeEnv.otlpEndpoint] : options.endpoint;
  const endpoint = configured ? validateEndpoint(configured) : undefined;
  // Entry points import ./register first; this covers modules required from here on in the rest.
  installInstrumentations();
  const exporting: SpanProcessor[] = endpoint
    ? [new BatchSpanProcessor(createOtlpTraceExporter(protocol, endpoint), { scheduledDelayMillis: 1_000 })]
    : [];
  const spanProcessors: SpanProcessor[] = [
    new BaggageAttributesSpanProcessor(),
    new SpanEndHooksProcessor(),
    ...[...exporting, ...(options.spanProcessors ?? [])].map((p) => new SupersededSpanFilter(p)),
  ];

  // The trace SDK alone, not NodeSDK: that one also loads the metric and log SDKs and every
  // exporter (a second of start-up per process) for signals this runtime does not send over OTLP.
  // The resource is what NodeSDK would detect (OTEL_RESOURCE_ATTRIBUTES, host, OS, process), with
  // `service.name` from the caller.
  const resource = defaultResource()
    .merge(detectResources({ detectors: [envDetector, hostDetector, osDetector, processDetector] }))
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }));
  const provider = new NodeTracerProvider({ resource, idGenerator, spanProcessors });
  provider.register({ propagator: wirePropagator });
  // Log lines name the same service as the spans, so Loki and Jaeger agree.
  setLogServiceName(options.serviceName);
  return {
    endpoint,
    protocol,
    forceFlush: () => Promise.all(spanProcessors.map((p) => p.forceFlush())).then(() => undefined),
    shutdown: () => provider.shutdown(),
  };
}
