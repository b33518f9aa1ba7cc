/**
 * The cluster-wide grant behind `apex:observability.kubeletVolumeStats` (opt-in, Kubernetes):
 * a ClusterRole with `get` on `nodes/metrics` (the kubelet authorises a /metrics scrape with it)
 * and get/list/watch on `nodes` (Prometheus's node discovery), bound by a ClusterRoleBinding to
 * Prometheus's ServiceAccount. Cluster-wide because nodes are cluster-scoped, so no Role can
 * grant either. Not `nodes/proxy`, which would open the kubelet's whole API (exec
 * included). The scrape job is `kubeletScrapeJob` (scrape-jobs.ts).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { services } from "../../app/src/contract/services";
import type { NetworkFlow } from "../platform/network-flows";
import type { KubernetesPlatform } from "../service";
import { kubeletPort } from "./scrape-jobs";

/** Name of the ClusterRole and its binding: cluster-scoped, so prefixed with the stack's namespace and stack. */
export const kubeletAccessName = (platform: Pick<KubernetesPlatform, "namespaceName" | "stack">): string =>
  `${platform.namespaceName}-${platform.stack}-${services.prometheus.name}-kubelet`;

/** Exactly what the kubelet scrape needs, nothing more. */
export function kubeletAccessRules(): k8s.types.input.rbac.v1.PolicyRule[] {
  return [
    { apiGroups: [""], resources: ["nodes/metrics"], verbs: ["get"] },
    { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
  ];
}

export interface KubeletAccessArgs {
  readonly platform: KubernetesPlatform;
}

/** The ClusterRole and the ClusterRoleBinding to the `prometheus` ServiceAccount of the stack namespace. */
export class KubeletAccess extends pulumi.ComponentResource {
  public readonly clusterRole: k8s.rbac.v1.ClusterRole;
  public readonly clusterRoleBinding: k8s.rbac.v1.ClusterRoleBinding;

  constructor(name: string, args: KubeletAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:observability:KubeletAccess", name, {}, opts);
    const k = args.platform;
    const child = { parent: this, provider: k.provider };
    const objectName = kubeletAccessName(k);
    const labels = { ...k.labels, "app.kubernetes.io/name": services.prometheus.name, "app.kubernetes.io/component": "monitoring" };
    this.clusterRole = new k8s.rbac.v1.ClusterRole(`${name}-clusterrole`, {
      metadata: { name: objectName, labels },
      rules: kubeletAccessRules(),
    }, child);
    this.clusterRoleBinding = new k8s.rbac.v1.ClusterRoleBinding(`${name}-clusterrolebinding`, {
      metadata: { name: objectName, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: this.clusterRole.metadata.name },
      subjects: [{ kind: "ServiceAccount", name: services.prometheus.name, namespace: k.namespaceName }],
    }, child);
    this.registerOutputs({ clusterRole: this.clusterRole.metadata.name });
  }
}

/** Prometheus -> every node's kubelet (10250), and -> the API server for the node discovery. */
export function kubeletFlows(args: {
  readonly nodeCidrs: readonly string[];
  readonly apiServer?: { readonly cidrs: readonly string[]; readonly port: number };
}): NetworkFlow[] {
  const prometheus = { service: services.prometheus.name };
  const flows: NetworkFlow[] = [];
  if (args.nodeCidrs.length > 0) flows.push({ name: "prometheus-to-kubelet", from: prometheus, to: { cidrs: args.nodeCidrs }, ports: [{ port: kubeletPort }] });
  if (args.apiServer && args.apiServer.cidrs.length > 0) {
    flows.push({ name: "prometheus-to-kube-apiserver", from: prometheus, to: { cidrs: args.apiServer.cidrs }, ports: [{ port: args.apiServer.port }] });
  }
  return flows;
}

/** What `pulumi preview` says on Kubernetes while the kubelets are not scraped. */
export const kubeletVolumeStatsOffWarning =
  "apex:observability.kubeletVolumeStats is false: PVC usage is not scraped, so ApexPvcFillingUp is not rendered and no alert " +
  "watches the stack's volumes filling up. Setting it true (with apex:observability.nodeCidrs) grants Prometheus's ServiceAccount " +
  "cluster-wide get on nodes/metrics and get/list/watch on nodes (a ClusterRole and ClusterRoleBinding, the stack's only " +
  "cluster-wide read of node data) and mounts its API token; see docs/security.md.";
