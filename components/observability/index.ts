/**
 * Observability for one stack, on either target, through the shared service model: Jaeger,
 * Prometheus (generated config + alert rules), Alertmanager (receivers from config, as a secret),
 * postgres_exporter, Loki + promtail, Grafana, and Grafana's content (data sources, dashboards).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { services } from "../../app/src/contract/services";
import { receiverSecretKey, type ObservabilitySettings } from "../../config/observability";
import { apexDashboards } from "../../dashboards";
import type { IngressRoute } from "../ingress";
import type { NetworkFlow } from "../platform/network-flows";
import { deployService, selectorLabels, type DeployedService, type Platform, type SecretRef } from "../service";
import { alertmanagerConfigYaml, type ReceiverKind } from "./alertmanager-config";
import { alertmanagerSpec } from "./alertmanager";
import { GrafanaContent } from "./grafana-content";
import { grafanaAdminUser, grafanaSpec } from "./grafana";
import { jaegerSpec } from "./jaeger";
import { lokiSpec } from "./loki";
import { postgresExporterSpec, type PostgresTarget } from "./postgres-exporter";
import { prometheusSpec } from "./prometheus";
import { alloyName, alloySpec } from "./alloy";
import { promtailDockerSpec } from "./promtail";
import { ruleFileName, receiversFor, stackPrometheusConfig, stackRuleFile } from "./render";
import { headlessServiceName, replicatedScrapeTargets, type ScrapePlatform } from "./scrape-jobs";

/** Secret (Kubernetes) / secret map entry (Docker) holding the observability credentials. */
export const OBSERVABILITY_SECRET_NAME = "apex-observability";
const secretKey = { grafanaAdminPassword: "GF_SECURITY_ADMIN_PASSWORD", alertmanagerConfig: "ALERTMANAGER_CONFIG" } as const;

/** OTLP gRPC endpoint the runtime exports spans to (OTEL_EXPORTER_OTLP_ENDPOINT), on both targets. */
export const otlpEndpoint = `http://${services.jaeger.name}:${services.jaeger.otlpGrpcPort}`;

export type ReceiverSecrets = Partial<Record<(typeof receiverSecretKey)[ReceiverKind], pulumi.Input<string>>>;

export interface ObservabilityArgs {
  readonly platform: Platform;
  /** Parsed `apex:observability`. */
  readonly settings: ObservabilitySettings;
  /** The Postgres postgres_exporter watches (its password by reference). */
  readonly database: PostgresTarget;
  /** `apex:grafanaAdminPassword`; default: generated (24 characters). */
  readonly grafanaAdminPassword?: pulumi.Input<string>;
  /** Secret values of the receivers named in `settings.alerting`. */
  readonly receiverSecrets: ReceiverSecrets;
  /** Docker: group owning the engine socket (promtail reads container logs through it). Default 0. */
  readonly dockerSocketGid?: number;
  /** Kubernetes: the Ingress terminates TLS for the UI hosts (URLs become https). Default false. */
  readonly tls?: boolean;
  /** Kubernetes: the API server, which Alloy tails pod logs through (NetworkPolicy egress). */
  readonly apiServer?: { readonly cidrs: readonly string[]; readonly port: number };
  /** Kubernetes: where Alertmanager may send notifications (public HTTPS). Default: nowhere. */
  readonly receiverEgress?: { readonly cidrs: readonly string[]; readonly except?: readonly string[] };
}

/** Pulumi resources must be created outside apply: fail early on config that cannot work. */
function checkArgs(args: ObservabilityArgs): void {
  const { settings } = args;
  for (const severity of ["critical", "warning"] as const) {
    for (const kind of settings.alerting[severity]) {
      const key = receiverSecretKey[kind];
      if (args.receiverSecrets[key] === undefined) {
        throw new Error(`apex:observability.alerting.${severity} lists "${kind}", which needs the secret apex:${key}: set it with \`pulumi config set --secret apex:${key} <value>\``);
      }
    }
  }
  if (!settings.grafana.deploy) {
    if (!settings.grafana.url) throw new Error("apex:observability.grafana.url: required when apex:observability.grafana.deploy is false (the external Grafana to provision), got nothing");
    if (args.grafanaAdminPassword === undefined) throw new Error("apex:grafanaAdminPassword: required when apex:observability.grafana.deploy is false (the external Grafana's admin password), got nothing");
  }
  if (args.platform.target === "docker") {
    const hosts = Object.entries(settings.hosts).filter(([, h]) => h !== undefined);
    if (hosts.length > 0) throw new Error(`apex:observability.hosts.${hosts[0]?.[0]}: Ingress hosts apply to the kubernetes target only; on docker the UIs are published on ${args.platform.publishAddress}`);
  }
}

