/**
 * Grafana: Grafana 10 with a persistent database (its admin password from a secret, sign-in
 * through OIDC from config) and its content provisioned from files at start
 * (grafana-provisioning.ts); or, with `grafana.deploy: false`, an external Grafana whose content
 * goes through its API (GrafanaContent). Only the latter needs `pulumi up` to reach Grafana.
 */
import * as pulumi from "@pulumi/pulumi";
import { services } from "../../app/src/contract/services";
import type { ObservabilitySettings } from "../../config/observability";
import type { RenderedDashboard } from "../../dashboards";
import type { NetworkFlow } from "../platform/network-flows";
import { deployService, type DeployedService, type Platform, type SecretRef, type ServiceSpec, type VolumeSpec } from "../service";
import { GrafanaContent } from "./grafana-content";
import type { DatasourceUrls } from "./grafana-datasources";
import { grafanaProvisioningVolumes } from "./grafana-provisioning";
import { movedFrom, type PreviousHome } from "./moved";
import { goMemoryLimitEnv, observabilityResources } from "./sizing";

export const grafanaAdminUser = "admin";

export type GrafanaOidc = NonNullable<ObservabilitySettings["grafana"]["oidc"]>;

/** Grafana generic OAuth settings (`[auth.generic_oauth]`) as env; the client secret goes by reference. */
export function grafanaOidcEnv(oidc: GrafanaOidc): Record<string, string> {
  return {
    GF_AUTH_GENERIC_OAUTH_ENABLED: "true",
    GF_AUTH_GENERIC_OAUTH_NAME: oidc.name,
    GF_AUTH_GENERIC_OAUTH_CLIENT_ID: oidc.clientId,
    GF_AUTH_GENERIC_OAUTH_SCOPES: oidc.scopes.join(" "),
    GF_AUTH_GENERIC_OAUTH_AUTH_URL: oidc.authUrl,
    GF_AUTH_GENERIC_OAUTH_TOKEN_URL: oidc.tokenUrl,
    GF_AUTH_GENERIC_OAUTH_API_URL: oidc.apiUrl,
    GF_AUTH_GENERIC_OAUTH_USE_PKCE: String(oidc.usePkce),
    // Users are created at their first sign-in; the local sign-up form stays off (GF_USERS_ALLOW_SIGN_UP).
    GF_AUTH_GENERIC_OAUTH_ALLOW_SIGN_UP: "true",
    GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_PATH: oidc.roleAttributePath,
    GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_STRICT: String(oidc.roleAttributeStrict),
    GF_AUTH_GENERIC_OAUTH_ALLOW_ASSIGN_GRAFANA_ADMIN: "false",
    ...(oidc.groupsAttributePath !== undefined ? { GF_AUTH_GENERIC_OAUTH_GROUPS_ATTRIBUTE_PATH: oidc.groupsAttributePath } : {}),
    // JSON list: group names may hold spaces.
    ...(oidc.allowedGroups !== undefined ? { GF_AUTH_GENERIC_OAUTH_ALLOWED_GROUPS: JSON.stringify(oidc.allowedGroups) } : {}),
    GF_AUTH_GENERIC_OAUTH_AUTO_LOGIN: String(oidc.autoLogin),
    GF_AUTH_DISABLE_LOGIN_FORM: String(oidc.disableLoginForm),
  };
}

export interface GrafanaSpecArgs {
  readonly image: string;
  readonly adminPassword: SecretRef;
  /** GF_SERVER_ROOT_URL: where users open Grafana (OIDC redirects back under it). */
  readonly rootUrl: string;
  readonly storageSize: string;
  readonly publishPort: boolean;
  /** Provisioning files (data sources, dashboard provider, dashboards). Default none. */
  readonly provisioning?: readonly VolumeSpec[];
  /** OIDC sign-in and where its client secret is. Default: local login only. */
  readonly oidc?: { readonly settings: GrafanaOidc; readonly clientSecret: SecretRef };
}

export function grafanaSpec(args: GrafanaSpecArgs): ServiceSpec {
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
      ...(args.oidc ? grafanaOidcEnv(args.oidc.settings) : {}),
    },
    secretEnv: {
      GF_SECURITY_ADMIN_PASSWORD: args.adminPassword,
      ...(args.oidc ? { GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET: args.oidc.clientSecret } : {}),
    },
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
      ...(args.provisioning ?? []),
    ],
  };
}

export interface GrafanaArgs {
  readonly platform: Platform;
  /** Parsed `apex:observability` (images, storage.grafana, grafana.deploy/folder/oidc). */
  readonly settings: ObservabilitySettings;
  /** URL Grafana serves under (the deployed one's root URL), or the external Grafana provisioned through its API. */
  readonly url: string;
  /** The admin password: where the deployed Grafana reads it, and its value for the external Grafana's API (secret). */
  readonly adminPassword: { readonly ref: SecretRef; readonly value: pulumi.Input<string> };
  /** Where the deployed Grafana reads the OIDC client secret. Required with `grafana.oidc`. */
  readonly oidcClientSecret?: SecretRef;
  /** Data source URLs as Grafana's server reaches them. */
  readonly datasources: DatasourceUrls;
  readonly dashboards: readonly RenderedDashboard[];
  /** Resources the deployed Grafana waits for. Default none. */
  readonly dependsOn?: readonly pulumi.Resource[];
  /** Pre-split location of Grafana and its content, aliased so an existing stack keeps them. Default: none (new stack). */
  readonly previousHome?: PreviousHome;
}

export class Grafana extends pulumi.ComponentResource {
  /** The deployed Grafana; undefined with `grafana.deploy: false`. */
  public readonly service?: DeployedService;
  /** The external Grafana's content through its API; undefined when Grafana is deployed here (files instead). */
  public readonly content?: GrafanaContent;
  /** Kubernetes NetworkPolicy flows: Grafana's queries to its data sources (empty on docker or when not deployed). */
  public readonly flows: NetworkFlow[] = [];

  constructor(name: string, args: GrafanaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:observability:Grafana", name, {}, opts);
    const { settings, platform } = args;
    const oidc = settings.grafana.oidc;
    if (settings.grafana.deploy) {
      if (oidc && !args.oidcClientSecret) throw new Error("apex:grafanaOidcClientSecret: required when apex:observability.grafana.oidc is set, got nothing");
      this.service = deployService(`${name}-server`, grafanaSpec({
        image: settings.images.grafana,
        adminPassword: args.adminPassword.ref,
        rootUrl: args.url,
        storageSize: settings.storage.grafana,
        publishPort: platform.target === "docker",
        provisioning: grafanaProvisioningVolumes({ datasources: args.datasources, folderTitle: settings.grafana.folder, dashboards: args.dashboards }),
        ...(oidc && args.oidcClientSecret ? { oidc: { settings: oidc, clientSecret: args.oidcClientSecret } } : {}),
      }), platform, { parent: this, dependsOn: [...(args.dependsOn ?? [])], ...movedFrom(args.previousHome, "grafana") });
    } else {
      this.content = new GrafanaContent(`${name}-content`, {
        url: args.url,
        auth: pulumi.interpolate`${grafanaAdminUser}:${args.adminPassword.value}`,
        folderTitle: settings.grafana.folder,
        datasources: args.datasources,
        dashboards: args.dashboards,
      }, { parent: this, ...movedFrom(args.previousHome, "grafana-content") });
    }

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
