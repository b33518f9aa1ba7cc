/**
 * grpc.health.v1.Health for apex-api (unauthenticated, as the protocol expects): Check answers
 * SERVING while the service is ready (the store answers), for Kubernetes gRPC probes and
 * grpc_health_probe; Watch sends the status, then every change, until the client leaves.
 */
import {
  status as GrpcStatus,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { ApexService } from "../../service/types";

/** The names Check and Watch answer for: the whole server ("") and the Apex service. */
const knownServices = new Set(["", "apex.v1.Apex"]);
/** How often Watch re-checks readiness. */
const watchIntervalMs = 5_000;

type ServingStatus = "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";
type HealthRequest = { service?: string };

export function healthService(
  service: ApexService,
  /** Open Watch streams and the function that ends each, so the server can close them. */
  streams: Map<ServerWritableStream<HealthRequest, unknown>, () => Promise<void>>,
): UntypedServiceImplementation {
  const current = (): Promise<ServingStatus> =>
    service
      .ready()
      .catch(() => false)
      .then((ready) => (ready ? "SERVING" : "NOT_SERVING"));

  return {
    Check: (call: ServerUnaryCall<HealthRequest, unknown>, callback: sendUnaryData<unknown>): void => {
      const name = call.request.service ?? "";
      if (!knownServices.has(name)) {
        callback({ code: GrpcStatus.NOT_FOUND, details: `unknown service ${name}` });
        return;
      }
      void current().then((status) => callback(null, { status }));
    },
    Watch: (call: ServerWritableStream<HealthRequest, unknown>): void => {
      const name = call.request.service ?? "";
      let last: ServingStatus | undefined;
      const send = async (): Promise<void> => {
        const status = knownServices.has(name) ? await current() : "SERVICE_UNKNOWN";
        if (status !== last && !call.cancelled && !call.writableEnded) {
          last = status;
          call.write({ status });
        }
      };
      const timer = setInterval(() => void send(), watchIntervalMs);
      timer.unref();
      const stop = async (): Promise<void> => {
        clearInterval(timer);
        streams.delete(call);
        if (!call.writableEnded) call.end();
      };
      streams.set(call, stop);
      call.on("cancelled", () => void stop());
      void send();
    },
  };
}
