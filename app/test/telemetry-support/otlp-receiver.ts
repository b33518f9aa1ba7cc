/**
 * A local OTLP trace receiver on 127.0.0.1, for tests that prove the runtime's exporter really
 * speaks OTLP: gRPC (the collector's TraceService/Export) and HTTP (`POST /v1/traces` with a
 * protobuf or JSON body, gzip or not), both feeding one list of spans. The proto is the subset of
 * opentelemetry-proto (collector/trace/v1, trace/v1, common/v1, resource/v1) with the official field
 * numbers; fields it leaves out are skipped by the decoder, as protobuf specifies.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const otlpTraceProto = `
syntax = "proto3";
package opentelemetry.proto.collector.trace.v1;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; }
message Resource { repeated KeyValue attributes = 1; }
message Status { string message = 2; int32 code = 3; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  Status status = 15;
  fixed32 flags = 16;
}
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ExportTracePartialSuccess { int64 rejected_spans = 1; string error_message = 2; }
message ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1; }
service TraceService {
  rpc Export(ExportTraceServiceRequest) returns (ExportTraceServiceResponse) {}
}
`;

type AttrValue = string | number | boolean | AttrValue[];

/** A received span with hex ids and flattened attributes. */
export interface ReceivedSpan {
  readonly service: string | undefined;
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly kind: number;
  readonly startTimeUnixNano: bigint;
  readonly endTimeUnixNano: bigint;
  readonly attributes: Readonly<Record<string, AttrValue>>;
  readonly statusCode: number;
}

interface RawAnyValue {
  value?: string;
  string_value?: string;
  bool_value?: boolean;
  int_value?: string;
  double_value?: number;
  array_value?: { values?: RawAnyValue[] };
  bytes_value?: Buffer;
}
interface RawKeyValue {
  key: string;
  value?: RawAnyValue;
}
interface RawSpan {
  trace_id: Buffer;
  span_id: Buffer;
  parent_span_id: Buffer;
  name: string;
  kind: number;
  start_time_unix_nano: string;
  end_time_unix_nano: string;
  attributes?: RawKeyValue[];
  status?: { code?: number };
}
interface RawRequest {
  resource_spans?: { resource?: { attributes?: RawKeyValue[] }; scope_spans?: { spans?: RawSpan[] }[] }[];
}

function decodeValue(v: RawAnyValue | undefined): AttrValue {
  if (!v) return "";
  switch (v.value) {
    case "string_value":
      return v.string_value ?? "";
    case "bool_value":
      return v.bool_value ?? false;
    case "int_value":
      return Number(v.int_value);
    case "double_value":
      return v.double_value ?? 0;
    case "array_value":
      return (v.array_value?.values ?? []).map(decodeValue);
    case "bytes_value":
      return v.bytes_value?.toString("hex") ?? "";
    default:
      return "";
  }
}

function decodeAttributes(kvs: RawKeyValue[] | undefined): Record<string, AttrValue> {
  return Object.fromEntries((kvs ?? []).map((kv) => [kv.key, decodeValue(kv.value)]));
}

/** OTLP/JSON (camelCase keys, hex ids, 64-bit integers as strings or numbers). */
interface JsonAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: JsonAnyValue[] };
  bytesValue?: string;
}
interface JsonKeyValue {
  key: string;
  value?: JsonAnyValue;
}
interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes?: JsonKeyValue[];
  status?: { code?: number };
}
interface JsonRequest {
  resourceSpans?: { resource?: { attributes?: JsonKeyValue[] }; scopeSpans?: { spans?: JsonSpan[] }[] }[];
}

function decodeJsonValue(v: JsonAnyValue | undefined): AttrValue {
  if (!v) return "";
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(decodeJsonValue);
  if (v.bytesValue !== undefined) return Buffer.from(v.bytesValue, "base64").toString("hex");
  return "";
}

function decodeJsonAttributes(kvs: JsonKeyValue[] | undefined): Record<string, AttrValue> {
  return Object.fromEntries((kvs ?? []).map((kv) => [kv.key, decodeJsonValue(kv.value)]));
}