export class Observability extends pulumi.ComponentResource {
  public readonly jaeger: DeployedService;
  public readonly prometheus: DeployedService;
  public readonly alertmanager: DeployedService;
  public readonly postgresExporter: DeployedService;
  public readonly loki: DeployedService;
  public readonly grafana?: DeployedService;
  /** promtail (docker) / Alloy (kubernetes). */
  public readonly logShipper: DeployedService;
  public readonly grafanaContent: GrafanaContent;
  public readonly grafanaUrl: string;
  public readonly jaegerUrl: string;
  public readonly prometheusUrl: string;
  public readonly alertmanagerUrl: string;
  /** Grafana `admin` password (secret). */
  public readonly grafanaAdminPassword: pulumi.Output<string>;
  /** Kubernetes NetworkPolicy flows the observability services need (empty on docker). */
  public readonly flows: NetworkFlow[] = [];
  /** Kubernetes Ingress routes for the UI hosts from config. */
  public readonly routes: IngressRoute[] = [];

  constructor(name: string, args: ObservabilityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:observability:Observability", name, {}, opts);
    checkArgs(args);
    const { settings } = args;
    const docker = args.platform.target === "docker";
    const scrapePlatform: ScrapePlatform = args.platform.target === "kubernetes"
      ? { kind: "kubernetes", namespace: args.platform.namespaceName }
      : { kind: "docker" };

    // ---- Secrets: Grafana admin password, Alertmanager config (receiver URLs) --------------------
    this.grafanaAdminPassword = pulumi.secret(
      args.grafanaAdminPassword ?? new random.RandomPassword(`${name}-grafana-admin-password`, { length: 24, special: false }, { parent: this }).result,
    );
    const receiverValues = pulumi.all(args.receiverSecrets as Record<string, pulumi.Input<string>>);
    const alertmanagerConfig = pulumi.secret(receiverValues.apply((values) => {
      const secretOf = (key: string) => values[key] ?? "";
      return alertmanagerConfigYaml({
        critical: receiversFor(settings.alerting.critical, secretOf, settings.alerting.slackChannel),
        warning: receiversFor(settings.alerting.warning, secretOf, settings.alerting.slackChannel),
      });
    }));
    const secretValues = { [secretKey.grafanaAdminPassword]: this.grafanaAdminPassword, [secretKey.alertmanagerConfig]: alertmanagerConfig };
    const ref = (key: string): SecretRef => ({ secret: OBSERVABILITY_SECRET_NAME, key });

    let platform: Platform = args.platform;
    const deployOpts: pulumi.ComponentResourceOptions = { parent: this };
    if (args.platform.target === "docker") {
      // Same deploy context (the `deployed` registry is shared), plus this component's secret map.
      platform = { ...args.platform, secrets: { ...args.platform.secrets, [OBSERVABILITY_SECRET_NAME]: secretValues } };
    } else {
      const secret = new k8s.core.v1.Secret(`${name}-secret`, {
        metadata: { name: OBSERVABILITY_SECRET_NAME, namespace: args.platform.namespace, labels: { ...args.platform.labels } },
        type: "Opaque",
        stringData: secretValues,
      }, { parent: this, provider: args.platform.provider });
      deployOpts.dependsOn = [secret];
    }

    // ---- Services ------------------------------------------------------------------------------
    const images = settings.images;
    const storage = settings.storage;
    this.jaeger = deployService(`${name}-jaeger`, jaegerSpec({ image: images.jaeger, publishPorts: docker }), platform, deployOpts);
    this.postgresExporter = deployService(`${name}-postgres-exporter`, postgresExporterSpec({ image: images.postgresExporter, database: args.database }), platform, deployOpts);
    this.alertmanager = deployService(`${name}-alertmanager`, alertmanagerSpec({
      image: images.alertmanager, config: ref(secretKey.alertmanagerConfig), storageSize: "1Gi", publishPort: docker,
    }), platform, deployOpts);
    this.prometheus = deployService(`${name}-prometheus`, prometheusSpec({
      image: images.prometheus,
      config: stackPrometheusConfig({ stack: args.platform.stack, settings, platform: scrapePlatform }),
      rules: { [ruleFileName]: stackRuleFile(settings) },
      retention: settings.retention,
      storageSize: storage.prometheus,
      publishPort: docker,
    }), platform, deployOpts);
    this.loki = deployService(`${name}-loki`, lokiSpec({ image: images.loki, retention: settings.logRetention, storageSize: storage.loki }), platform, deployOpts);
    const lokiPushUrl = `http://${this.loki.endpoint("http")}/loki/api/v1/push`;
    this.logShipper = args.platform.target === "docker"
      ? deployService(`${name}-promtail`, promtailDockerSpec({
          image: images.promtail, lokiPushUrl, stackInstance: args.platform.labels["app.kubernetes.io/instance"] ?? `apex-${args.platform.stack}`, dockerSocketGid: args.dockerSocketGid ?? 0,
        }), platform, deployOpts)
      : deployService(`${name}-alloy`, alloySpec({ image: images.alloy, namespace: args.platform.namespaceName, lokiPushUrl }), platform, deployOpts);
    if (args.platform.target === "kubernetes") {
      // Alloy reads pods and their logs in the stack namespace, nothing else.
      const k = args.platform;
      const labels = { ...k.labels, "app.kubernetes.io/name": alloyName, "app.kubernetes.io/component": "logging" };
      const role = new k8s.rbac.v1.Role(`${name}-alloy-role`, {
        metadata: { name: `${alloyName}-pod-logs`, namespace: k.namespace, labels },
        rules: [{ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list", "watch"] }],
      }, { parent: this, provider: k.provider });
      new k8s.rbac.v1.RoleBinding(`${name}-alloy-rolebinding`, {
        metadata: { name: `${alloyName}-pod-logs`, namespace: k.namespace, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: alloyName, namespace: k.namespaceName }],
      }, { parent: this, provider: k.provider });
    }

    // ---- Headless Services: Prometheus resolves every replica of the runtime (Kubernetes) ------
    if (args.platform.target === "kubernetes") {
      const k = args.platform;
      for (const t of replicatedScrapeTargets) {
        new k8s.core.v1.Service(`${name}-${t.name}-headless`, {
          metadata: { name: headlessServiceName(t.name), namespace: k.namespace, labels: { ...k.labels, "app.kubernetes.io/name": t.name, "app.kubernetes.io/component": "monitoring" } },
          spec: { clusterIP: "None", selector: selectorLabels(t.name, k.stack), ports: [{ name: "metrics", port: t.port, targetPort: t.port, protocol: "TCP" }] },
        }, { parent: this, provider: k.provider });
      }
    }

    // ---- URLs: published on the host (docker) / Ingress hosts or in-cluster (kubernetes) -------
    const ui = (key: keyof ObservabilitySettings["hosts"], service: string, port: number, hostPort: number): string => {
      if (args.platform.target === "docker") return `http://${args.platform.publishAddress}:${hostPort}`;
      const host = settings.hosts[key];
      if (host) {
        // Grafana has its own login; the others have none, so they honour the allowlist.
        const sourceRanges = key === "grafana" ? undefined : settings.uiSourceRanges;
        this.routes.push({ host, service, port, protocol: "http", ...(sourceRanges ? { sourceRanges } : {}) });
        return `${args.tls ? "https" : "http"}://${host}`;
      }
      return `http://${service}.${args.platform.namespaceName}.svc.cluster.local:${port}`;
    };
    const { grafana: g, jaeger: j, prometheus: p, alertmanager: a } = services;
    // An external Grafana (grafana.deploy: false) is not routed by this stack's Ingress.
    const grafanaDeployedUrl = settings.grafana.deploy ? ui("grafana", g.name, g.port, g.devHostPort) : undefined;
    this.jaegerUrl = ui("jaeger", j.name, j.uiPort, j.uiPort);
    this.prometheusUrl = ui("prometheus", p.name, p.port, p.port);
    this.alertmanagerUrl = ui("alertmanager", a.name, a.port, a.port);
    // checkArgs guarantees a URL when Grafana is not deployed here.
    this.grafanaUrl = settings.grafana.url ?? grafanaDeployedUrl ?? "";

    if (settings.grafana.deploy) {
      this.grafana = deployService(`${name}-grafana`, grafanaSpec({
        image: images.grafana, adminPassword: ref(secretKey.grafanaAdminPassword), rootUrl: this.grafanaUrl, storageSize: storage.grafana, publishPort: docker,
      }), platform, deployOpts);
    }
    if (args.platform.target === "kubernetes" && !settings.grafana.url && !settings.hosts.grafana) {
      pulumi.log.warn(`Grafana content is provisioned through ${this.grafanaUrl}, reachable only from inside the cluster: set apex:observability.hosts.grafana (or apex:observability.grafana.url) when pulumi runs outside it`, this);
    }

    // ---- Grafana content ------------------------------------------------------------------------
    const http = (d: DeployedService, port: string) => `http://${d.endpoint(port)}`;
    this.grafanaContent = new GrafanaContent(`${name}-grafana-content`, {
      url: this.grafanaUrl,
      auth: pulumi.interpolate`${grafanaAdminUser}:${this.grafanaAdminPassword}`,
      folderTitle: settings.grafana.folder,
      datasources: { prometheus: http(this.prometheus, "http"), jaeger: http(this.jaeger, "ui"), loki: http(this.loki, "http") },
      dashboards: apexDashboards(),
    }, { parent: this, dependsOn: this.grafana ? [this.grafana.resource] : [] });

    // ---- Network flows (Kubernetes default-deny namespace) ---------------------------------------
    if (args.platform.target === "kubernetes") this.flows.push(...observabilityFlows(args, !!this.grafana));

    this.registerOutputs({ grafanaUrl: this.grafanaUrl, jaegerUrl: this.jaegerUrl, prometheusUrl: this.prometheusUrl, alertmanagerUrl: this.alertmanagerUrl });
  }
}

/** Who talks to whom: scrapes, span export, Grafana's queries, log shipping, the exporter's DB connection. */
export function observabilityFlows(args: Pick<ObservabilityArgs, "platform" | "settings" | "database" | "receiverEgress" | "apiServer">, grafanaDeployed: boolean): NetworkFlow[] {
  const s = services;
  const flows: NetworkFlow[] = [
    { name: "prometheus-to-api", from: { service: s.prometheus.name }, to: { service: s.api.name }, ports: [{ port: s.api.httpPort }] },
    { name: "prometheus-to-worker", from: { service: s.prometheus.name }, to: { service: s.worker.name }, ports: [{ port: s.worker.metricsPort }] },
    { name: "prometheus-to-postgres-exporter", from: { service: s.prometheus.name }, to: { service: s.postgresExporter.name }, ports: [{ port: s.postgresExporter.port }] },
    { name: "prometheus-to-alertmanager", from: { service: s.prometheus.name }, to: { service: s.alertmanager.name }, ports: [{ port: s.alertmanager.port }] },
    { name: "api-to-jaeger", from: { service: s.api.name }, to: { service: s.jaeger.name }, ports: [{ port: s.jaeger.otlpGrpcPort }] },
    { name: "worker-to-jaeger", from: { service: s.worker.name }, to: { service: s.jaeger.name }, ports: [{ port: s.jaeger.otlpGrpcPort }] },
  ];
  // A managed database (RDS) is outside the namespace: its egress is the data stores' concern.
  if (args.database.host === s.postgres.name) {
    flows.push({ name: "postgres-exporter-to-postgres", from: { service: s.postgresExporter.name }, to: { service: s.postgres.name }, ports: [{ port: args.database.port }] });
  }
  if (args.platform.target === "kubernetes") {
    flows.push({ name: "alloy-to-loki", from: { service: alloyName }, to: { service: s.loki.name }, ports: [{ port: s.loki.port }] });
    if (args.apiServer && args.apiServer.cidrs.length > 0) {
      flows.push({ name: "alloy-to-kube-apiserver", from: { service: alloyName }, to: { cidrs: args.apiServer.cidrs }, ports: [{ port: args.apiServer.port }] });
    }
  }
  if (grafanaDeployed) {
    flows.push(
      { name: "grafana-to-prometheus", from: { service: s.grafana.name }, to: { service: s.prometheus.name }, ports: [{ port: s.prometheus.port }] },
      { name: "grafana-to-loki", from: { service: s.grafana.name }, to: { service: s.loki.name }, ports: [{ port: s.loki.port }] },
      { name: "grafana-to-jaeger", from: { service: s.grafana.name }, to: { service: s.jaeger.name }, ports: [{ port: s.jaeger.uiPort }] },
    );
  }
  const receivers = args.settings.alerting.critical.length + args.settings.alerting.warning.length;
  if (receivers > 0 && args.receiverEgress && args.receiverEgress.cidrs.length > 0) {
    flows.push({ name: "alertmanager-to-receivers", from: { service: s.alertmanager.name }, to: { cidrs: args.receiverEgress.cidrs, except: args.receiverEgress.except }, ports: [{ port: 443 }] });
  }
  return flows;
}

export { stackPrometheusConfig, renderStackFiles } from "./render";
