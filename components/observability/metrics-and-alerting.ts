/**
 * Metrics and alerting: Prometheus (generated config, the alert rules, optional remote_write),
 * Alertmanager (receivers from config, its file a secret), postgres_exporter (pg_up for
 * DatabaseDown), the dev alert-receiver when configured, and on Kubernetes the headless Services
 * through which Prometheus finds every replica of the runtime and the Alertmanagers find each other.
 *
 * Kubernetes: 2 Prometheus replicas (own PVC each, external label `replica` = pod name, dropped from
 * alerts) and 3 clustered Alertmanagers (gossip on 9094); every Prometheus sends every alert to
 * every Alertmanager, which notify once between them. Docker: one of each, clustering off.
 *
 * Kubernetes with `kubeletVolumeStats` (opt-in): Prometheus also scrapes every node's kubelet for
 * the namespace's PVC usage, through the ClusterRole of kubelet-volume-stats.ts and its mounted
 * token; without it ApexPvcFillingUp is not rendered and the preview warns.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { services } from "../../app/src/contract/services";
import type { ObservabilitySettings } from "../../config/observability";
import type { NetworkFlow } from "../platform/network-flows";
import { deployService, selectorLabels, type DeployedService, type Platform, type SecretRef } from "../service";
import { alertReceiver, alertReceiverSpec } from "./alert-receiver";
import { alertmanagerClusterPort, alertmanagerSpec } from "./alertmanager";
import { KubeStateMetrics, kubeStateMetricsFlows } from "./kube-state-metrics";
import { KubeletAccess, kubeletFlows, kubeletVolumeStatsOffWarning } from "./kubelet-volume-stats";
import { movedFrom, type PreviousHome } from "./moved";
import { postgresExporterSpec, type PostgresTarget } from "./postgres-exporter";
import { prometheusSpec } from "./prometheus";
import { observabilityReplicas, ruleFileName, stackPrometheusConfig, stackRuleFile } from "./render";
import { headlessServiceName, replicatedScrapeTargets, serviceHost, type ScrapePlatform } from "./scrape-jobs";

export interface MetricsAndAlertingArgs {
  readonly platform: Platform;
  /** Parsed `apex:observability`. */
  readonly settings: ObservabilitySettings;
  /** The Postgres postgres_exporter watches (its password by reference). */
  readonly database: PostgresTarget;
  /** Where Alertmanager reads its rendered configuration (a secret: it holds receiver URLs/keys). */
  readonly alertmanagerConfig: SecretRef;
  /** Where Prometheus reads the remote_write password/token. Required when `settings.remoteWrite.auth` is not "none". */
  readonly remoteWriteSecret?: SecretRef;
  /** The runtime image, which runs the dev alert-receiver. Required when `settings.alerting.devReceiver`. */
  readonly runtimeImage?: pulumi.Input<string>;
  /** Kubernetes: public addresses Alertmanager (receivers) and Prometheus (remote_write) may reach. Default: nowhere. */
  readonly receiverEgress?: { readonly cidrs: readonly string[]; readonly except?: readonly string[] };
  /** Kubernetes: the API server, which kube-state-metrics watches the namespace through (NetworkPolicy egress). */
  readonly apiServer?: { readonly cidrs: readonly string[]; readonly port: number };
  /** Resources the services wait for (the observability Secret on Kubernetes). Default none. */
  readonly dependsOn?: readonly pulumi.Resource[];
  /** Pre-split location of these services, aliased so an existing stack keeps them. Default: none (new stack). */
  readonly previousHome?: PreviousHome;
}

export class MetricsAndAlerting extends pulumi.ComponentResource {
  public readonly prometheus: DeployedService;
  public readonly alertmanager: DeployedService;
  public readonly postgresExporter: DeployedService;
  /** Kubernetes only: pod, HPA and PVC state for the pod alerts. */
  public readonly kubeStateMetrics?: KubeStateMetrics;
  /** Kubernetes with `kubeletVolumeStats` only: Prometheus's cluster-wide grant to read the kubelets. */
  public readonly kubeletAccess?: KubeletAccess;
  /** The dev alert-receiver; undefined unless `alerting.devReceiver`. */
  public readonly alertReceiver?: DeployedService;
  /** Kubernetes NetworkPolicy flows: scrapes, alert delivery and gossip, the exporter's connection (empty on docker). */
  public readonly flows: NetworkFlow[] = [];

