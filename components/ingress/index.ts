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
    for (const protocol of ["http", "grpc"] as const) {
      const routes = args.routes.filter((r) => r.protocol === protocol);
      if (routes.length === 0) continue;
      const hosts = [...new Set(routes.map((r) => r.host))];
      const annotations: Record<string, string> = {};
      if (protocol === "grpc") annotations[NGINX_GRPC_ANNOTATION] = "GRPC";
      if (args.tls) annotations["nginx.ingress.kubernetes.io/ssl-redirect"] = "true";
      if (args.tls?.clusterIssuer) annotations["cert-manager.io/cluster-issuer"] = args.tls.clusterIssuer;
      const objectName = protocol === "http" ? "apex" : "apex-grpc";
      this.ingresses.push(new k8s.networking.v1.Ingress(`${name}-${protocol}`, {
        metadata: { name: objectName, namespace: platform.namespace, labels: { ...platform.labels }, annotations },
        spec: {
          ingressClassName: args.className,
          // cert-manager writes one Secret per Ingress, so the gRPC one gets its own name.
          tls: args.tls ? [{ hosts, secretName: protocol === "http" ? args.tls.secretName : `${args.tls.secretName}-grpc` }] : undefined,
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
