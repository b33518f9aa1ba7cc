/**
 * kube-state-metrics on the Kubernetes target: the state of the stack's own pods, HPAs and PVCs as
 * metrics (OOMKilled, CrashLoopBackOff, HPA at max replicas), for the Kubernetes alerts. It watches
 * the stack namespace only (`--namespaces`), only the resources those alerts read (`--resources`),
 * through a namespaced Role with list/watch: no ClusterRole, nothing outside the namespace.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { services } from "../../app/src/contract/services";
import type { NetworkFlow } from "../platform/network-flows";
import { deployService, type DeployedService, type KubernetesPlatform, type ResourceSpec, type ServiceSpec } from "../service";
import { goMemoryLimitEnv } from "./sizing";

/** Pinned release (client-go 1.35); override with `image`. */
export const kubeStateMetricsImage = "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.19.1@sha256:85108987d044b18a098126732f98602df408888c0f7d456241f5abefb9744bc1";

/** `--resources` -> API group: what ApexPodOOMKilled, ApexPodCrashLooping, ApexHpaAtMaxReplicas and ApexPvcFillingUp read. */
export const kubeStateMetricsResources = {
  pods: "",
  persistentvolumeclaims: "",
  horizontalpodautoscalers: "autoscaling",
} as const;

/** One namespace's objects: a few MiB of state. */
export const kubeStateMetricsResourceSpec: ResourceSpec = {
  requests: { cpu: "10m", memory: "32Mi" },
  limits: { cpu: "100m", memory: "128Mi" },
};

/** list/watch on exactly the resources above, grouped by API group. */
export function kubeStateMetricsRoleRules(): k8s.types.input.rbac.v1.PolicyRule[] {
  const byGroup = new Map<string, string[]>();
  for (const [resource, group] of Object.entries(kubeStateMetricsResources)) byGroup.set(group, [...(byGroup.get(group) ?? []), resource]);
  return [...byGroup].map(([group, resources]) => ({ apiGroups: [group], resources, verbs: ["list", "watch"] }));
}

export function kubeStateMetricsSpec(args: { readonly image: string; readonly namespace: string }): ServiceSpec {
  const k = services.kubeStateMetrics;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(args.namespace)) {
    throw new Error(`kube-state-metrics: namespace: expected a DNS label such as "apex", got "${args.namespace}"`);
  }
  return {
    name: k.name,
    component: "monitoring",
    image: args.image,
    args: [
      `--namespaces=${args.namespace}`,
      `--resources=${Object.keys(kubeStateMetricsResources).join(",")}`,
      `--port=${k.port}`,
      `--telemetry-port=${k.telemetryPort}`,
    ],
    ports: [
      { name: "http-metrics", port: k.port, appProtocol: "http", metrics: true },
      { name: "telemetry", port: k.telemetryPort, appProtocol: "http" },
    ],
    env: goMemoryLimitEnv(kubeStateMetricsResourceSpec),
    resources: kubeStateMetricsResourceSpec,
    // Liveness on /healthz, not upstream's /livez: that one asks the API server, and restarting
    // kube-state-metrics does not bring an unreachable API server back.
    probes: {
      readiness: { http: { path: "/readyz", port: k.telemetryPort } },
      liveness: { http: { path: "/healthz", port: k.port }, initialDelaySeconds: 10 },
    },
    scaling: { replicas: 1 },
    kubernetesApiAccess: true,
    // The image's `nobody`.
    user: { uid: 65534, gid: 65534 },
  };
}

export interface KubeStateMetricsArgs {
  readonly platform: KubernetesPlatform;
  /** Default `kubeStateMetricsImage`. */
  readonly image?: string;
}

/** kube-state-metrics (through the shared service model) plus its namespaced Role and RoleBinding. */
export class KubeStateMetrics extends pulumi.ComponentResource {
  public readonly service: DeployedService;
  public readonly role: k8s.rbac.v1.Role;
  public readonly roleBinding: k8s.rbac.v1.RoleBinding;

  constructor(name: string, args: KubeStateMetricsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:observability:KubeStateMetrics", name, {}, opts);
    const k = args.platform;
    const spec = kubeStateMetricsSpec({ image: args.image ?? kubeStateMetricsImage, namespace: k.namespaceName });
    const child = { parent: this, provider: k.provider };
    const labels = { ...k.labels, "app.kubernetes.io/name": spec.name, "app.kubernetes.io/component": spec.component };
    this.role = new k8s.rbac.v1.Role(`${name}-role`, {
      metadata: { name: spec.name, namespace: k.namespace, labels },
      rules: kubeStateMetricsRoleRules(),
    }, child);
    this.roleBinding = new k8s.rbac.v1.RoleBinding(`${name}-rolebinding`, {
      metadata: { name: spec.name, namespace: k.namespace, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: this.role.metadata.name },
      subjects: [{ kind: "ServiceAccount", name: spec.name, namespace: k.namespaceName }],
    }, child);
    // Started once it may list: a pod that cannot is not ready and the first scrapes fail.
    this.service = deployService(`${name}-service`, spec, k, { parent: this, dependsOn: [this.roleBinding] });
    this.registerOutputs({ host: this.service.host });
  }
}

/** Prometheus scrapes it; it watches the namespace through the API server (when its CIDRs are known). */
export function kubeStateMetricsFlows(args: { readonly apiServer?: { readonly cidrs: readonly string[]; readonly port: number } }): NetworkFlow[] {
  const s = services;
  const flows: NetworkFlow[] = [
    { name: "prometheus-to-kube-state-metrics", from: { service: s.prometheus.name }, to: { service: s.kubeStateMetrics.name }, ports: [{ port: s.kubeStateMetrics.port }] },
  ];
  if (args.apiServer && args.apiServer.cidrs.length > 0) {
    flows.push({ name: "kube-state-metrics-to-kube-apiserver", from: { service: s.kubeStateMetrics.name }, to: { cidrs: args.apiServer.cidrs }, ports: [{ port: args.apiServer.port }] });
  }
  return flows;
}
