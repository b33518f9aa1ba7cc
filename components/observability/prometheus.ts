/** Prometheus with its generated config and the alert rules, TSDB on a persistent volume. */
import { createHash } from "node:crypto";
import { services } from "../../app/src/contract/services";
import type { ServiceSpec } from "../service";
import { prometheusPaths } from "./scrape-jobs";
import { configChecksumEnv, goMemoryLimitEnv, observabilityResources } from "./sizing";

export interface PrometheusSpecArgs {
  readonly image: string;
  /** prometheus.yml content (stackPrometheusConfig). */
  readonly config: string;
  /** Rule file name -> content. */
  readonly rules: Readonly<Record<string, string>>;
  /** `--storage.tsdb.retention.time`, e.g. "15d". */
  readonly retention: string;
  readonly storageSize: string;
  readonly publishPort: boolean;
}

export function prometheusSpec(args: PrometheusSpecArgs): ServiceSpec {
  const p = services.prometheus;
  const checksum = createHash("sha256").update(args.config).update(JSON.stringify(args.rules)).digest("hex").slice(0, 16);
  return {
    name: p.name,
    component: "monitoring",
    image: args.image,
    args: [
      `--config.file=${prometheusPaths.configFile}`,
      `--storage.tsdb.path=${prometheusPaths.dataDir}`,
      `--storage.tsdb.retention.time=${args.retention}`,
      `--web.listen-address=:${p.port}`,
    ],
    ports: [{ name: "http", port: p.port, appProtocol: "http", metrics: true, ...(args.publishPort ? { hostPort: p.port } : {}) }],
    env: { ...goMemoryLimitEnv(observabilityResources.prometheus), [configChecksumEnv]: checksum },
    resources: observabilityResources.prometheus,
    probes: {
      readiness: { http: { path: "/-/ready", port: p.port }, initialDelaySeconds: 5 },
      liveness: { http: { path: "/-/healthy", port: p.port }, initialDelaySeconds: 30 },
    },
    scaling: { replicas: 1 },
    stateful: true,
    // The image's `nobody`, which owns /prometheus in it (Docker seeds new volumes from the image).
    user: { uid: 65534, gid: 65534 },
    volumes: [
      { kind: "data", name: "data", mountPath: prometheusPaths.dataDir, size: args.storageSize },
      { kind: "config", name: "config", mountPath: prometheusPaths.configDir, files: { "prometheus.yml": args.config } },
      { kind: "config", name: "rules", mountPath: prometheusPaths.rulesDir, files: { ...args.rules } },
      { kind: "tmp", name: "tmp", mountPath: "/tmp", sizeLimit: "64Mi" },
    ],
  };
}
