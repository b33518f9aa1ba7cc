/**
 * Metrics and alerting: Prometheus (generated config, the alert rules), Alertmanager (receivers from
 * config, its file a secret), postgres_exporter (pg_up for DatabaseDown), and on Kubernetes the
 * headless Services through which Prometheus finds every replica of the runtime.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { services } from "../../app/src/contract/services";
import type { ObservabilitySettings } from "../../config/observability";
import type { NetworkFlow } from "../platform/network-flows";
import { deployService, selectorLabels, type DeployedService, type Platform, type SecretRef } from "../service";
import { alertmanagerSpec } from "./alertmanager";
import { KubeStateMetrics, kubeStateMetricsFlows } from "./kube-state-metrics";
import { movedFrom, type PreviousHome } from "./moved";
import { postgresExporterSpec, type PostgresTarget } from "./postgres-exporter";
import { prometheusSpec } from "./prometheus";
import { ruleFileName, stackPrometheusConfig, stackRuleFile } from "./render";
import { headlessServiceName, replicatedScrapeTargets, type ScrapePlatform } from "./scrape-jobs";

export interface MetricsAndAlertingArgs {
  readonly platform: Platform;
  /** Parsed `apex:observability`. */
  readonly settings: ObservabilitySettings;
  /** The Postgres postgres_exporter watches (its password by reference). */
  readonly database: PostgresTarget;
  /** Where Alertmanager reads its rendered configuration (a secret: it holds receiver URLs/keys). */
  readonly alertmanagerConfig: SecretRef;
  /** Kubernetes: where Alertmanager may send notifications (public HTTPS). Default: nowhere. */
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
  /** Kubernetes NetworkPolicy flows: scrapes, alert delivery, the exporter's connection (empty on docker). */
  public readonly flows: NetworkFlow[] = [];

  constructor(name: string, args: MetricsAndAlertingArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:observability:MetricsAndAlerting", name, {}, opts);
    const { settings, platform } = args;
    const docker = platform.target === "docker";
    const images = settings.images;
    const scrapePlatform: ScrapePlatform = platform.target === "kubernetes" ? { kind: "kubernetes", namespace: platform.namespaceName } : { kind: "docker" };
    const child = (suffix: string): pulumi.ComponentResourceOptions => ({ parent: this, dependsOn: [...(args.dependsOn ?? [])], ...movedFrom(args.previousHome, suffix) });

    this.postgresExporter = deployService(`${name}-postgres-exporter`, postgresExporterSpec({ image: images.postgresExporter, database: args.database }), platform, child("postgres-exporter"));
    this.alertmanager = deployService(`${name}-alertmanager`, alertmanagerSpec({
      image: images.alertmanager, config: args.alertmanagerConfig, storageSize: "1Gi", publishPort: docker,
    }), platform, child("alertmanager"));
    this.prometheus = deployService(`${name}-prometheus`, prometheusSpec({
      image: images.prometheus,
      config: stackPrometheusConfig({ stack: platform.stack, settings, platform: scrapePlatform }),
      rules: { [ruleFileName]: stackRuleFile(settings) },
      retention: settings.retention,
      storageSize: settings.storage.prometheus,
      publishPort: docker,
    }), platform, child("prometheus"));

    if (platform.target === "kubernetes") {
      // Headless Services: Prometheus resolves every replica of the runtime through their A records.
      for (const t of replicatedScrapeTargets) {
        new k8s.core.v1.Service(`${name}-${t.name}-headless`, {
          metadata: { name: headlessServiceName(t.name), namespace: platform.namespace, labels: { ...platform.labels, "app.kubernetes.io/name": t.name, "app.kubernetes.io/component": "monitoring" } },
          spec: { clusterIP: "None", selector: selectorLabels(t.name, platform.stack), ports: [{ name: "metrics", port: t.port, targetPort: t.port, protocol: "TCP" }] },
        }, { parent: this, provider: platform.provider, ...movedFrom(args.previousHome, `${t.name}-headless`) });
      }
      this.flows.push(...metricsFlows(args));
      this.kubeStateMetrics = new KubeStateMetrics(`${name}-kube-state-metrics`, { platform }, { parent: this, dependsOn: [...(args.dependsOn ?? [])] });
      this.flows.push(...kubeStateMetricsFlows({ apiServer: args.apiServer }));
    }
    this.registerOutputs({ prometheusHost: this.prometheus.host, alertmanagerHost: this.alertmanager.host });
  }
}

/** Who talks to whom: Prometheus's scrapes and alert delivery, the exporter's DB connection, notifications. */
function metricsFlows(args: MetricsAndAlertingArgs): NetworkFlow[] {
  const s = services;
  const flows: NetworkFlow[] = [
    { name: "prometheus-to-api", from: { service: s.prometheus.name }, to: { service: s.api.name }, ports: [{ port: s.api.httpPort }] },
    { name: "prometheus-to-worker", from: { service: s.prometheus.name }, to: { service: s.worker.name }, ports: [{ port: s.worker.metricsPort }] },
    { name: "prometheus-to-postgres-exporter", from: { service: s.prometheus.name }, to: { service: s.postgresExporter.name }, ports: [{ port: s.postgresExporter.port }] },
    { name: "prometheus-to-alertmanager", from: { service: s.prometheus.name }, to: { service: s.alertmanager.name }, ports: [{ port: s.alertmanager.port }] },
  ];
  // A managed database (RDS) is outside the namespace: its egress is the data stores' concern.
  if (args.database.host === s.postgres.name) {
    flows.push({ name: "postgres-exporter-to-postgres", from: { service: s.postgresExporter.name }, to: { service: s.postgres.name }, ports: [{ port: args.database.port }] });
  }
  const receivers = args.settings.alerting.critical.length + args.settings.alerting.warning.length;
  if (receivers > 0 && args.receiverEgress && args.receiverEgress.cidrs.length > 0) {
    flows.push({ name: "alertmanager-to-receivers", from: { service: s.alertmanager.name }, to: { cidrs: args.receiverEgress.cidrs, except: args.receiverEgress.except }, ports: [{ port: 443 }] });
  }
  return flows;
}
