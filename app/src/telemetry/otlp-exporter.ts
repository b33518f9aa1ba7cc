/**
 * The OTLP trace exporter for the protocol the standard variables ask for: gRPC (the default, to
 * :4317) or HTTP (to :4318) with protobuf or JSON bodies, each the official OpenTelemetry exporter.
 *
 * OTEL_EXPORTER_OTLP_ENDPOINT is the collector's base URL for every protocol: gRPC takes it as it
 * is, HTTP appends the signal path `v1/traces` to it, as the OTLP exporter specification says.
 */
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { OTLPTraceExporter as GrpcTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { OTLPTraceExporter as JsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtobufTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { runtimeEnv } from "../contract/env";

export const otlpProtocols = ["grpc", "http/protobuf", "http/json"] as const;
export type OtlpProtocol = (typeof otlpProtocols)[number];

const isOtlpProtocol = (value: string): value is OtlpProtocol => (otlpProtocols as readonly string[]).includes(value);

/**
 * OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else `grpc`. Any other
 * value is an error naming the variable and the values allowed.
 */
export function resolveOtlpProtocol(env: Readonly<Record<string, string | undefined>>): OtlpProtocol {
  for (const name of [runtimeEnv.otlpTracesProtocol, runtimeEnv.otlpProtocol]) {
    const value = env[name]?.trim();
    if (!value) continue;
    if (!isOtlpProtocol(value)) throw new Error(`${name}: expected one of ${otlpProtocols.join(", ")}, got "${value}"`);
    return value;
  }
  return "grpc";
}

/** The traces URL of an OTLP/HTTP collector whose base URL is `endpoint`. */
export function otlpHttpTracesUrl(endpoint: string): string {
  const base = endpoint.endsWith("/") ? endpoint : `${endpoint}/`;
  return new URL("v1/traces", base).toString();
}

export function createOtlpTraceExporter(protocol: OtlpProtocol, endpoint: string): SpanExporter {
  switch (protocol) {
    case "grpc":
      return new GrpcTraceExporter({ url: endpoint });
    case "http/protobuf":
      return new ProtobufTraceExporter({ url: otlpHttpTracesUrl(endpoint) });
    case "http/json":
      return new JsonTraceExporter({ url: otlpHttpTracesUrl(endpoint) });
  }
}
