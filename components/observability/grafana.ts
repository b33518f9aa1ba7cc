/**
 * Grafana: Grafana 10 with a persistent database (its admin password from a secret), or an
 * external Grafana (`grafana.deploy: false`), and its content (data sources, dashboards).
 */
import * as pulumi from "@pulumi/pulumi";
import { services } from "../../app/src/contract/services";
import type { ObservabilitySettings } from "../../config/observability";
import type { RenderedDashboard } from "../../dashboards";
import type { NetworkFlow } from "../platform/network-flows";
import { deployService, type DeployedService, type Platform, type SecretRef, type ServiceSpec } from "../service";
import { GrafanaContent } from "./grafana-content";
import { movedFrom, type PreviousHome } from "./moved";
import { goMemoryLimitEnv, observabilityResources } from "./sizing";

export const grafanaAdminUser = "admin";

export function grafanaSpec(args: { readonly image: string; readonly adminPassword: SecretRef; readonly rootUrl: string; readonly storageSize: string; readonly publishPort: boolean }): ServiceSpec {
  const g = services.grafana;
  return {
    name: g.name,
    component: "dashboards",
    image: args.image,
    ports: [{ name: "http", port: g.port, appProtocol: "http", ...(args.publishPort ? { hostPort: g.devHostPort } : {}) }],
    env: {
      ...goMemoryLimitEnv(observabilityResources.grafana),
      GF_SERVER_HTTP_PORT: String(g.port),
      GF_SERVER_ROOT_URL: args.rootUrl,
      GF_PATHS_DATA: "/var/lib/grafana",
      GF_LOG_MODE: "console",
      GF_SECURITY_ADMIN_USER: grafanaAdminUser,
      GF_USERS_ALLOW_SIGN_UP: "false",
      GF_AUTH_ANONYMOUS_ENABLED: "false",
      GF_ANALYTICS_REPORTING_ENABLED: "false",
      GF_ANALYTICS_CHECK_FOR_UPDATES: "false",
    },
    secretEnv: { GF_SECURITY_ADMIN_PASSWORD: args.adminPassword },
    resources: observabilityResources.grafana,
    probes: {
      readiness: { http: { path: "/api/health", port: g.port } },
      liveness: { http: { path: "/api/health", port: g.port }, initialDelaySeconds: 30 },
    },
    scaling: { replicas: 1 },
    stateful: true,
    user: { uid: 472, gid: 472 },
    volumes: [
      { kind: "data", name: "data", mountPath: "/var/lib/grafana", size: args.storageSize },
      { kind: "tmp", name: "tmp", mountPath: "/tmp", sizeLimit: "64Mi" },
    ],
  };
}

export interface GrafanaArgs {
  readonly platform: Platform;
  /** Parsed `apex:observability` (images, storage.grafana, grafana.deploy/folder). */
  readonly settings: ObservabilitySettings;
  /** URL Grafana serves under and pulumi provisions the content through (the deployed one's or `grafana.url`). */
  readonly url: string;
  /** The admin password: where the deployed Grafana reads it, and its value for the provisioning API (secret). */
  readonly adminPassword: { readonly ref: SecretRef; readonly value: pulumi.Input<string> };
  /** Data source URLs as Grafana's server reaches them. */
  readonly datasources: { readonly prometheus: string; readonly jaeger: string; readonly loki: string };
  readonly dashboards: readonly RenderedDashboard[];
  /** Resources the deployed Grafana waits for. Default none. */
  readonly dependsOn?: readonly pulumi.Resource[];
  /** Pre-split location of Grafana and its content, aliased so an existing stack keeps them. Default: none (new stack). */
  readonly previousHome?: PreviousHome;
}

export class Grafana extends pulumi.ComponentResource {
  /** The deployed Grafana; undefined with `grafana.deploy: false`. */
  public readonly service?: DeployedService;
  public readonly content: GrafanaContent;
  /** Kubernetes NetworkPolicy flows: Grafana's queries to its data sources (empty on docker or when not deployed). */
  public readonly flows: NetworkFlow[] = [];

  constructor(name: string, args: GrafanaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:observability:Grafana", name, {}, opts);
    const { settings, platform } = args;
    if (settings.grafana.deploy) {
      this.service = deployService(`${name}-server`, grafanaSpec({
        image: settings.images.grafana,
        adminPassword: args.adminPassword.ref,
        rootUrl: args.url,
        storageSize: settings.storage.grafana,
        publishPort: platform.target === "docker",
      }), platform, { parent: this, dependsOn: [...(args.dependsOn ?? [])], ...movedFrom(args.previousHome, "grafana") });
    }
    this.content = new GrafanaContent(`${name}-content`, {
      url: args.url,
      auth: pulumi.interpolate`${grafanaAdminUser}:${args.adminPassword.value}`,
      folderTitle: settings.grafana.folder,
      datasources: args.datasources,
      dashboards: args.dashboards,
    }, { parent: this, dependsOn: this.service ? [this.service.resource] : [], ...movedFrom(args.previousHome, "grafana-content") });

    if (this.service && platform.target === "kubernetes") {
      const { grafana: g, prometheus: p, loki: l, jaeger: j } = services;
      this.flows.push(
        { name: "grafana-to-prometheus", from: { service: g.name }, to: { service: p.name }, ports: [{ port: p.port }] },
        { name: "grafana-to-loki", from: { service: g.name }, to: { service: l.name }, ports: [{ port: l.port }] },
        { name: "grafana-to-jaeger", from: { service: g.name }, to: { service: j.name }, ports: [{ port: j.uiPort }] },
      );
    }
    this.registerOutputs({ url: args.url });
  }
}
