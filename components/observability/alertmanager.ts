/**
 * Alertmanager. Its config holds receiver URLs/keys, so it is never a ConfigMap or a plain upload:
 * it lives in a Secret (Kubernetes) / the secret env of the container (Docker, encrypted in state),
 * arrives as $ALERTMANAGER_CONFIG and is written to a memory-backed tmpfs at start.
 *
 * Clustered (Kubernetes): every replica gossips on `alertmanagerClusterPort` with the others, found
 * through one DNS name that resolves to every replica (a headless Service); they share silences and
 * the notification log, so an alert every replica receives is notified once.
 */
import { services } from "../../app/src/contract/services";
import type { SecretRef, ServiceSpec } from "../service";
import { goMemoryLimitEnv, observabilityResources } from "./sizing";

export const alertmanagerConfigEnv = "ALERTMANAGER_CONFIG";
/** Gossip port (TCP and UDP) between the replicas of a cluster. */
export const alertmanagerClusterPort = 9094;
const configFile = "/run/alertmanager/alertmanager.yml";

export interface AlertmanagerSpecArgs {
  readonly image: string;
  readonly config: SecretRef;
  readonly storageSize: string;
  readonly publishPort: boolean;
  /** Replicas, each with its own volume. Default 1. */
  readonly replicas?: number;
  /** `host:port` peers (a name resolving to every replica is enough). Default: none, clustering off. */
  readonly peers?: readonly string[];
}

export function alertmanagerSpec(args: AlertmanagerSpecArgs): ServiceSpec {
  const a = services.alertmanager;
  const replicas = args.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`alertmanager: replicas: expected a positive integer, got ${replicas}`);
  const peers = args.peers ?? [];
  if (replicas > 1 && peers.length === 0) throw new Error(`alertmanager: ${replicas} replicas need peers to form a cluster (each would notify on its own)`);
  peers.forEach((p, i) => {
    if (!/^[a-z0-9.-]+:\d{1,5}$/.test(p)) throw new Error(`alertmanager: peers[${i}]: expected host:port, got "${p}"`);
  });
  const cluster = peers.length > 0
    // Advertise the pod's own address (not "the first private IP", which some CNIs do not hand out).
    ? [`--cluster.listen-address=0.0.0.0:${alertmanagerClusterPort}`, `--cluster.advertise-address=$(hostname -i):${alertmanagerClusterPort}`, ...peers.map((p) => `--cluster.peer=${p}`)]
    : ["--cluster.listen-address="];
  const start = [
    `printf '%s' "$${alertmanagerConfigEnv}" > ${configFile}`,
    `exec /bin/alertmanager --config.file=${configFile} --storage.path=/alertmanager --web.listen-address=:${a.port} ${cluster.join(" ")}`,
  ].join(" && ");
  return {
    name: a.name,
    component: "monitoring",
    image: args.image,
    command: ["/bin/sh", "-c"],
    args: [start],
    ports: [
      { name: "http", port: a.port, appProtocol: "http", metrics: true, ...(args.publishPort ? { hostPort: a.port } : {}) },
      ...(peers.length > 0 ? [{ name: "cluster", port: alertmanagerClusterPort, appProtocol: "tcp" as const }] : []),
    ],
    env: goMemoryLimitEnv(observabilityResources.alertmanager),
    secretEnv: { [alertmanagerConfigEnv]: args.config },
    resources: observabilityResources.alertmanager,
    probes: {
      readiness: { http: { path: "/-/ready", port: a.port } },
      liveness: { http: { path: "/-/healthy", port: a.port }, initialDelaySeconds: 15 },
    },
    scaling: { replicas },
    stateful: true,
    user: { uid: 65534, gid: 65534 },
    volumes: [
      // Silences and the notification log survive restarts.
      { kind: "data", name: "data", mountPath: "/alertmanager", size: args.storageSize },
      { kind: "tmp", name: "run", mountPath: "/run/alertmanager", sizeLimit: "1Mi", memory: true },
    ],
  };
}
