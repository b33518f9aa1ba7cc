import { describe, expect, it } from "vitest";
import type { PlainResource } from "../lib/resource";
import { podTemplateConfigMap, sandboxRuntimeClassEnforced, sandboxTypes } from "../rules/sandbox";
import { resource } from "./fixtures";

const check = sandboxRuntimeClassEnforced.check;
const pool = {
  nodeSelector: { "apex.dev/pool": "sandbox" },
  tolerations: [{ key: "apex.dev/sandbox", operator: "Equal", value: "true", effect: "NoSchedule" }],
};
const podSpec = { runtimeClassName: "gvisor", ...pool, containers: [{ name: "sandbox", image: "i" }] };

const template = (spec: unknown, data?: unknown) =>
  resource(sandboxTypes.configMap, "apex-sandbox-pod-template", {
    metadata: { name: podTemplateConfigMap.name, namespace: "apex-sandbox" },
    data: data === undefined ? { [podTemplateConfigMap.key]: JSON.stringify({ apiVersion: "v1", kind: "Pod", spec }) } : data,
  });
const runtimeClass = (name = "gvisor", scheduling: unknown = pool) => resource(sandboxTypes.runtimeClass, "rc", { metadata: { name }, handler: "runsc", scheduling });
const policy = (expression = 'has(object.spec.runtimeClassName) && object.spec.runtimeClassName == "gvisor"', extra: Record<string, unknown> = {}) =>
  resource(sandboxTypes.admissionPolicy, "vap", {
    metadata: { name: "apex-sandbox-pods" },
    spec: {
      failurePolicy: "Fail",
      matchConstraints: { resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] }] },
      validations: [{ expression }],
      ...extra,
    },
  });
const binding = (spec: Record<string, unknown> = {}) =>
  resource(sandboxTypes.admissionBinding, "vapb", {
    metadata: { name: "apex-sandbox-pods" },
    spec: { policyName: "apex-sandbox-pods", validationActions: ["Deny"], matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "apex-sandbox" } } }, ...spec },
  });
const compliant = (): PlainResource[] => [template(podSpec), runtimeClass(), policy(), binding()];
const messages = (rs: readonly PlainResource[]) => check(rs).map((v) => v.message);

describe("sandbox-runtime-class-enforced", () => {
  it("passes the prod sandbox: template with class, selector and tolerations; class declared; policy bound with Deny", () => {
    expect(check(compliant())).toEqual([]);
  });

  it("fails a template without runtimeClassName, or naming an undeclared class", () => {
    const { runtimeClassName: _, ...noClass } = podSpec;
    expect(messages([template(noClass), runtimeClass(), policy(), binding()])).toEqual([expect.stringContaining("sets no runtimeClassName")]);
    expect(messages([template({ ...podSpec, runtimeClassName: "kata" }), runtimeClass(), policy(), binding()])).toEqual([
      expect.stringContaining('runtimeClassName "kata" is not a RuntimeClass declared in this stack'),
      expect.stringContaining('no ValidatingAdmissionPolicy requires runtimeClassName "kata"'),
    ]);
  });

  it("fails a template off the class's node pool", () => {
    expect(messages([template({ ...podSpec, nodeSelector: {}, tolerations: [] }), runtimeClass(), policy(), binding()])).toEqual([
      expect.stringContaining("does not select the node pool (nodeSelector apex.dev/pool=sandbox)"),
      expect.stringContaining("does not tolerate the node pool's taint apex.dev/sandbox:NoSchedule"),
    ]);
  });

  it("fails without an enforcing admission policy, or without a Deny binding to the sandbox namespace", () => {
    expect(messages([template(podSpec), runtimeClass()])).toEqual([expect.stringContaining('no ValidatingAdmissionPolicy requires runtimeClassName "gvisor"')]);
    expect(messages([template(podSpec), runtimeClass(), policy('object.spec.runtimeClassName == "gvisor" || true'), binding()])).toHaveLength(1);
    expect(messages([template(podSpec), runtimeClass(), policy(undefined, { failurePolicy: "Ignore" }), binding()])).toHaveLength(1);
    expect(messages([template(podSpec), runtimeClass(), policy()])).toEqual([expect.stringContaining("is not bound with validationActions [Deny] to namespace apex-sandbox")]);
    expect(messages([template(podSpec), runtimeClass(), policy(), binding({ validationActions: ["Warn"] })])).toHaveLength(1);
    expect(messages([template(podSpec), runtimeClass(), policy(), binding({ matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "apex" } } } })])).toHaveLength(1);
  });

  it("undefined: no template (docker target) passes; a template not yet known is judged on the admission policy alone; bad JSON is reported", () => {
    expect(check([])).toEqual([]);
    expect(check([template(undefined, {}), runtimeClass(), policy(), binding()])).toEqual([]);
    expect(messages([template(undefined, {}), runtimeClass()])).toEqual([expect.stringContaining("no ValidatingAdmissionPolicy requires runtimeClassName")]);
    expect(messages([template(undefined, { [podTemplateConfigMap.key]: "{" }), runtimeClass(), policy(), binding()])).toEqual([expect.stringContaining("is not JSON")]);
  });
});
