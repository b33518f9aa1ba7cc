/**
 * The stack's scrape jobs, derived from the contract's service names and ports: apex-api (HTTP
 * port), apex-worker (metrics port), postgres-exporter, Alertmanager and Prometheus itself, plus
 * kube-state-metrics on Kubernetes.
 */
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

export function apexScrapeJobs(platform: ScrapePlatform): ScrapeJob[] {
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
    single(services.alertmanager.name, services.alertmanager.port),
    { name: services.prometheus.name, discovery: { kind: "static", targets: [`localhost:${services.prometheus.port}`] } },
    ...(platform.kind === "kubernetes" ? [single(services.kubeStateMetrics.name, services.kubeStateMetrics.port)] : []),
  ];
}

/**
 * Names of a target's scrape jobs, i.e. the `job` label of every series its Prometheus scrapes.
 * Kubernetes adds kube-state-metrics; the namespace does not change the names.
 */
export const apexScrapeJobNames = (target: ScrapePlatform["kind"] = "docker"): string[] =>
  apexScrapeJobs(target === "kubernetes" ? { kind: "kubernetes", namespace: "apex" } : { kind: "docker" }).map((j) => j.name);

/** Paths inside the Prometheus container (sibling mounts: nested ConfigMap mounts fail read-only). */
export const prometheusPaths = {
  configDir: "/etc/prometheus/config",
  configFile: "/etc/prometheus/config/prometheus.yml",
  rulesDir: "/etc/prometheus/rules",
  rulesGlob: "/etc/prometheus/rules/*.yml",
  dataDir: "/prometheus",
} as const;
