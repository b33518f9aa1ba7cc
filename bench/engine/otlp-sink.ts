/**
 * Stands in for Jaeger: an OTLP/gRPC trace endpoint on 127.0.0.1 that accepts every export and
 * throws it away undecoded, so the measured processes pay what production pays for tracing
 * (spans created, batched, serialised and sent) and their exports succeed.
 */
import * as grpc from "@grpc/grpc-js";

const asIs = (b: Buffer) => b;
/** An empty ExportTraceServiceResponse: no partial_success, i.e. everything accepted. */
const accepted = Buffer.alloc(0);

export interface OtlpSink {
  /** http://127.0.0.1:<port>, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly endpoint: string;
  readonly exports: number;
  readonly bytes: number;
  close(): Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  let exports = 0;
  let bytes = 0;
  const server = new grpc.Server();
  server.addService(
    {
      Export: {
        path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        requestStream: false,
        responseStream: false,
        requestSerialize: asIs,
        requestDeserialize: asIs,
        responseSerialize: asIs,
        responseDeserialize: asIs,
      },
    },
    {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        exports++;
        bytes += call.request.length;
        callback(null, accepted);
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get exports() {
      return exports;
    },
    get bytes() {
      return bytes;
    },
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
