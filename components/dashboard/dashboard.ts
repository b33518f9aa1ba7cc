/**
 * apex-dashboard: the operator console (console/) as its own image, static files on an
 * unprivileged nginx that proxies /v1 to apex-api, deployed through the shared service model on
 * either target, with its NetworkPolicy flow to the API and (kubernetes) its Ingress route.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { services } from "../../app/src/contract";
import type { IngressRoute } from "../ingress";
import type { NetworkFlow } from "../platform/network-flows";
import { BUILD_CONTEXT, pushRegistry, type RuntimeImageArgs } from "../runtime/image";
import { deployService, type DeployedService, type Platform, type ResourceSpec, type ServiceSpec } from "../service";

/** The console's Dockerfile, relative to the project directory (context: the repository root). */
export const DASHBOARD_DOCKERFILE = "console/Dockerfile";

/** The nginx-unprivileged image's user and group (console/Dockerfile keeps it). */
export const DASHBOARD_USER = { uid: 101, gid: 101 } as const;

/** The server's own health (console/nginx/default.conf.template), not the API's. */
export const DASHBOARD_HEALTH_PATH = "/healthz";

/** Env the image's entrypoint substitutes into the nginx template (console/Dockerfile, NGINX_ENVSUBST_FILTER). */
export const dashboardEnv = { port: "APEX_DASHBOARD_PORT", apiUpstream: "APEX_API_UPSTREAM" } as const;

export interface DashboardArgs {
  readonly platform: Platform;
  /** Repository, tag, push and registry of the console image (same tag and registry as the runtime image). */
  readonly image: RuntimeImageArgs;
  /** Replicas. Default: 1 on docker (one container publishes 127.0.0.1:3000), 2 on kubernetes. */
  readonly replicas?: number;
  /** Default: requests 50m/32Mi, limits 500m/128Mi. */
  readonly resources?: ResourceSpec;
  /** Kubernetes: the Ingress host of the console and whether the Ingress terminates TLS. Default: no route (in-cluster only). */
  readonly ingress?: { readonly host: string; readonly tls: boolean };
}

const defaultResources: ResourceSpec = { requests: { cpu: "50m", memory: "32Mi" }, limits: { cpu: "500m", memory: "128Mi" } };

/**
 * `host:port` nginx proxies /v1 to. nginx resolves it itself (its `resolver`, so a replaced API
 * is followed), and nginx's resolver applies no DNS search list: on kubernetes the Service's full
 * name; on docker the network alias, which the engine's DNS answers as is.
 */
export function apiUpstream(platform: Platform): string {
  const { name, httpPort } = services.api;
  return platform.target === "kubernetes"
    ? `${name}.${platform.namespaceName}.svc.cluster.local:${httpPort}`
    : `${name}:${httpPort}`;
}

/** The console's ServiceSpec: non-root (nginx's uid 101), read-only root, scratch for nginx's temp files and its rendered config. */
export function dashboardSpec(args: DashboardArgs, image: pulumi.Input<string>): ServiceSpec {
  const { name, port } = services.dashboard;
  const replicas = args.replicas ?? (args.platform.target === "docker" ? 1 : 2);
  const health = { http: { path: DASHBOARD_HEALTH_PATH, port } };
  return {
    name,
    component: "console",
    image,
    ports: [{ name: "http", port, hostPort: port, appProtocol: "http" }],
    env: { [dashboardEnv.port]: String(port), [dashboardEnv.apiUpstream]: apiUpstream(args.platform) },
    resources: args.resources ?? defaultResources,
    probes: {
      readiness: { ...health, initialDelaySeconds: 2, periodSeconds: 10 },
      liveness: { ...health, initialDelaySeconds: 5, periodSeconds: 20 },
    },
    scaling: { replicas },
    // Docker start order only: nginx re-resolves the API, so it would start without it too.
    dependsOn: [services.api.name],
    user: DASHBOARD_USER,
    readOnlyRootFilesystem: true,
    volumes: [
      // nginx's pid and temp files (the image moves them to /tmp).
      { kind: "tmp", name: "tmp", mountPath: "/tmp", sizeLimit: "64Mi" },
      // The entrypoint renders /etc/nginx/templates/default.conf.template here at start.
      { kind: "tmp", name: "nginx-conf", mountPath: "/etc/nginx/conf.d", sizeLimit: "1Mi" },
    ],
  };
}

/** The console image, built from console/Dockerfile, and the apex-dashboard service running it. */
export class Dashboard extends pulumi.ComponentResource {
  public readonly image: docker.Image;
  /** What the service runs: the pushed digest (prod) or the local `repo:tag`. */
  public readonly imageRef: pulumi.Output<string>;
  public readonly service: DeployedService;
  /** Kubernetes NetworkPolicy flows: the console's proxy to the API. */
  public readonly flows: NetworkFlow[];
  /** Kubernetes Ingress routes: the console host (the controller's flow comes from ingressFlows). */
  public readonly routes: IngressRoute[] = [];
  /** Where people open the console. */
  public readonly url: string;

  constructor(name: string, args: DashboardArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:dashboard:Dashboard", name, {}, opts);
    const img = args.image;
    if (img.push && !img.registry) throw new Error("Dashboard: push needs a registry");
    if (img.tag === "latest") throw new Error('Dashboard: the tag must name one build, not "latest"');
    const { platform } = args;
    this.image = new docker.Image(`${name}-image`, {
      imageName: pulumi.interpolate`${img.repository}:${img.tag}`,
      build: { context: BUILD_CONTEXT, dockerfile: DASHBOARD_DOCKERFILE, platform: img.platform, builderVersion: "BuilderBuildKit" },
      skipPush: !img.push,
      registry: pushRegistry(img.push, img.registry),
    // Dev: built on the engine that runs the container.
    }, { parent: this, provider: platform.target === "docker" ? platform.provider : undefined });
    this.imageRef = img.push ? this.image.repoDigest : this.image.imageName;

    this.service = deployService(name, dashboardSpec(args, this.imageRef), platform, { parent: this });
    const { dashboard, api } = services;
    this.flows = [{ name: "dashboard-to-api", from: { service: dashboard.name }, to: { service: api.name }, ports: [{ port: api.httpPort }] }];
    if (platform.target === "docker") {
      // 127.0.0.1 (the default publish address) as people type it, like apiUrl.
      const host = platform.publishAddress === "127.0.0.1" ? "localhost" : platform.publishAddress;
      this.url = `http://${host}:${dashboard.port}`;
    } else if (args.ingress) {
      this.routes.push({ host: args.ingress.host, service: dashboard.name, port: dashboard.port, protocol: "http" });
      this.url = `${args.ingress.tls ? "https" : "http"}://${args.ingress.host}`;
    } else {
      this.url = `http://${dashboard.name}.${platform.namespaceName}.svc.cluster.local:${dashboard.port}`;
    }
    this.registerOutputs({ imageRef: this.imageRef, url: this.url });
  }
}
