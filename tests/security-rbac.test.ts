/* eslint-disable @typescript-eslint/no-explicit-any */
import { beforeAll, describe, expect, it } from "vitest";
import { sandboxSpec, services } from "../app/src/contract";
import { runStack, type RecordedResource, type StackRun } from "./harness";

let prod: StackRun;
let dev: StackRun;
/** prod with the one opt-in cluster-wide grant: apex:observability.kubeletVolumeStats. */
let kubelet: StackRun;
/** prod with the in-cluster Postgres and Redis instead of RDS/ElastiCache. */
let inCluster: StackRun;
/** prod with the LLM keys from apex-secrets (apex:vault.secretsOperator none). */
let withoutOperator: StackRun;
beforeAll(async () => {
  prod = await runStack({ stack: "prod", config: { rbac: { adminGroups: ["platform-admins"], operatorGroups: ["sre", "oncall"], viewerGroups: [] } } });
  dev = await runStack({ stack: "dev" });
  kubelet = await runStack({ stack: "prod", config: { observability: { kubeletVolumeStats: true, nodeCidrs: ["10.0.0.0/16"] } } });
  inCluster = await runStack({ stack: "prod", config: { dataStores: "in-cluster" } });
  withoutOperator = await runStack({ stack: "prod", config: { vault: { secretsOperator: "none" } } });
});

/**
 * prod's one default cluster-wide grant: TokenReviews for the secrets operator's ServiceAccount, so
 * Vault can check its logins with its own token (client-JWT reviewer mode; no long-lived reviewer token).
 */
const secretsSyncReviewer = { role: "system:auth-delegator", subjects: [{ kind: "ServiceAccount", name: "apex-secrets-sync", namespace: "apex" }] };
const clusterWideGrants = (run: StackRun) =>
  run.ofType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding").map((b) => ({ role: b.inputs.roleRef.name, subjects: b.inputs.subjects }));

const clusterRole = (name: string) => prod.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", (r) => r.inputs.metadata.name === name);
const bindings = () => prod.ofType("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding");
const grants = (role: RecordedResource, resource: string, verb: string) =>
  (role.inputs.rules as any[]).some((r) => (r.resources.includes(resource) || r.resources.includes("*")) && (r.verbs.includes(verb) || r.verbs.includes("*")));

