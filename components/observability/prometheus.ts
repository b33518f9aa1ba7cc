/**
 * Prometheus with its generated config and the alert rules, TSDB on a persistent volume. Several
 * replicas (Kubernetes) each scrape everything into their own PVC; each carries its pod name as
 * the external label `replica` (expanded from $PROMETHEUS_REPLICA, set from the hostname at start),
 * which the config drops from alerts so Alertmanager sees the replicas' alerts as one.
 */
import { createHash } from "node:crypto";
import { services } from "../../app/src/contract/services";
import type { SecretRef, ServiceSpec } from "../service";
import { prometheusPaths } from "./scrape-jobs";
import { configChecksumEnv, goMemoryLimitEnv, observabilityResources } from "./sizing";

/** Env var the `replica` external label is expanded from (`--enable-feature=expand-external-labels`). */
export const prometheusReplicaEnv = "PROMETHEUS_REPLICA";
/** Env var carrying the remote_write password/token (from a Secret) until it is written to a file. */
export const remoteWriteSecretEnv = "PROMETHEUS_REMOTE_WRITE_SECRET";
/** Memory-backed file Prometheus reads the remote_write credential from (`password_file` / `credentials_file`). */
export const remoteWriteSecretFile = "/run/prometheus/remote-write-secret";

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
  /** Replicas, each with its own volume. Default 1. */
  readonly replicas?: number;
  /** Set $PROMETHEUS_REPLICA (the config's `replica` external label) to the hostname, i.e. the pod name. Default false. */
  readonly replicaLabel?: boolean;
  /** The remote_write credential, written to `remoteWriteSecretFile` at start. Default none. */
  readonly remoteWriteSecret?: SecretRef;
  /**
   * Kubernetes: mount the ServiceAccount token, with which Prometheus discovers the nodes and
   * the kubelets authorise its scrape. Only for `kubeletVolumeStats`; default false (no token).
   */
  readonly kubernetesApiAccess?: boolean;
}

export function prometheusSpec(args: PrometheusSpecArgs): ServiceSpec {
  const p = services.prometheus;
  const replicas = args.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`prometheus: replicas: expected a positive integer, got ${replicas}`);
  const checksum = createHash("sha256").update(args.config).update(JSON.stringify(args.rules)).digest("hex").slice(0, 16);
  const flags = [
    `--config.file=${prometheusPaths.configFile}`,
    `--storage.tsdb.path=${prometheusPaths.dataDir}`,
    `--storage.tsdb.retention.time=${args.retention}`,
    `--web.listen-address=:${p.port}`,
    ...(args.replicaLabel ? ["--enable-feature=expand-external-labels"] : []),
  ];
  // A shell step only where something must happen before Prometheus starts; the image has busybox.
  const steps = [
    ...(args.remoteWriteSecret ? [`printf '%s' "$${remoteWriteSecretEnv}" > ${remoteWriteSecretFile}`, `unset ${remoteWriteSecretEnv}`] : []),
    ...(args.replicaLabel ? [`export ${prometheusReplicaEnv}="$(hostname)"`] : []),
  ];
  const start = steps.length > 0
    ? { command: ["/bin/sh", "-c", `${steps.join(" && ")} && exec /bin/prometheus "$@"`, "prometheus"], args: flags }
    : { args: flags };
  return {
    name: p.name,
    component: "monitoring",
    image: args.image,
    ...start,
    ports: [{ name: "http", port: p.port, appProtocol: "http", metrics: true, ...(args.publishPort ? { hostPort: p.port } : {}) }],
    env: { ...goMemoryLimitEnv(observabilityResources.prometheus), [configChecksumEnv]: checksum },
    ...(args.remoteWriteSecret ? { secretEnv: { [remoteWriteSecretEnv]: args.remoteWriteSecret } } : {}),
    resources: observabilityResources.prometheus,
    probes: {
      readiness: { http: { path: "/-/ready", port: p.port }, initialDelaySeconds: 5 },
      liveness: { http: { path: "/-/healthy", port: p.port }, initialDelaySeconds: 30 },
    },
    scaling: { replicas },
    stateful: true,
    ...(args.kubernetesApiAccess ? { kubernetesApiAccess: true } : {}),
    // The image's `nobody`, which owns /prometheus in it (Docker seeds new volumes from the image).
    user: { uid: 65534, gid: 65534 },
    volumes: [
      { kind: "data", name: "data", mountPath: prometheusPaths.dataDir, size: args.storageSize },
      { kind: "config", name: "config", mountPath: prometheusPaths.configDir, files: { "prometheus.yml": args.config } },
      { kind: "config", name: "rules", mountPath: prometheusPaths.rulesDir, files: { ...args.rules } },
      { kind: "tmp", name: "tmp", mountPath: "/tmp", sizeLimit: "64Mi" },
      ...(args.remoteWriteSecret ? [{ kind: "tmp" as const, name: "run", mountPath: "/run/prometheus", sizeLimit: "1Mi", memory: true }] : []),
    ],
  };
}
