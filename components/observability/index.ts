/**
 * Observability for one stack, on either target: the thin parent of one component per concern,
 * each in its own file. It owns what they share (the credentials Secret, the UI URLs and Ingress
 * routes) and keeps the public fields index.ts and the tests read.
 *
 *   Tracing             tracing.ts               Jaeger
 *   MetricsAndAlerting  metrics-and-alerting.ts  Prometheus + rules, Alertmanager, postgres_exporter,
 *                                                the dev alert-receiver
 *   Logging             logging.ts               Loki + promtail (docker) / Alloy (kubernetes)
 *   Grafana             grafana.ts               Grafana with its content provisioned from files, or an
 *                                                external Grafana's content through its API
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { services } from "../../app/src/contract/services";
import { receiverSecretKey, type ObservabilitySettings } from "../../config/observability";
import { apexDashboards } from "../../dashboards";
import type { IngressRoute } from "../ingress";
import type { NetworkFlow } from "../platform/network-flows";
import type { DeployedService, Platform, SecretRef } from "../service";
import type { ReceiverKind } from "./alertmanager-config";
import { Grafana } from "./grafana";
import type { GrafanaContent } from "./grafana-content";
import { Logging } from "./logging";
import { MetricsAndAlerting } from "./metrics-and-alerting";
import type { PostgresTarget } from "./postgres-exporter";
import { deadMansSwitchSecretKey, stackAlertmanagerConfig } from "./render";
import { Tracing } from "./tracing";

export { otlpEndpoint } from "./tracing";
export { Tracing, type TracingArgs } from "./tracing";
export { MetricsAndAlerting, type MetricsAndAlertingArgs } from "./metrics-and-alerting";
export { Logging, type LoggingArgs } from "./logging";
export { Grafana, type GrafanaArgs } from "./grafana";

/** Secret (Kubernetes) / secret map entry (Docker) holding the observability credentials. */
export const OBSERVABILITY_SECRET_NAME = "apex-observability";
const secretKey = {
  grafanaAdminPassword: "GF_SECURITY_ADMIN_PASSWORD",
  grafanaOidcClientSecret: "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET",
  alertmanagerConfig: "ALERTMANAGER_CONFIG",
  remoteWriteSecret: "PROMETHEUS_REMOTE_WRITE_SECRET",
} as const;

export type ReceiverSecrets = Partial<Record<(typeof receiverSecretKey)[ReceiverKind], pulumi.Input<string>>>;

export interface ObservabilityArgs {
  readonly platform: Platform;
  /** Parsed `apex:observability`. */
  readonly settings: ObservabilitySettings;
  /** The Postgres postgres_exporter watches (its password by reference). */
  readonly database: PostgresTarget;
  /** `apex:grafanaAdminPassword`. Default: generated (24 characters). */
  readonly grafanaAdminPassword?: pulumi.Input<string>;
  /** `apex:grafanaOidcClientSecret`: required when `settings.grafana.oidc` is set. */
  readonly grafanaOidcClientSecret?: pulumi.Input<string>;
  /** Secret values of the receivers named in `settings.alerting`. */
  readonly receiverSecrets: ReceiverSecrets;
  /** `apex:alertmanagerDeadMansSwitchUrl`: required when `settings.alerting.deadMansSwitch` is "webhook". */
  readonly deadMansSwitchUrl?: pulumi.Input<string>;
  /** `apex:prometheusRemoteWriteSecret`: required when `settings.remoteWrite.auth` is "basic" or "bearer". */
  readonly remoteWriteSecret?: pulumi.Input<string>;
  /** The runtime image, which runs the dev alert-receiver. Required when `settings.alerting.devReceiver`. */
  readonly runtimeImage?: pulumi.Input<string>;
  /** Docker: group owning the engine socket (promtail reads container logs through it). Default 0. */
  readonly dockerSocketGid?: number;
  /** Kubernetes: the Ingress terminates TLS for the UI hosts (URLs become https). Default false. */
  readonly tls?: boolean;
  /** Kubernetes: the API server, which Alloy tails pod logs through (NetworkPolicy egress). Default: no egress. */
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
  if (settings.alerting.deadMansSwitch === "webhook" && args.deadMansSwitchUrl === undefined) {
    throw new Error(`apex:${deadMansSwitchSecretKey}: required when apex:observability.alerting.deadMansSwitch is "webhook": set it with \`pulumi config set --secret apex:${deadMansSwitchSecretKey} <url>\``);
  }
  if (!settings.grafana.deploy) {
    if (!settings.grafana.url) throw new Error("apex:observability.grafana.url: required when apex:observability.grafana.deploy is false (the external Grafana to provision), got nothing");
    if (args.grafanaAdminPassword === undefined) throw new Error("apex:grafanaAdminPassword: required when apex:observability.grafana.deploy is false (the external Grafana's admin password), got nothing");
  }
  if (settings.grafana.oidc !== undefined && args.grafanaOidcClientSecret === undefined) {
    throw new Error("apex:grafanaOidcClientSecret: required when apex:observability.grafana.oidc is set: set it with `pulumi config set --secret apex:grafanaOidcClientSecret <client secret>`, got nothing");
  }
  if (args.platform.target === "docker") {
    const hosts = Object.entries(settings.hosts).filter(([, h]) => h !== undefined);
    if (hosts.length > 0) throw new Error(`apex:observability.hosts.${hosts[0]?.[0]}: Ingress hosts apply to the kubernetes target only; on docker the UIs are published on ${args.platform.publishAddress}`);
  }
}

