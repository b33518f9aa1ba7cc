import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { NetworkFlow } from "../platform/network-flows";
import type { KubernetesPlatform } from "../service";

/** One host routed to one port of a stack Service. */
export interface IngressRoute {
  readonly host: string;
  /** Service name (ServiceSpec name) and port number. */
  readonly service: string;
  readonly port: number;
  /** gRPC routes go on a separate Ingress carrying the controller's gRPC backend annotation. */
  readonly protocol: "http" | "grpc";
  /** Client CIDRs allowed (HTTP routes): such routes go on their own Ingress with the controller's allowlist annotation. */
  readonly sourceRanges?: readonly string[];
}

export interface PlatformIngressArgs {
  readonly platform: KubernetesPlatform;
  /** IngressClass, e.g. "nginx". */
  readonly className: string;
  readonly routes: readonly IngressRoute[];
  /** TLS Secret for every host; with `clusterIssuer`, cert-manager issues it. */
  readonly tls?: { readonly secretName: string; readonly clusterIssuer?: string };
}

/** ingress-nginx: proxy to the backend over HTTP/2 gRPC (h2c) instead of HTTP/1.1. */
export const NGINX_GRPC_ANNOTATION = "nginx.ingress.kubernetes.io/backend-protocol";

/**
 * The stack's only way in from outside the cluster (no LoadBalancer Services): one Ingress for
 * the HTTP routes and one for the gRPC routes (the backend-protocol annotation is per Ingress).
 */
export class PlatformIngress extends pulumi.ComponentResource {
  public readonly ingresses: k8s.networking.v1.Ingress[] = [];

  constructor(name: string, args: PlatformIngressArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:ingress:PlatformIngress", name, {}, opts);
    const { platform } = args;
    for (const group of ingressGroups(args.routes)) {
      const { protocol, routes, sourceRanges } = group;
      const hosts = [...new Set(routes.map((r) => r.host))];
      const annotations: Record<string, string> = {};
      if (protocol === "grpc") annotations[NGINX_GRPC_ANNOTATION] = "GRPC";
      if (sourceRanges) annotations[NGINX_SOURCE_RANGE_ANNOTATION] = sourceRanges.join(",");
      if (args.tls) annotations["nginx.ingress.kubernetes.io/ssl-redirect"] = "true";
      if (args.tls?.clusterIssuer) annotations["cert-manager.io/cluster-issuer"] = args.tls.clusterIssuer;
      this.ingresses.push(new k8s.networking.v1.Ingress(`${name}-${group.suffix}`, {
        metadata: { name: group.objectName, namespace: platform.namespace, labels: { ...platform.labels }, annotations },
        spec: {
          ingressClassName: args.className,
          // cert-manager writes one Secret per Ingress, so each Ingress after the first gets its own name.
          tls: args.tls ? [{ hosts, secretName: group.suffix === "http" ? args.tls.secretName : `${args.tls.secretName}-${group.suffix}` }] : undefined,
          rules: hosts.map((host) => ({
            host,
            http: {
              paths: routes.filter((r) => r.host === host).map((r) => ({
                path: "/",
                pathType: "Prefix",
                backend: { service: { name: r.service, port: { number: r.port } } },
              })),
            },
          })),
        },
      }, { parent: this, provider: platform.provider }));
    }
    this.registerOutputs({});
  }
}

/** ingress-nginx: only these client CIDRs (comma-separated) may use the Ingress's hosts. */
export const NGINX_SOURCE_RANGE_ANNOTATION = "nginx.ingress.kubernetes.io/whitelist-source-range";

interface IngressGroup {
  readonly protocol: "http" | "grpc";
  /** Logical-name suffix; also the TLS Secret suffix for every group but the first. */
  readonly suffix: "http" | "grpc" | "restricted";
  readonly objectName: string;
  readonly routes: readonly IngressRoute[];
  readonly sourceRanges?: readonly string[];
}

/**
 * One Ingress per set of annotations: open HTTP routes ("apex"), gRPC routes ("apex-grpc"), and
 * source-restricted HTTP routes ("apex-restricted"; all restricted routes must share one allowlist).
 */
function ingressGroups(routes: readonly IngressRoute[]): IngressGroup[] {
  const restricted = routes.filter((r) => r.protocol === "http" && r.sourceRanges && r.sourceRanges.length > 0);
  const ranges = [...new Set(restricted.map((r) => (r.sourceRanges ?? []).join(",")))];
  if (ranges.length > 1) throw new Error(`ingress routes ${restricted.map((r) => r.host).join(", ")}: restricted routes must share one source-range list, got ${ranges.length}`);
  const groups: IngressGroup[] = [
    { protocol: "http", suffix: "http", objectName: "apex", routes: routes.filter((r) => r.protocol === "http" && !restricted.includes(r)) },
    { protocol: "grpc", suffix: "grpc", objectName: "apex-grpc", routes: routes.filter((r) => r.protocol === "grpc") },
    { protocol: "http", suffix: "restricted", objectName: "apex-restricted", routes: restricted, sourceRanges: restricted[0]?.sourceRanges },
  ];
  return groups.filter((g) => g.routes.length > 0);
}

/** The NetworkPolicy flows the controller needs to reach the routes' backends. */
export function ingressFlows(routes: readonly IngressRoute[], controllerNamespace: string): NetworkFlow[] {
  const byService = new Map<string, Set<number>>();
  for (const r of routes) byService.set(r.service, (byService.get(r.service) ?? new Set()).add(r.port));
  return [...byService].map(([service, ports]) => ({
    name: `ingress-to-${service}`,
    from: { namespace: controllerNamespace },
    to: { service },
    ports: [...ports].map((port) => ({ port })),
  }));
}