describe("Kubernetes RBAC for people", () => {
  it("defines apex-admin, apex-operator and apex-viewer", () => {
    expect(prod.ofType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").map((r) => r.inputs.metadata.name).sort()).toEqual(["apex-admin", "apex-operator", "apex-viewer"]);
  });

  it("binds them to config's groups in the platform and sandbox namespaces only (no ClusterRoleBinding); an empty list binds nobody", () => {
    expect(clusterWideGrants(prod).filter((g) => g.subjects.some((s: any) => s.kind === "Group"))).toEqual([]);
    const people = bindings().filter((b) => b.inputs.roleRef.kind === "ClusterRole");
    const summary = people.map((b) => `${b.inputs.metadata.namespace}/${b.inputs.roleRef.name}=${b.inputs.subjects.map((s: any) => `${s.kind}:${s.name}`).join("+")}`).sort();
    expect(summary).toEqual([
      "apex-sandbox/apex-admin=Group:platform-admins",
      "apex-sandbox/apex-operator=Group:sre+Group:oncall",
      "apex/apex-admin=Group:platform-admins",
      "apex/apex-operator=Group:sre+Group:oncall",
    ]);
    for (const b of people) expect(b.inputs.roleRef.apiGroup).toBe("rbac.authorization.k8s.io");
  });

  it("only apex-admin reads Secrets; the viewer changes nothing; the operator reads logs, restarts pods and scales", () => {
    expect(grants(clusterRole("apex-admin"), "secrets", "get")).toBe(true);
    for (const name of ["apex-operator", "apex-viewer"]) expect(grants(clusterRole(name), "secrets", "get"), name).toBe(false);
    const viewerVerbs = new Set((clusterRole("apex-viewer").inputs.rules as any[]).flatMap((r) => r.verbs));
    expect(viewerVerbs).toEqual(new Set(["get", "list", "watch"]));
    expect(grants(clusterRole("apex-viewer"), "pods/log", "get")).toBe(false);
    const operator = clusterRole("apex-operator");
    expect(grants(operator, "pods/log", "get")).toBe(true);
    expect(grants(operator, "pods", "delete")).toBe(true);
    expect(grants(operator, "deployments/scale", "patch")).toBe(true);
    expect(grants(operator, "pods/exec", "create")).toBe(false);
  });
});

describe("Kubernetes RBAC for workloads", () => {
  it("the worker may only create, get/list/watch, read logs of and delete pods in the sandbox namespace", () => {
    const role = prod.one("kubernetes:rbac.authorization.k8s.io/v1:Role", (r) => r.inputs.metadata.namespace === sandboxSpec.namespace);
    expect(role.inputs.metadata.namespace).toBe(sandboxSpec.namespace);
    expect(role.inputs.rules).toEqual([
      { apiGroups: [""], resources: ["pods"], verbs: ["create", "get", "list", "watch", "delete"] },
      { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
    ]);
    const binding = bindings().filter((b) => b.inputs.roleRef.kind === "Role" && b.inputs.metadata.namespace === sandboxSpec.namespace);
    expect(binding).toHaveLength(1);
    expect(binding[0]!.inputs).toMatchObject({
      metadata: { namespace: sandboxSpec.namespace },
      roleRef: { kind: "Role", name: role.inputs.metadata.name },
      subjects: [{ kind: "ServiceAccount", name: services.worker.name, namespace: "apex" }],
    });
  });

  it("mounts an API token into the worker but not the api or data stores; default ServiceAccounts never automount", () => {
    const runtimeAndData: string[] = [services.api.name, services.worker.name, services.postgres.name, services.redis.name];
    const pods = inCluster.ofType("kubernetes:apps/v1:Deployment").concat(inCluster.ofType("kubernetes:apps/v1:StatefulSet"))
      .filter((w) => runtimeAndData.includes(w.inputs.metadata.name));
    expect(pods).toHaveLength(4);
    for (const w of pods) {
      const expected = w.inputs.metadata.name === services.worker.name;
      expect(w.inputs.spec.template.spec.automountServiceAccountToken, w.inputs.metadata.name).toBe(expected);
    }
    const patches = prod.ofType("kubernetes:core/v1:ServiceAccountPatch");
    expect(patches.map((p) => `${p.inputs.metadata.namespace}/${p.inputs.metadata.name}:${p.inputs.automountServiceAccountToken}`).sort())
      .toEqual(["apex-sandbox/default:false", "apex/default:false"]);
  });

  it("by default binds cluster-wide only TokenReviews for the secrets operator; apex:observability.kubeletVolumeStats adds exactly one ClusterRoleBinding: node metrics for prometheus", () => {
    expect(clusterWideGrants(prod)).toEqual([secretsSyncReviewer]);
    expect(clusterWideGrants(withoutOperator)).toEqual([]);
    expect(clusterWideGrants(kubelet)).toEqual([
      secretsSyncReviewer,
      { role: "apex-prod-prometheus-kubelet", subjects: [{ kind: "ServiceAccount", name: services.prometheus.name, namespace: "apex" }] },
    ]);
    const role = kubelet.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", (r) => r.inputs.metadata.name === "apex-prod-prometheus-kubelet");
    // Read-only, nodes only: no nodes/proxy (the kubelet's whole API, exec included), no Secrets, no writes.
    const pairs = (role.inputs.rules as any[]).flatMap((r) => r.resources.flatMap((res: string) => r.verbs.map((v: string) => `${res}:${v}`))).sort();
    expect(pairs).toEqual(["nodes/metrics:get", "nodes:get", "nodes:list", "nodes:watch"]);
    expect((role.inputs.rules as any[]).every((r) => r.apiGroups.length === 1 && r.apiGroups[0] === "")).toBe(true);
    // Nothing else changes: the people roles and every namespaced binding are those of the default stack.
    expect(kubelet.ofType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").map((r) => r.inputs.metadata.name).sort())
      .toEqual(["apex-admin", "apex-operator", "apex-prod-prometheus-kubelet", "apex-viewer"]);
  });

  it("dev (Docker) has no Kubernetes RBAC", () => {
    expect(dev.resources.filter((r) => r.type.startsWith("kubernetes:"))).toEqual([]);
  });
});
