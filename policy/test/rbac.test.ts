import { describe, expect, it } from "vitest";
import { rbacTypes, workerRbacScopedToSandbox } from "../rules/rbac";
import { resource } from "./fixtures";

const check = workerRbacScopedToSandbox.check;
const runnerRules = [
  { apiGroups: [""], resources: ["pods"], verbs: ["create", "get", "list", "watch", "delete"] },
  { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
];
const role = (rules: unknown, namespace = "apex-sandbox") => resource(rbacTypes.role, "runner", { metadata: { name: "apex-sandbox-runner", namespace }, rules });
const binding = (namespace = "apex-sandbox", roleRef: Record<string, string> = { kind: "Role", name: "apex-sandbox-runner" }, type: string = rbacTypes.roleBinding) =>
  resource(type, "runner-binding", {
    metadata: { name: "apex-sandbox-runner", namespace },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", ...roleRef },
    subjects: [{ kind: "ServiceAccount", name: "apex-worker", namespace: "apex" }],
  });

describe("worker-rbac-scoped-to-sandbox", () => {
  it("passes the sandbox runner Role bound in apex-sandbox", () => {
    expect(check([role(runnerRules), binding()])).toEqual([]);
  });

  it("fails extra verbs or resources, another namespace, and any ClusterRoleBinding", () => {
    const exec = [...runnerRules, { apiGroups: [""], resources: ["pods/exec"], verbs: ["create"] }];
    expect(check([role(exec), binding()])).toEqual([expect.objectContaining({ message: expect.stringContaining('resource "pods/exec"') })]);
    const patch = [{ apiGroups: [""], resources: ["pods"], verbs: ["create", "patch"] }];
    expect(check([role(patch), binding()])).toEqual([expect.objectContaining({ message: expect.stringContaining("verbs patch on pods") })]);
    expect(check([role([{ apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"] }]), binding()])).toHaveLength(1);
    expect(check([role(runnerRules, "apex"), binding("apex")])).toEqual([expect.objectContaining({ message: expect.stringContaining("in namespace apex") })]);
    expect(check([binding("", { kind: "ClusterRole", name: "view" }, rbacTypes.clusterRoleBinding)])).toEqual([expect.objectContaining({ message: expect.stringContaining("cluster-wide") })]);
  });

  it("fails closed on a role it cannot see, and ignores bindings of other subjects", () => {
    expect(check([binding()])).toEqual([expect.objectContaining({ message: expect.stringContaining("not declared in this stack") })]);
    expect(check([role(undefined), binding()])).toEqual([]);
    const other = resource(rbacTypes.clusterRoleBinding, "alloy", { roleRef: { kind: "ClusterRole", name: "alloy" }, subjects: [{ kind: "ServiceAccount", name: "alloy", namespace: "apex" }] });
    expect(check([other])).toEqual([]);
  });
});