function fromJson(request: JsonRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const serviceName = decodeJsonAttributes(rs.resource?.attributes)["service.name"];
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          service: typeof serviceName === "string" ? serviceName : undefined,
          name: s.name,
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? "",
          kind: s.kind ?? 0,
          startTimeUnixNano: BigInt(s.startTimeUnixNano),
          endTimeUnixNano: BigInt(s.endTimeUnixNano),
          attributes: decodeJsonAttributes(s.attributes),
          statusCode: s.status?.code ?? 0,
        });
      }
    }
  }
  return out;
}

function fromProto(request: RawRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of request.resource_spans ?? []) {
    const resource = decodeAttributes(rs.resource?.attributes);
    const serviceName = typeof resource["service.name"] === "string" ? resource["service.name"] : undefined;
    for (const ss of rs.scope_spans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          service: serviceName,
          name: s.name,
          traceId: s.trace_id.toString("hex"),
          spanId: s.span_id.toString("hex"),
          parentSpanId: s.parent_span_id.toString("hex"),
          kind: s.kind,
          startTimeUnixNano: BigInt(s.start_time_unix_nano),
          endTimeUnixNano: BigInt(s.end_time_unix_nano),
          attributes: decodeAttributes(s.attributes),
          statusCode: s.status?.code ?? 0,
        });
      }
    }
  }
  return out;
}

/** How a batch arrived. */
export type OtlpTransport = "grpc" | "http/protobuf" | "http/json";

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  return req.headers["content-encoding"] === "gzip" ? gunzipSync(body) : body;
}

export interface OtlpReceiver {
  /** http://127.0.0.1:<port> of the gRPC receiver, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly endpoint: string;
  /** http://127.0.0.1:<port> of the HTTP receiver (base URL: spans are POSTed to /v1/traces). */
  readonly httpEndpoint: string;
  readonly spans: readonly ReceivedSpan[];
  /** The transport of each batch received, in order. */
  readonly batches: readonly OtlpTransport[];
  /** Resolves when `predicate` holds for the received spans (polls), or rejects after timeoutMs. */
  waitFor(predicate: (spans: readonly ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const dir = mkdtempSync(join(tmpdir(), "apex-otlp-"));
  const protoPath = join(dir, "trace_service.proto");
  writeFileSync(protoPath, otlpTraceProto);
  const definition = protoLoader.loadSync(protoPath, { keepCase: true, longs: String, oneofs: true, defaults: true });
  rmSync(dir, { recursive: true, force: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    opentelemetry: { proto: { collector: { trace: { v1: { TraceService: grpc.ServiceClientConstructor } } } } };
  };
  const service = pkg.opentelemetry.proto.collector.trace.v1.TraceService.service;

  const spans: ReceivedSpan[] = [];
  const batches: OtlpTransport[] = [];
  const receive = (transport: OtlpTransport, received: ReceivedSpan[]): void => {
    batches.push(transport);
    spans.push(...received);
  };
  const server = new grpc.Server();
  server.addService(service, {
    Export(call: grpc.ServerUnaryCall<RawRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
      receive("grpc", fromProto(call.request));
      callback(null, {});
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );

  // OTLP/HTTP: the same messages as protobuf or JSON bodies; an empty ExportTraceServiceResponse back.
  const exportMethod = service.Export;
  if (!exportMethod) throw new Error("OTLP receiver: TraceService has no Export method");
  const decodeProto = exportMethod.requestDeserialize as (b: Buffer) => RawRequest;
  const http = createServer((req, res) => {
    if (req.method !== "POST" || req.url !== "/v1/traces") {
      res.writeHead(404).end();
      return;
    }
    readBody(req).then(
      (body) => {
        if (req.headers["content-type"] === "application/json") {
          receive("http/json", fromJson(JSON.parse(body.toString("utf8")) as JsonRequest));
          res.writeHead(200, { "content-type": "application/json" }).end("{}");
        } else {
          receive("http/protobuf", fromProto(decodeProto(body)));
          res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
        }
      },
      (err: Error) => res.writeHead(400, { "content-type": "text/plain" }).end(err.message),
    );
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const httpPort = (http.address() as AddressInfo).port;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    httpEndpoint: `http://127.0.0.1:${httpPort}`,
    spans,
    batches,
    async waitFor(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(spans)) {
        if (Date.now() > deadline) throw new Error(`OTLP receiver: condition not met within ${timeoutMs} ms (${spans.length} spans received)`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: async () => {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
