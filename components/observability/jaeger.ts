/** Jaeger all-in-one (v1, end-of-life upstream; image configurable): OTLP gRPC in, UI out, spans in memory. */
import { services } from "../../app/src/contract/services";
import type { ServiceSpec } from "../service";
import { goMemoryLimitEnv, observabilityResources } from "./sizing";

const ADMIN_PORT = 14269;

export function jaegerSpec(args: { readonly image: string; readonly publishPorts: boolean }): ServiceSpec {
  const j = services.jaeger;
  return {
    name: j.name,
    component: "tracing",
    image: args.image,
    ports: [
      { name: "otlp-grpc", port: j.otlpGrpcPort, appProtocol: "grpc", ...(args.publishPorts ? { hostPort: j.otlpGrpcPort } : {}) },
      { name: "ui", port: j.uiPort, appProtocol: "http", ...(args.publishPorts ? { hostPort: j.uiPort } : {}) },
      { name: "admin", port: ADMIN_PORT, appProtocol: "http" },
    ],
    env: {
      ...goMemoryLimitEnv(observabilityResources.jaeger),
      COLLECTOR_OTLP_ENABLED: "true",
      SPAN_STORAGE_TYPE: "memory",
      // Bounded memory store: the newest traces survive, a restart loses them (see docs/observability.md).
      MEMORY_MAX_TRACES: "50000",
    },
    resources: observabilityResources.jaeger,
    probes: { readiness: { http: { path: "/", port: ADMIN_PORT } }, liveness: { http: { path: "/", port: ADMIN_PORT }, initialDelaySeconds: 15 } },
    scaling: { replicas: 1 },
    user: { uid: 10001, gid: 10001 },
    volumes: [{ kind: "tmp", name: "tmp", mountPath: "/tmp", sizeLimit: "64Mi" }],
  };
}