export class Observability extends pulumi.ComponentResource {
  public readonly tracing: Tracing;
  public readonly metricsAndAlerting: MetricsAndAlerting;
  public readonly logging: Logging;
  public readonly grafanaStack: Grafana;
  public readonly jaeger: DeployedService;
  public readonly prometheus: DeployedService;
  public readonly alertmanager: DeployedService;
  public readonly postgresExporter: DeployedService;
  public readonly loki: DeployedService;
  public readonly grafana?: DeployedService;
  /** promtail (docker) / Alloy (kubernetes). */
  public readonly logShipper: DeployedService;
  /** An external Grafana's content (API); undefined when Grafana is deployed here (provisioned from files). */
  public readonly grafanaContent?: GrafanaContent;
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

    // ---- Shared credentials: Grafana admin password, Alertmanager config (receiver URLs) -------
    this.grafanaAdminPassword = pulumi.secret(
      args.grafanaAdminPassword ?? new random.RandomPassword(`${name}-grafana-admin-password`, { length: 24, special: false }, { parent: this }).result,
    );
    const alertmanagerSecrets: Record<string, pulumi.Input<string>> = { ...(args.receiverSecrets as Record<string, pulumi.Input<string>>) };
    if (args.deadMansSwitchUrl !== undefined) alertmanagerSecrets[deadMansSwitchSecretKey] = args.deadMansSwitchUrl;
    const alertmanagerConfig = pulumi.secret(pulumi.all(alertmanagerSecrets).apply((values) => stackAlertmanagerConfig(settings, (key) => values[key] ?? "")));
    const remoteWriteAuth = settings.remoteWrite !== undefined && settings.remoteWrite.auth !== "none";
    const secretValues: Record<string, pulumi.Input<string>> = { [secretKey.grafanaAdminPassword]: this.grafanaAdminPassword, [secretKey.alertmanagerConfig]: alertmanagerConfig };
    if (remoteWriteAuth && args.remoteWriteSecret !== undefined) secretValues[secretKey.remoteWriteSecret] = pulumi.secret(args.remoteWriteSecret);
    const oidcSecret = settings.grafana.deploy && settings.grafana.oidc !== undefined && args.grafanaOidcClientSecret !== undefined;
    if (oidcSecret) secretValues[secretKey.grafanaOidcClientSecret] = pulumi.secret(args.grafanaOidcClientSecret);
    const ref = (key: string): SecretRef => ({ secret: OBSERVABILITY_SECRET_NAME, key });

