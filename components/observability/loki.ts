/** Loki (single binary, filesystem storage) and its generated config. */
import { createHash } from "node:crypto";
import { stringify } from "yaml";
import { services } from "../../app/src/contract/services";
import type { ServiceSpec } from "../service";
import { configChecksumEnv, goMemoryLimitEnv, observabilityResources } from "./sizing";

const GRPC_PORT = 9095;

/** Loki 2.9 config: one process, TSDB index + chunks on the data volume, retention by the compactor. */
export function lokiConfigYaml(args: { readonly retention: string }): string {
  return stringify({
    auth_enabled: false,
    server: { http_listen_port: services.loki.port, grpc_listen_port: GRPC_PORT, log_level: "info" },
    common: {
      path_prefix: "/loki",
      replication_factor: 1,
      instance_addr: "127.0.0.1",
      ring: { kvstore: { store: "inmemory" } },
      storage: { filesystem: { chunks_directory: "/loki/chunks", rules_directory: "/loki/rules" } },
    },
    schema_config: { configs: [{ from: "2024-01-01", store: "tsdb", object_store: "filesystem", schema: "v12", index: { prefix: "index_", period: "24h" } }] },
    limits_config: { retention_period: args.retention, reject_old_samples: true, reject_old_samples_max_age: "168h" },
    compactor: { working_directory: "/loki/compactor", shared_store: "filesystem", retention_enabled: true },
    analytics: { reporting_enabled: false },
  }, { lineWidth: 0 });
}

export function lokiSpec(args: { readonly image: string; readonly retention: string; readonly storageSize: string }): ServiceSpec {
  const l = services.loki;
  const config = lokiConfigYaml({ retention: args.retention });
  return {
    name: l.name,
    component: "logging",
    image: args.image,
    args: ["-config.file=/etc/loki/config/loki.yml"],
    ports: [{ name: "http", port: l.port, appProtocol: "http", metrics: true }],
    env: { ...goMemoryLimitEnv(observabilityResources.loki), [configChecksumEnv]: createHash("sha256").update(config).digest("hex").slice(0, 16) },
    resources: observabilityResources.loki,
    probes: {
      readiness: { http: { path: "/ready", port: l.port }, initialDelaySeconds: 10 },
      // /ready also reports ring state; liveness only asks whether the process serves HTTP.
      liveness: { http: { path: "/metrics", port: l.port }, initialDelaySeconds: 30 },
    },
    scaling: { replicas: 1 },
    stateful: true,
    user: { uid: 10001, gid: 10001 },
    volumes: [
      { kind: "data", name: "data", mountPath: "/loki", size: args.storageSize },
      { kind: "config", name: "config", mountPath: "/etc/loki/config", files: { "loki.yml": config } },
      { kind: "tmp", name: "tmp", mountPath: "/tmp", sizeLimit: "64Mi" },
    ],
  };
}
