import { sandboxSpec, services } from "../../app/src/contract";
import { nameOf, namespaceOf } from "../lib/kubernetes";
import { asArray, describe, isRecord, stackPolicy, type PlainResource, type Violation } from "../lib/resource";

const rbac = "kubernetes:rbac.authorization.k8s.io/v1";
export const rbacTypes = {
  role: `${rbac}:Role`,
  clusterRole: `${rbac}:ClusterRole`,
  roleBinding: `${rbac}:RoleBinding`,
  clusterRoleBinding: `${rbac}:ClusterRoleBinding`,
} as const;

/** What the worker may do, and only in the sandbox namespace. */
const allowedWorkerVerbs: Readonly<Record<string, readonly string[]>> = {
  pods: ["create", "get", "list", "watch", "delete"],
  "pods/log": ["get"],
};

const bindsWorker = (binding: PlainResource): boolean =>
  asArray(binding.props.subjects).some((s) => isRecord(s) && s.kind === "ServiceAccount" && s.name === services.worker.name);

/** Problems with one rule granted to the worker; empty when it stays within pods in the core group. */
function ruleProblems(rule: unknown): string[] {
  if (!isRecord(rule)) return ["a rule that is not an object"];
  const groups = asArray<string>(rule.apiGroups);
  if (groups.some((g) => g !== "")) return [`apiGroups ${JSON.stringify(groups)} (only the core group "" is allowed)`];
  if (asArray(rule.nonResourceURLs).length > 0) return ["nonResourceURLs"];
  return asArray<string>(rule.resources).flatMap((resource) => {
    const allowed = allowedWorkerVerbs[resource];
    if (allowed === undefined) return [`resource "${resource}"`];
    const extra = asArray<string>(rule.verbs).filter((v) => !allowed.includes(v));
    return extra.length > 0 ? [`verbs ${extra.join(", ")} on ${resource}`] : [];
  });
}

export const workerRbacScopedToSandbox = stackPolicy(
  {
    name: "worker-rbac-scoped-to-sandbox",
    description: `The ${services.worker.name} ServiceAccount is bound only in ${sandboxSpec.namespace}, to a Role that may create, get/list/watch and delete pods and read their logs: nothing else, nowhere else.`,
    enforcementLevel: "mandatory",
    severity: "critical",
  },
  (resources) => {
    const out: Violation[] = [];
    const roles = resources.filter((r) => r.type === rbacTypes.role || r.type === rbacTypes.clusterRole);
    for (const b of resources.filter((r) => (r.type === rbacTypes.roleBinding || r.type === rbacTypes.clusterRoleBinding) && bindsWorker(r))) {
      const v = (message: string) => out.push({ message: `${describe(b)} binds ${services.worker.name}: ${message}`, urn: b.urn });
      if (b.type === rbacTypes.clusterRoleBinding) {
        v("a ClusterRoleBinding grants cluster-wide access");
        continue;
      }
      if (namespaceOf(b) !== sandboxSpec.namespace) v(`in namespace ${namespaceOf(b)} (only ${sandboxSpec.namespace} is allowed)`);
      const ref = isRecord(b.props.roleRef) ? b.props.roleRef : {};
      const role = roles.find((r) =>
        (ref.kind === "ClusterRole" ? r.type === rbacTypes.clusterRole : r.type === rbacTypes.role && namespaceOf(r) === namespaceOf(b)) &&
        nameOf(r) === ref.name);
      if (role === undefined) {
        v(`its ${String(ref.kind ?? "role")} "${String(ref.name)}" is not declared in this stack, so its rules cannot be checked`);
        continue;
      }
      const problems = asArray(role.props.rules).flatMap(ruleProblems);
      if (problems.length > 0) v(`${describe(role)} grants ${problems.join("; ")}`);
    }
    return out;
  },
);
