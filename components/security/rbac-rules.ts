import type * as k8s from "@pulumi/kubernetes";

type PolicyRule = k8s.types.input.rbac.v1.PolicyRule;

/**
 * The Kubernetes side of the seed's role table, as ClusterRoles bound per namespace (so they
 * grant nothing outside Apex's namespaces). Secrets are readable by apex-admin only.
 */
const workloadReads: PolicyRule[] = [
  { apiGroups: [""], resources: ["pods", "services", "endpoints", "configmaps", "serviceaccounts", "persistentvolumeclaims", "events", "resourcequotas", "limitranges"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["apps"], resources: ["deployments", "statefulsets", "replicasets", "daemonsets"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["autoscaling"], resources: ["horizontalpodautoscalers"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["policy"], resources: ["poddisruptionbudgets"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["networking.k8s.io"], resources: ["ingresses", "networkpolicies"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["batch"], resources: ["jobs", "cronjobs"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["get", "list", "watch"] },
];

export const kubernetesRoles = {
  admin: {
    name: "apex-admin",
    rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }] as PolicyRule[],
  },
  operator: {
    name: "apex-operator",
    rules: [
      ...workloadReads,
      { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["delete"] },
      { apiGroups: ["apps"], resources: ["deployments", "statefulsets"], verbs: ["patch"] },
      { apiGroups: ["apps"], resources: ["deployments/scale", "statefulsets/scale"], verbs: ["get", "update", "patch"] },
      { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create", "delete"] },
    ] as PolicyRule[],
  },
  viewer: {
    name: "apex-viewer",
    rules: workloadReads,
  },
} as const;

/**
 * What the worker's ServiceAccount may do in the sandbox namespace, and nothing else: start a
 * sandbox Pod, follow it, read its output, remove it.
 */
export const sandboxRunnerRules: PolicyRule[] = [
  { apiGroups: [""], resources: ["pods"], verbs: ["create", "get", "list", "watch", "delete"] },
  { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
];
