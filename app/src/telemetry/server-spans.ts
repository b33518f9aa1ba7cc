/**
 * SERVER spans for the API's incoming requests (HTTP semantic conventions for the JSON API, RPC
 * ones for gRPC), so a client's call and the DAG it submitted can be found from each other: the
 * span continues the caller's W3C `traceparent`, and a DAG submitted inside it links its root
 * `dag_execution` span to it (spans.ts, beginDagTrace).
 *
 * Only trace context is taken from the caller, never baggage: agent_id / dag_id / task_id on Apex's
 * spans come from the store, and a client must not be able to set them.
 */
import { type Attributes, type Context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, context, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
} from "@opentelemetry/semantic-conventions";

/** RPC attribute names (still "development" in the conventions' incubating entry point). */
export const rpcAttr = {
  system: "rpc.system",
  service: "rpc.service",
  method: "rpc.method",
  grpcStatusCode: "rpc.grpc.status_code",
} as const;

const incoming = new W3CTraceContextPropagator();
const tracer = () => trace.getTracer("apex-runtime");

type HeaderValue = string | readonly string[] | undefined;

/** The caller's trace context from `traceparent` / `tracestate`; anything else is ignored. */
function callerContext(get: (name: string) => HeaderValue): Context {
  const carrier: Record<string, string> = {};
  for (const name of ["traceparent", "tracestate"]) {
    const value = get(name);
    const first = Array.isArray(value) ? value[0] : value;
    if (typeof first === "string") carrier[name] = first;
  }
  return incoming.extract(ROOT_CONTEXT, carrier, { get: (c, k) => c[k], keys: (c) => Object.keys(c) });
}

export interface ServerSpan {
  readonly span: Span;
  /** Run the request's work inside this context. */
  readonly context: Context;
}

function startServerSpan(name: string, parent: Context, attributes: Attributes): ServerSpan {
  const span = tracer().startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

export interface HttpRequestInfo {
  readonly method: string;
  /** The route template, e.g. `/v1/dags/:id`. */
  readonly route: string;
  /** The path without the query string. */
  readonly path: string;
  readonly headers: Readonly<Record<string, HeaderValue>>;
}

/** `POST /v1/dags`: a SERVER span continuing the caller's traceparent. End it with endHttpServerSpan. */
export function startHttpServerSpan(req: HttpRequestInfo): ServerSpan {
  return startServerSpan(`${req.method} ${req.route}`, callerContext((n) => req.headers[n]), {
    [ATTR_HTTP_REQUEST_METHOD]: req.method,
    [ATTR_HTTP_ROUTE]: req.route,
    [ATTR_URL_PATH]: req.path,
    [ATTR_URL_SCHEME]: "http",
  });
}

/** Records the response status; 5xx marks the span failed (4xx is the client's error, not the server's). */
export function endHttpServerSpan(span: Span, statusCode: number): void {
  span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, statusCode);
  if (statusCode >= 500) {
    span.setAttribute(ATTR_ERROR_TYPE, String(statusCode));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

/**
 * Runs one unary gRPC call (`apex.v1.Apex/SubmitDag`) inside a SERVER span; `fn` returns the
 * gRPC status code it answered with (0 = OK).
 */
export async function withGrpcServerSpan<T>(
  service: string,
  method: string,
  metadataValue: (name: string) => HeaderValue,
  fn: () => Promise<{ readonly code: number; readonly value: T }>,
): Promise<T> {
  const { span, context: ctx } = startServerSpan(`${service}/${method}`, callerContext(metadataValue), {
    [rpcAttr.system]: "grpc",
    [rpcAttr.service]: service,
    [rpcAttr.method]: method,
  });
  try {
    const { code, value } = await context.with(ctx, fn);
    span.setAttribute(rpcAttr.grpcStatusCode, code);
    // Server-side, these codes are the server's failure (RPC semantic conventions).
    if ([2, 4, 12, 13, 14, 15].includes(code)) {
      span.setAttribute(ATTR_ERROR_TYPE, String(code));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    return value;
  } finally {
    span.end();
  }
}