  constructor(name: string, args: MetricsAndAlertingArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:observability:MetricsAndAlerting", name, {}, opts);
    const { settings, platform } = args;
    if (settings.remoteWrite && settings.remoteWrite.auth !== "none" && !args.remoteWriteSecret) {
      throw new Error(`apex:prometheusRemoteWriteSecret: required when apex:observability.remoteWrite.auth is "${settings.remoteWrite.auth}", got nothing`);
    }
    if (settings.alerting.devReceiver && args.runtimeImage === undefined) {
      throw new Error("apex:observability.alerting.devReceiver: the alert-receiver runs in the runtime image, which was not given");
    }
    if (settings.kubeletVolumeStats && platform.target !== "kubernetes") {
      throw new Error('apex:observability.kubeletVolumeStats: only used when apex:target is "kubernetes" (PVC usage comes from the kubelets; docker has none), got true');
    }
    const docker = platform.target === "docker";
    const images = settings.images;
    const scrapePlatform: ScrapePlatform = platform.target === "kubernetes" ? { kind: "kubernetes", namespace: platform.namespaceName } : { kind: "docker" };
    const replicas = observabilityReplicas(scrapePlatform.kind);
    const child = (suffix: string): pulumi.ComponentResourceOptions => ({ parent: this, dependsOn: [...(args.dependsOn ?? [])], ...movedFrom(args.previousHome, suffix) });
    const am = services.alertmanager;
    const kubeletVolumeStats = platform.target === "kubernetes" && settings.kubeletVolumeStats;
    if (platform.target === "kubernetes" && kubeletVolumeStats) {
      if (!settings.nodeCidrs?.length) throw new Error("apex:observability.nodeCidrs: required when apex:observability.kubeletVolumeStats is true (Prometheus reaches each node's kubelet on 10250), got nothing");
      if (!args.apiServer?.cidrs.length) throw new Error("apex:network.apiServerCidrs: required when apex:observability.kubeletVolumeStats is true (Prometheus discovers the nodes through the API server), got nothing");
      // Bound before Prometheus starts, so its first node discovery and scrapes are allowed.
      this.kubeletAccess = new KubeletAccess(`${name}-kubelet-access`, { platform }, { parent: this, dependsOn: [...(args.dependsOn ?? [])] });
    } else if (platform.target === "kubernetes") {
      pulumi.log.warn(kubeletVolumeStatsOffWarning, this);
    }

    this.postgresExporter = deployService(`${name}-postgres-exporter`, postgresExporterSpec({ image: images.postgresExporter, database: args.database }), platform, child("postgres-exporter"));
    this.alertmanager = deployService(`${name}-alertmanager`, alertmanagerSpec({
      image: images.alertmanager,
      config: args.alertmanagerConfig,
      storageSize: "1Gi",
      publishPort: docker,
      replicas: replicas.alertmanager,
      peers: replicas.alertmanager > 1 ? [`${serviceHost(scrapePlatform, headlessServiceName(am.name))}:${alertmanagerClusterPort}`] : [],
    }), platform, child("alertmanager"));
    const prometheusOpts = { ...child("prometheus"), ...(this.kubeletAccess ? { dependsOn: [...(args.dependsOn ?? []), this.kubeletAccess.clusterRoleBinding] } : {}) };
    this.prometheus = deployService(`${name}-prometheus`, prometheusSpec({
      image: images.prometheus,
      config: stackPrometheusConfig({ stack: platform.stack, settings, platform: scrapePlatform }),
      rules: { [ruleFileName]: stackRuleFile(settings, scrapePlatform) },
      retention: settings.retention,
      storageSize: settings.storage.prometheus,
      publishPort: docker,
      replicas: replicas.prometheus,
      replicaLabel: !docker,
      ...(settings.remoteWrite && settings.remoteWrite.auth !== "none" ? { remoteWriteSecret: args.remoteWriteSecret } : {}),
      kubernetesApiAccess: kubeletVolumeStats,
    }), platform, prometheusOpts);
    if (settings.alerting.devReceiver && args.runtimeImage !== undefined) {
      this.alertReceiver = deployService(`${name}-alert-receiver`, alertReceiverSpec({ image: args.runtimeImage }), platform, { parent: this });
    }

    if (platform.target === "kubernetes") {
      const labels = (service: string) => ({ ...platform.labels, "app.kubernetes.io/name": service, "app.kubernetes.io/component": "monitoring" });
      // Headless Services: Prometheus resolves every replica of the runtime through their A records.
      // The Alertmanagers' headless Service is the one below, should they ever be scraped per replica too.
      const scraped: readonly { readonly name: string; readonly port: number }[] = replicatedScrapeTargets;
      for (const t of scraped.filter((t) => t.name !== am.name)) {
        new k8s.core.v1.Service(`${name}-${t.name}-headless`, {
          metadata: { name: headlessServiceName(t.name), namespace: platform.namespace, labels: labels(t.name) },
          spec: { clusterIP: "None", selector: selectorLabels(t.name, platform.stack), ports: [{ name: "metrics", port: t.port, targetPort: t.port, protocol: "TCP" }] },
        }, { parent: this, provider: platform.provider, ...movedFrom(args.previousHome, `${t.name}-headless`) });
      }
      // Every Alertmanager replica by its own address: the peers' gossip, and Prometheus sending each
      // alert to each replica. Not-ready pods are listed too, so a cluster can form before it is ready.
      new k8s.core.v1.Service(`${name}-alertmanager-headless`, {
        metadata: { name: headlessServiceName(am.name), namespace: platform.namespace, labels: labels(am.name) },
        spec: {
          clusterIP: "None",
          publishNotReadyAddresses: true,
          selector: selectorLabels(am.name, platform.stack),
          ports: [
            { name: "http", port: am.port, targetPort: am.port, protocol: "TCP" },
            { name: "cluster-tcp", port: alertmanagerClusterPort, targetPort: alertmanagerClusterPort, protocol: "TCP" },
            { name: "cluster-udp", port: alertmanagerClusterPort, targetPort: alertmanagerClusterPort, protocol: "UDP" },
          ],
        },
      }, { parent: this, provider: platform.provider });
      this.flows.push(...metricsFlows(args));
      this.kubeStateMetrics = new KubeStateMetrics(`${name}-kube-state-metrics`, { platform }, { parent: this, dependsOn: [...(args.dependsOn ?? [])] });
      this.flows.push(...kubeStateMetricsFlows({ apiServer: args.apiServer }));
      if (kubeletVolumeStats) this.flows.push(...kubeletFlows({ nodeCidrs: settings.nodeCidrs ?? [], apiServer: args.apiServer }));
    }
    this.registerOutputs({ prometheusHost: this.prometheus.host, alertmanagerHost: this.alertmanager.host });
  }
}

