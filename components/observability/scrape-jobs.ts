/**
 * The stack's scrape jobs, derived from the contract's service names and ports: apex-api (HTTP
 * port), apex-worker (metrics port), postgres-exporter, Alertmanager and Prometheus itself, plus
 * kube-state-metrics on Kubernetes, and the kubelets' volume stats when the operator opts in
 * (`apex:observability.kubeletVolumeStats`).
 */
import { kubernetesMetrics } from "../../alerts/sources";
import { httpPaths, services } from "../../app/src/contract/services";
import type { ScrapeJob } from "./prometheus-config";

/** Where the stack runs, as far as target discovery is concerned. */
export type ScrapePlatform =
  /** Docker (dev): containers on one user-defined network; replicas share their service's DNS alias. */
  | { readonly kind: "docker" }
  /** Kubernetes (prod): everything in `namespace`; replicas found through a headless Service per scraped workload. */
  | { readonly kind: "kubernetes"; readonly namespace: string };

/** `host` under which a singleton service is reached from Prometheus. */
export const serviceHost = (platform: ScrapePlatform, name: string): string =>
  platform.kind === "kubernetes" ? `${name}.${platform.namespace}.svc` : name;

/** Headless Service (Kubernetes) whose DNS A records list every ready pod of `name`. */
export const headlessServiceName = (name: string): string => `${name}-headless`;

/** DNS name resolving to every replica of `name`. */
export const replicasDnsName = (platform: ScrapePlatform, name: string): string =>
  platform.kind === "kubernetes" ? serviceHost(platform, headlessServiceName(name)) : name;

/** Services scraped replica by replica (their counters are per process). */
export const replicatedScrapeTargets = [
  { name: services.api.name, port: services.api.httpPort },
  { name: services.worker.name, port: services.worker.metricsPort },
] as const;

/** What the operator chose to scrape beyond the stack's own services. */
export interface ScrapeOptions {
  /**
   * Kubernetes: scrape every node's kubelet for the stack namespace's PVC usage (job `kubelet`).
   * Needs the ClusterRole of `kubelet-volume-stats.ts` bound to Prometheus. Default false.
   */
  readonly kubeletVolumeStats?: boolean;
}

/** Job name of the kubelets' scrape (the `job` label of their series and of their `up`). */
export const kubeletJobName = "kubelet";
/** The kubelet's authenticated HTTPS port (its read-only 10255 is off on current clusters). */
export const kubeletPort = 10250;
/** Where Kubernetes mounts a pod's ServiceAccount token and the cluster CA (when the token is mounted). */
export const serviceAccountFiles = {
  token: "/var/run/secrets/kubernetes.io/serviceaccount/token",
  ca: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
} as const;
/**
 * The kubelet series kept: volume usage of mounted PVCs (`namespace`, `persistentvolumeclaim`
 * labels). `available` is not in a rule; it is kept for dashboards and predictions.
 */
export const kubeletVolumeStatsMetrics = [
  kubernetesMetrics.volumeUsedBytes,
  kubernetesMetrics.volumeCapacityBytes,
  "kubelet_volume_stats_available_bytes",
] as const;

/**
 * Every node's kubelet on 10250 over https, found through the API server (role node), with
 * Prometheus's ServiceAccount token (the kubelet asks the API server whether it may `get`
 * `nodes/metrics`) and the cluster CA. Of the kubelet's whole /metrics only the volume stats of
 * `namespace`'s PVCs are stored. `instance` is the node name (set by the discovery).
 */
export function kubeletScrapeJob(namespace: string): ScrapeJob {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) throw new Error(`kubelet scrape job: namespace: expected a DNS label such as "apex", got "${namespace}"`);
  return {
    name: kubeletJobName,
    discovery: { kind: "kubernetes", role: "node" },
    scheme: "https",
    bearerTokenFile: serviceAccountFiles.token,
    caFile: serviceAccountFiles.ca,
    // The node's InternalIP on the port the NetworkPolicy opens (not the port the node reports).
    relabel: [{ action: "replace", sourceLabels: ["__meta_kubernetes_node_address_InternalIP"], regex: "(.+)", targetLabel: "__address__", replacement: `\${1}:${kubeletPort}` }],
    metricRelabel: [{ action: "keep", sourceLabels: ["__name__", "namespace"], regex: `(${kubeletVolumeStatsMetrics.join("|")});${namespace}` }],
  };
}

export function apexScrapeJobs(platform: ScrapePlatform, opts: ScrapeOptions = {}): ScrapeJob[] {
  if (opts.kubeletVolumeStats && platform.kind !== "kubernetes") {
    throw new Error("apex:observability.kubeletVolumeStats: only on the kubernetes target (there are no kubelets on docker)");
  }
  const replicated = (name: string, port: number): ScrapeJob => ({
    name,
    metricsPath: httpPaths.metrics,
    discovery: { kind: "dns", names: [replicasDnsName(platform, name)], port, refreshInterval: "30s" },
  });
  const single = (name: string, port: number): ScrapeJob => ({
    name,
    metricsPath: httpPaths.metrics,
    discovery: { kind: "static", targets: [`${serviceHost(platform, name)}:${port}`] },
  });
  return [
    ...replicatedScrapeTargets.map((t) => replicated(t.name, t.port)),
    single(services.postgresExporter.name, services.postgresExporter.port),
    // Clustered on Kubernetes: every replica through the headless Service the cluster gossips over.
    replicated(services.alertmanager.name, services.alertmanager.port),
    { name: services.prometheus.name, discovery: { kind: "static", targets: [`localhost:${services.prometheus.port}`] } },
    ...(platform.kind === "kubernetes" ? [single(services.kubeStateMetrics.name, services.kubeStateMetrics.port)] : []),
    ...(platform.kind === "kubernetes" && opts.kubeletVolumeStats ? [kubeletScrapeJob(platform.namespace)] : []),
  ];
}

/**
 * Names of a target's scrape jobs, i.e. the `job` label of every series its Prometheus scrapes.
 * Kubernetes adds kube-state-metrics (and `kubelet` with `kubeletVolumeStats`); the namespace
 * does not change the names.
 */
export const apexScrapeJobNames = (target: ScrapePlatform["kind"] = "docker", opts: ScrapeOptions = {}): string[] =>
  apexScrapeJobs(target === "kubernetes" ? { kind: "kubernetes", namespace: "apex" } : { kind: "docker" }, opts).map((j) => j.name);

/** Paths inside the Prometheus container (sibling mounts: nested ConfigMap mounts fail read-only). */
export const prometheusPaths = {
  configDir: "/etc/prometheus/config",
  configFile: "/etc/prometheus/config/prometheus.yml",
  rulesDir: "/etc/prometheus/rules",
  rulesGlob: "/etc/prometheus/rules/*.yml",
  dataDir: "/prometheus",
} as const;
