/**
 * The OpenTelemetry instrumentations of the libraries the runtime is built on: incoming and
 * outgoing HTTP (`http`/`https`), Fastify routes (@fastify/otel), gRPC (@grpc/grpc-js), Postgres
 * (`pg`, `pg-pool`) and Redis (`ioredis`). Their spans nest under Apex's own (spans.ts): a query a
 * task makes is a `pg` span under its `task_execution`.
 *
 * They patch modules as those are `require`d, so they must be installed before anything loads
 * fastify, @grpc/grpc-js, pg or ioredis: the bins import ./register first. Installed before the
 * SDK starts, they write through the global tracer provider, which delegates to the SDK's once
 * startTracing has run.
 *
 * Noise kept out: no spans for health probes and metrics scrapes (/healthz, /readyz, /metrics,
 * grpc.health.v1), and no `pg`/`ioredis`/outgoing-HTTP span without a parent, so background loops (claiming,
 * LISTEN, heartbeats, the cluster-gauge query behind a scrape) start no traces of their own.
 */
import type { IncomingMessage } from "node:http";
import { FastifyOtelInstrumentation } from "@fastify/otel";
import { type Instrumentation, registerInstrumentations } from "@opentelemetry/instrumentation";
import { GrpcInstrumentation } from "@opentelemetry/instrumentation-grpc";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { IORedisInstrumentation } from "@opentelemetry/instrumentation-ioredis";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { httpPaths } from "../contract/services";

/** Paths of probes and scrapes: never traced (they would be most of the spans). */
export const untracedPaths: readonly string[] = [httpPaths.health, httpPaths.ready, httpPaths.metrics];

const untracedPath = (url: string | undefined): boolean => untracedPaths.includes((url ?? "/").split("?")[0] ?? "/");

export function apexInstrumentations(): Instrumentation[] {
  return [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (req: IncomingMessage) => untracedPath(req.url),
      requireParentforOutgoingSpans: true,
    }),
    // Names the HTTP SERVER span after the route (`POST /v1/dags/:id/cancel`) and adds a `request`
    // span carrying the exception of a failed request. Hook spans are left out: one per hook per
    // request, and ours are bookkeeping.
    new FastifyOtelInstrumentation({
      registerOnInitialization: true,
      instrumentHooks: false,
      instrumentHandler: false,
      ignorePaths: (route) => untracedPath(route.url),
    }),
    // grpc.health.v1.Health Check/Watch are the probes' calls (our own methods have other names).
    new GrpcInstrumentation({ ignoreGrpcMethods: ["Check", "Watch"] }),
    new PgInstrumentation({ requireParentSpan: true }),
    new IORedisInstrumentation({ requireParentSpan: true }),
  ];
}

let installed = false;

/** Installs the instrumentations once per process; later calls do nothing. */
export function installInstrumentations(): void {
  if (installed) return;
  installed = true;
  registerInstrumentations({ instrumentations: apexInstrumentations() });
}