/** Who talks to whom: scrapes, alert delivery and gossip, the exporter's DB connection, notifications, remote_write. */
function metricsFlows(args: MetricsAndAlertingArgs): NetworkFlow[] {
  const s = services;
  const flows: NetworkFlow[] = [
    { name: "prometheus-to-api", from: { service: s.prometheus.name }, to: { service: s.api.name }, ports: [{ port: s.api.httpPort }] },
    { name: "prometheus-to-worker", from: { service: s.prometheus.name }, to: { service: s.worker.name }, ports: [{ port: s.worker.metricsPort }] },
    { name: "prometheus-to-postgres-exporter", from: { service: s.prometheus.name }, to: { service: s.postgresExporter.name }, ports: [{ port: s.postgresExporter.port }] },
    { name: "prometheus-to-alertmanager", from: { service: s.prometheus.name }, to: { service: s.alertmanager.name }, ports: [{ port: s.alertmanager.port }] },
    // memberlist gossips over both TCP and UDP.
    { name: "alertmanager-peers", from: { service: s.alertmanager.name }, to: { service: s.alertmanager.name }, ports: [{ port: alertmanagerClusterPort, protocol: "TCP" }, { port: alertmanagerClusterPort, protocol: "UDP" }] },
  ];
  // A managed database (RDS) is outside the namespace: its egress is the data stores' concern.
  if (args.database.host === s.postgres.name) {
    flows.push({ name: "postgres-exporter-to-postgres", from: { service: s.postgresExporter.name }, to: { service: s.postgres.name }, ports: [{ port: s.postgres.port }] });
  }
  const alerting = args.settings.alerting;
  if (alerting.devReceiver) {
    flows.push({ name: "alertmanager-to-alert-receiver", from: { service: s.alertmanager.name }, to: { service: alertReceiver.name }, ports: [{ port: alertReceiver.port }] });
  }
  const egress = args.receiverEgress && args.receiverEgress.cidrs.length > 0 ? { cidrs: args.receiverEgress.cidrs, except: args.receiverEgress.except } : undefined;
  const external = alerting.critical.length + alerting.warning.length + (alerting.deadMansSwitch === "webhook" ? 1 : 0);
  if (external > 0 && egress) flows.push({ name: "alertmanager-to-receivers", from: { service: s.alertmanager.name }, to: egress, ports: [{ port: 443 }] });
  if (args.settings.remoteWrite && egress) {
    const url = new URL(args.settings.remoteWrite.url);
    const port = url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
    flows.push({ name: "prometheus-to-remote-write", from: { service: s.prometheus.name }, to: egress, ports: [{ port }] });
  }
  return flows;
}
