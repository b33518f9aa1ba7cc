import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { kubernetesRoles, sandboxRunnerRules } from "./rbac-rules";

export interface KubernetesRbacArgs {
  readonly provider: k8s.Provider;
  /** Labels on every object (the stack's recommended labels). */
  readonly labels: Readonly<Record<string, string>>;
  /** Namespaces the people roles apply in: the platform's and the sandbox's. */
  readonly namespaces: { readonly platform: pulumi.Input<string>; readonly sandbox: pulumi.Input<string> };
  /** Groups bound to each people role. An empty list binds nobody. */
  readonly groups: { readonly admin: readonly string[]; readonly operator: readonly string[]; readonly viewer: readonly string[] };
  /** The worker's ServiceAccount, which runs sandbox Pods. */
  readonly worker: { readonly serviceAccount: string; readonly namespace: pulumi.Input<string> };
}

const rbacApiGroup = "rbac.authorization.k8s.io";

/**
 * Kubernetes RBAC for people and workloads: ClusterRoles apex-admin / apex-operator /
 * apex-viewer bound to config's groups by RoleBindings in the platform and sandbox namespaces
 * only; a Role that lets the worker create, watch, read logs of and delete Pods in the sandbox
 * namespace and nothing else; token automount off on both namespaces' default ServiceAccounts.
 */
export class KubernetesRbac extends pulumi.ComponentResource {
  public readonly clusterRoles: Record<keyof typeof kubernetesRoles, k8s.rbac.v1.ClusterRole>;
  public readonly roleBindings: k8s.rbac.v1.RoleBinding[] = [];
  public readonly sandboxRunnerRole: k8s.rbac.v1.Role;
  public readonly sandboxRunnerBinding: k8s.rbac.v1.RoleBinding;
  public readonly defaultServiceAccounts: k8s.core.v1.ServiceAccountPatch[];

  constructor(name: string, args: KubernetesRbacArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:security:KubernetesRbac", name, {}, opts);
    const child = { parent: this, provider: args.provider };
    const labels = { ...args.labels, "app.kubernetes.io/name": "apex-rbac", "app.kubernetes.io/component": "security" };

    const roles = {} as Record<keyof typeof kubernetesRoles, k8s.rbac.v1.ClusterRole>;
    for (const [key, role] of Object.entries(kubernetesRoles) as [keyof typeof kubernetesRoles, (typeof kubernetesRoles)[keyof typeof kubernetesRoles]][]) {
      roles[key] = new k8s.rbac.v1.ClusterRole(`${name}-${role.name}`, { metadata: { name: role.name, labels }, rules: role.rules }, child);
      const groups = args.groups[key];
      if (groups.length === 0) continue;
      for (const [where, namespace] of Object.entries(args.namespaces)) {
        this.roleBindings.push(new k8s.rbac.v1.RoleBinding(`${name}-${role.name}-${where}`, {
          metadata: { name: role.name, namespace, labels },
          roleRef: { apiGroup: rbacApiGroup, kind: "ClusterRole", name: roles[key].metadata.name },
          subjects: groups.map((g) => ({ kind: "Group", apiGroup: rbacApiGroup, name: g })),
        }, child));
      }
    }
    this.clusterRoles = roles;

    this.sandboxRunnerRole = new k8s.rbac.v1.Role(`${name}-sandbox-runner`, {
      metadata: { name: "apex-sandbox-runner", namespace: args.namespaces.sandbox, labels },
      rules: sandboxRunnerRules,
    }, child);
    this.sandboxRunnerBinding = new k8s.rbac.v1.RoleBinding(`${name}-sandbox-runner`, {
      metadata: { name: "apex-sandbox-runner", namespace: args.namespaces.sandbox, labels },
      roleRef: { apiGroup: rbacApiGroup, kind: "Role", name: this.sandboxRunnerRole.metadata.name },
      subjects: [{ kind: "ServiceAccount", name: args.worker.serviceAccount, namespace: args.worker.namespace }],
    }, child);

    // Pods that do not name a ServiceAccount get `default`; it never needs an API token.
    this.defaultServiceAccounts = Object.entries(args.namespaces).map(([where, namespace]) =>
      new k8s.core.v1.ServiceAccountPatch(`${name}-default-sa-${where}`, {
        metadata: { name: "default", namespace, labels },
        automountServiceAccountToken: false,
      }, child));

    this.registerOutputs({
      clusterRoles: Object.values(roles).map((r) => r.metadata.name),
      sandboxRunnerRole: this.sandboxRunnerRole.metadata.name,
    });
  }
}