    let platform: Platform = args.platform;
    const dependsOn: pulumi.Resource[] = [];
    if (args.platform.target === "docker") {
      // Same deploy context (the `deployed` registry is shared), plus this component's secret map.
      platform = { ...args.platform, secrets: { ...args.platform.secrets, [OBSERVABILITY_SECRET_NAME]: secretValues } };
    } else {
      dependsOn.push(new k8s.core.v1.Secret(`${name}-secret`, {
        metadata: { name: OBSERVABILITY_SECRET_NAME, namespace: args.platform.namespace, labels: { ...args.platform.labels } },
        type: "Opaque",
        stringData: secretValues,
      }, { parent: this, provider: args.platform.provider }));
    }
    const previousHome = { parent: this, namePrefix: name };
    const concern = { parent: this };

    // ---- One component per concern ------------------------------------------------------------
    this.tracing = new Tracing(`${name}-tracing`, { platform, settings, dependsOn, previousHome }, concern);
    this.metricsAndAlerting = new MetricsAndAlerting(`${name}-metrics`, {
      platform,
      settings,
      database: args.database,
      alertmanagerConfig: ref(secretKey.alertmanagerConfig),
      ...(secretKey.remoteWriteSecret in secretValues ? { remoteWriteSecret: ref(secretKey.remoteWriteSecret) } : {}),
      runtimeImage: args.runtimeImage,
      receiverEgress: args.receiverEgress,
      apiServer: args.apiServer,
      dependsOn,
      previousHome,
    }, concern);
    this.logging = new Logging(`${name}-logging`, { platform, settings, dockerSocketGid: args.dockerSocketGid, apiServer: args.apiServer, dependsOn, previousHome }, concern);
    this.jaeger = this.tracing.jaeger;
    this.prometheus = this.metricsAndAlerting.prometheus;
    this.alertmanager = this.metricsAndAlerting.alertmanager;
    this.postgresExporter = this.metricsAndAlerting.postgresExporter;
    this.loki = this.logging.loki;
    this.logShipper = this.logging.shipper;

    // ---- URLs: published on the host (docker) / Ingress hosts or in-cluster (kubernetes) -------
    const ui = (key: keyof ObservabilitySettings["hosts"], service: string, port: number, hostPort: number): string => {
      if (args.platform.target === "docker") return `http://${args.platform.publishAddress}:${hostPort}`;
      const host = settings.hosts[key];
      if (host) {
        // Every UI honours the allowlist, Grafana too (its own login stays behind it).
        const sourceRanges = settings.uiSourceRanges;
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
    // checkArgs guarantees a URL when Grafana is not deployed here. The deployed Grafana reads its
    // content from files: pulumi never needs to reach it.
    this.grafanaUrl = settings.grafana.url ?? grafanaDeployedUrl ?? "";

    const http = (d: DeployedService, port: string) => `http://${d.endpoint(port)}`;
    this.grafanaStack = new Grafana(`${name}-grafana`, {
      platform,
      settings,
      url: this.grafanaUrl,
      adminPassword: { ref: ref(secretKey.grafanaAdminPassword), value: this.grafanaAdminPassword },
      ...(oidcSecret ? { oidcClientSecret: ref(secretKey.grafanaOidcClientSecret) } : {}),
      datasources: { prometheus: http(this.prometheus, "http"), jaeger: http(this.jaeger, "ui"), loki: http(this.loki, "http") },
      dashboards: apexDashboards(),
      dependsOn,
      previousHome,
    }, concern);
    this.grafana = this.grafanaStack.service;
    this.grafanaContent = this.grafanaStack.content;

    this.flows.push(...this.metricsAndAlerting.flows, ...this.tracing.flows, ...this.logging.flows, ...this.grafanaStack.flows);
    this.registerOutputs({ grafanaUrl: this.grafanaUrl, jaegerUrl: this.jaegerUrl, prometheusUrl: this.prometheusUrl, alertmanagerUrl: this.alertmanagerUrl });
  }
}

export { stackPrometheusConfig, renderStackFiles } from "./render";
