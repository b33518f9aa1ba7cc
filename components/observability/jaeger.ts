/**
 * Jaeger all-in-one (v1, end-of-life upstream; image configurable): OTLP in, UI out, spans in
 * Badger on a persistent volume (Kubernetes: StatefulSet + PVC; Docker: named volume), so traces
 * survive a restart and expire after `spanRetention` (docs/observability.md, "Trace storage").
 */
import { services } from "../../app/src/contract/services";
import type { NetworkFlow } from "../platform/network-flows";
import type { ServiceSpec } from "../service";
import { goMemoryLimitEnv, observabilityResources } from "./sizing";

const ADMIN_PORT = 14269;

/**
 * apex-api and apex-worker -> Jaeger's OTLP HTTP port (4318), used when the runtime exports with
 * OTEL_EXPORTER_OTLP_PROTOCOL http/protobuf or http/json (the gRPC port has its own flows).
 */
export function jaegerOtlpHttpFlows(): NetworkFlow[] {
  const s = services;
  return [s.api.name, s.worker.name].map((from) => ({
    name: `${from.replace(/^apex-/, "")}-to-jaeger-otlp-http`,
    from: { service: from },
    to: { service: s.jaeger.name },
    ports: [{ port: s.jaeger.otlpHttpPort }],
  }));
}

/**
 * Badger's volume is mounted at /tmp: the image's only declared VOLUME and the only directory its
 * user (10001) may write. Docker seeds a new named volume with the mount point's owner and mode
 * (1777 here); at a path the image lacks it would be root-owned and Badger could not write
 * (jaegertracing/jaeger#4906). Kubernetes makes the PVC writable through fsGroup either way.
 */
export const jaegerBadgerPaths = {
  mount: "/tmp",
  keys: "/tmp/badger/keys",
  values: "/tmp/badger/values",
} as const;

/** Defaults until the stack config carries them: Jaeger's own TTL (72h) and a volume that holds it. */
export const jaegerStorageDefaults = { size: "10Gi", spanRetention: "72h" } as const;

/** Go duration as `--badger.span-store-ttl` parses it ("72h", "90m", "1h30m"). */
const goDuration = /^(\d+(\.\d+)?(h|m|s|ms))+$/;

export interface JaegerSpecArgs {
  readonly image: string;
  readonly publishPorts: boolean;
  /** PVC / volume size. Default `jaegerStorageDefaults.size`. */
  readonly storageSize?: string;
  /** How long spans are kept (BADGER_SPAN_STORE_TTL, a Go duration). Default `jaegerStorageDefaults.spanRetention`. */
  readonly spanRetention?: string;
}

export function jaegerSpec(args: JaegerSpecArgs): ServiceSpec {
  const j = services.jaeger;
  const spanRetention = args.spanRetention ?? jaegerStorageDefaults.spanRetention;
  if (!goDuration.test(spanRetention)) {
    throw new Error(`jaeger: spanRetention: expected a Go duration such as "72h" or "168h", got "${spanRetention}"`);
  }
  return {
    name: j.name,
    component: "tracing",
    image: args.image,
    ports: [
      { name: "otlp-grpc", port: j.otlpGrpcPort, appProtocol: "grpc", ...(args.publishPorts ? { hostPort: j.otlpGrpcPort } : {}) },
      { name: "otlp-http", port: j.otlpHttpPort, appProtocol: "http", ...(args.publishPorts ? { hostPort: j.otlpHttpPort } : {}) },
      { name: "ui", port: j.uiPort, appProtocol: "http", ...(args.publishPorts ? { hostPort: j.uiPort } : {}) },
      { name: "admin", port: ADMIN_PORT, appProtocol: "http" },
    ],
    env: {
      ...goMemoryLimitEnv(observabilityResources.jaeger),
      COLLECTOR_OTLP_ENABLED: "true",
      SPAN_STORAGE_TYPE: "badger",
      BADGER_EPHEMERAL: "false",
      BADGER_DIRECTORY_KEY: jaegerBadgerPaths.keys,
      BADGER_DIRECTORY_VALUE: jaegerBadgerPaths.values,
      BADGER_SPAN_STORE_TTL: spanRetention,
    },
    resources: observabilityResources.jaeger,
    probes: { readiness: { http: { path: "/", port: ADMIN_PORT } }, liveness: { http: { path: "/", port: ADMIN_PORT }, initialDelaySeconds: 15 } },
    // Badger allows one writer per directory: one replica, replaced (not surged) on update.
    scaling: { replicas: 1 },
    stateful: true,
    user: { uid: 10001, gid: 10001 },
    volumes: [{ kind: "data", name: "data", mountPath: jaegerBadgerPaths.mount, size: args.storageSize ?? jaegerStorageDefaults.size }],
  };
}
