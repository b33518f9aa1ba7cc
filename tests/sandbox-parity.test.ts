/**
 * Kubernetes sandbox parity (issue 14, item 7) and the sandbox quota (item 6), component by
 * component: the config section and its quota check, the SandboxRuntime's RuntimeClass, pod
 * template and admission policy under mocks, the worker env. The whole prod stack is covered in
 * sandbox-infra.test.ts.
 */
import * as k8s from "@pulumi/kubernetes";
import { beforeAll, describe, expect, it } from "vitest";
import { runtimeEnv, sandboxSpec, type SandboxPlacement } from "../app/src/contract";
import { buildSandboxPod } from "../app/src/sandbox/pod-template";
import { loadConfig, mergeOver, type ApexConfig, type ConfigSource } from "../config";
import { defaultsFor } from "../config";
import { sandboxCrossChecks, sandboxDemand, sandboxQuota, sandboxSections } from "../config/sandbox";
import { SANDBOX_ADMISSION_POLICY, celString, sandboxPodValidations } from "../components/sandbox/admission";
import { sandboxEnv } from "../components/sandbox/from-config";
import { SandboxRuntime, type SandboxKubernetesArgs } from "../components/sandbox/sandbox";
import { sandboxRuntimeClassEnforced } from "../policy/rules/sandbox";
import { runStack, type StackRun } from "./harness";
import { isValidatable, validateKubernetesObject } from "./harness/kubernetes-schema";

const section = sandboxSections.sandbox;
type SandboxConfig = ApexConfig["sandbox"];
/** The sandbox section of an environment, with `given` merged over its defaults as a stack file would be. */
const sandboxOf = (env: "dev" | "prod", given: Record<string, unknown> = {}): SandboxConfig =>
  section.schema.parse(mergeOver(defaultsFor(section, env), given));
const issuesOf = (env: "dev" | "prod", given: Record<string, unknown>): string[] => {
  const r = section.schema.safeParse(mergeOver(defaultsFor(section, env), given));
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

type Workers = Pick<ApexConfig["workers"], "replicas" | "autoscaling" | "concurrency">;
const prodWorkers: Workers = { replicas: 2, autoscaling: { minReplicas: 2, maxReplicas: 10, targetCpuUtilization: 70 }, concurrency: 8 };
/** Just what the sandbox checks read. */
const configWith = (sandbox: SandboxConfig, workers: Workers = prodWorkers, target: "kubernetes" | "docker" = "kubernetes") =>
  ({ target, workers, sandbox }) as unknown as ApexConfig;

describe("apex:sandbox defaults", () => {
  it("prod: gVisor runsc and the dedicated node pool (apex.dev/pool=sandbox, taint apex.dev/sandbox=true:NoSchedule); quota left to derivation", () => {
    const prod = sandboxOf("prod");
    expect(prod.runtimeClass).toEqual({ name: "gvisor", handler: "runsc" });
    expect(prod.nodePool).toEqual({
      nodeSelector: { "apex.dev/pool": "sandbox" },
      tolerations: [{ key: "apex.dev/sandbox", operator: "Equal", value: "true", effect: "NoSchedule" }],
    });
    expect(prod.quota).toEqual({});
  });

  it("dev: no RuntimeClass and no node pool (Docker sandboxes)", () => {
    expect(sandboxOf("dev")).toMatchObject({ runtimeClass: null, nodePool: null, quota: {} });
  });

  it("a stack may switch both off with null", () => {
    expect(sandboxOf("prod", { runtimeClass: null, nodePool: null })).toMatchObject({ runtimeClass: null, nodePool: null });
  });

  it("rejects a bad node pool, naming the field and what it expects", () => {
    expect(issuesOf("prod", { nodePool: { nodeSelector: { "bad key!": "x" } } })).toEqual([expect.stringMatching(/^nodePool\.nodeSelector\.bad key!: expected a label key/)]);
    expect(issuesOf("prod", { nodePool: { tolerations: [{ key: "apex.dev/sandbox", operator: "Exists", value: "true", effect: "NoSchedule" }] } }))
      .toEqual(['nodePool.tolerations.0.value: expected no value with operator "Exists"']);
    expect(issuesOf("prod", { nodePool: { tolerations: [{ key: "apex.dev/sandbox", operator: "Equal", value: "true", effect: "NoRun" }] } }))
      .toEqual([expect.stringMatching(/^nodePool\.tolerations\.0\.effect: expected "NoSchedule", "PreferNoSchedule" or "NoExecute"/)]);
    expect(issuesOf("prod", { nodePool: { tolerations: [] } })).toEqual([expect.stringMatching(/^nodePool\.tolerations: expected at least one toleration/)]);
    expect(issuesOf("prod", { quota: { pods: 0 } })).toEqual(["quota.pods: expected a positive integer"]);
  });

  it("loadConfig reports a bad value under its apex:sandbox key", () => {
    const src: ConfigSource = {
      stack: "dev",
      entries: () => new Map([["sandbox", { value: JSON.stringify({ nodePool: { nodeSelector: {}, tolerations: [] } }), secret: false }]]),
    };
    let problems: string[] = [];
    try {
      loadConfig(src);
    } catch (e) {
      problems = ((e as { problems?: { key: string; message: string }[] }).problems ?? []).map((p) => `${p.key}: ${p.message}`);
    }
    expect(problems).toEqual([
      expect.stringMatching(/^apex:sandbox\.nodePool\.nodeSelector: expected at least one node label/),
      expect.stringMatching(/^apex:sandbox\.nodePool\.tolerations: expected at least one toleration/),
    ]);
  });
});

describe("sandbox quota = max workers x concurrency", () => {
  it("derives pods from workers.autoscaling.maxReplicas x concurrency, cpu and memory from the contract's per-sandbox limits", () => {
    const c = configWith(sandboxOf("prod"));
    expect(sandboxDemand(c)).toEqual({ pods: 80, reason: "workers.autoscaling.maxReplicas 10 x workers.concurrency 8" });
    expect(sandboxQuota(c)).toEqual({ pods: 80, cpu: "80", memory: "40Gi" });
    expect(sandboxCrossChecks(c)).toEqual([]);
  });

  it("uses workers.replicas without autoscaling, and odd counts give Mi", () => {
    const c = configWith(sandboxOf("prod"), { replicas: 3, autoscaling: null, concurrency: 3 });
    expect(sandboxDemand(c).reason).toBe("workers.replicas 3 x workers.concurrency 3");
    expect(sandboxQuota(c)).toEqual({ pods: 9, cpu: "9", memory: "4608Mi" });
  });

  it("an explicit pods count below the demand is an error naming the key and the product", () => {
    const c = configWith(sandboxOf("prod", { quota: { pods: 32 } }));
    expect(sandboxCrossChecks(c)).toEqual([
      { key: "apex:sandbox.quota.pods", message: "expected at least 80 (workers.autoscaling.maxReplicas 10 x workers.concurrency 8), got 32" },
    ]);
  });

  it("a larger explicit pods count is kept, and cpu/memory follow it unless given", () => {
    const c = configWith(sandboxOf("prod", { quota: { pods: 100 } }));
    expect(sandboxCrossChecks(c)).toEqual([]);
    expect(sandboxQuota(c)).toEqual({ pods: 100, cpu: "100", memory: "50Gi" });
    expect(sandboxQuota(configWith(sandboxOf("prod", { quota: { cpu: "120", memory: "64Gi" } })))).toEqual({ pods: 80, cpu: "120", memory: "64Gi" });
  });

  it("explicit cpu or memory too small for the pods is an error naming the key", () => {
    const c = configWith(sandboxOf("prod", { quota: { cpu: "79500m", memory: "32Gi" } }));
    expect(sandboxCrossChecks(c)).toEqual([
      { key: "apex:sandbox.quota.cpu", message: 'expected at least "80" (80 sandbox pods x 1 CPU each), got "79500m"' },
      { key: "apex:sandbox.quota.memory", message: 'expected at least "40Gi" (80 sandbox pods x 512Mi each), got "32Gi"' },
    ]);
    expect(sandboxCrossChecks(configWith(sandboxOf("prod", { quota: { cpu: "80000m", memory: "40960Mi" } })))).toEqual([]);
  });

  it("the docker target has no quota to check", () => {
    expect(sandboxCrossChecks(configWith(sandboxOf("dev", { quota: { pods: 1 } }), prodWorkers, "docker"))).toEqual([]);
  });
});

const prodPool = sandboxOf("prod").nodePool as SandboxPlacement;

describe("the admission policy's CEL", () => {
  const validations = sandboxPodValidations({ runtimeClassName: "gvisor", nodePool: prodPool });

  it("one validation per requirement: the RuntimeClass, each node label, each toleration", () => {
    expect(validations.map((v) => v.expression)).toEqual([
      'has(object.spec.runtimeClassName) && object.spec.runtimeClassName == "gvisor"',
      'has(object.spec.nodeSelector) && "apex.dev/pool" in object.spec.nodeSelector && object.spec.nodeSelector["apex.dev/pool"] == "sandbox"',
      'has(object.spec.tolerations) && object.spec.tolerations.exists(t, has(t.key) && t.key == "apex.dev/sandbox" && has(t.effect) && t.effect == "NoSchedule" && ' +
        '(!has(t.operator) || t.operator == "Equal") && has(t.value) && t.value == "true")',
    ]);
    expect(validations.map((v) => v.message)).toEqual([
      "sandbox Pods must set runtimeClassName gvisor",
      "sandbox Pods must select the sandbox node pool (nodeSelector apex.dev/pool=sandbox)",
      "sandbox Pods must tolerate the sandbox node pool's taint apex.dev/sandbox=true:NoSchedule",
    ]);
    expect(validations.every((v) => v.reason === "Forbidden")).toBe(true);
  });

  it("every expression is well formed: balanced parentheses and brackets, closed string literals, guarded field access", () => {
    for (const { expression } of validations) {
      const unquoted = expression.replace(/"(?:[^"\\]|\\.)*"/g, '""');
      expect(unquoted.includes('"') ? unquoted.replace(/""/g, "").includes('"') : false, expression).toBe(false);
      let depth = 0;
      for (const ch of unquoted) {
        if (ch === "(" || ch === "[") depth++;
        if (ch === ")" || ch === "]") depth--;
        expect(depth, expression).toBeGreaterThanOrEqual(0);
      }
      expect(depth, expression).toBe(0);
      // Optional Pod fields are read only behind has(): a missing field fails the check instead of erroring.
      for (const field of unquoted.match(/object\.spec\.[A-Za-z]+/g) ?? []) expect(unquoted, field).toContain(`has(${field})`);
      for (const field of unquoted.match(/\bt\.[a-z]+\b/g) ?? []) expect(unquoted, field).toContain(`has(${field})`);
    }
  });

  it("an Exists toleration is matched by operator, not value; CEL strings are escaped", () => {
    const [exists] = sandboxPodValidations({ nodePool: { nodeSelector: {}, tolerations: [{ key: "k", operator: "Exists", effect: "NoExecute" }] } });
    expect(exists?.expression).toBe('has(object.spec.tolerations) && object.spec.tolerations.exists(t, has(t.key) && t.key == "k" && has(t.effect) && t.effect == "NoExecute" && has(t.operator) && t.operator == "Exists")');
    expect(celString('a"b\\c')).toBe('"a\\"b\\\\c"');
  });

  it("nothing to enforce without a RuntimeClass or node pool", () => {
    expect(sandboxPodValidations({})).toEqual([]);
  });
});

/** SandboxRuntime on the kubernetes target, built directly from the prod section under mocks. */
function sandboxProgram(sandbox: SandboxConfig) {
  return () => {
    const provider = new k8s.Provider("k8s", {});
    const kube: SandboxKubernetesArgs = {
      provider,
      labels: { "app.kubernetes.io/part-of": "apex" },
      dns: { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } },
      egressAllowlist: sandbox.egressAllowlist,
      privateRanges: sandbox.privateRanges,
      runtimeClass: sandbox.runtimeClass,
      nodePool: sandbox.nodePool,
      quota: sandboxQuota(configWith(sandbox)),
    };
    const runtime = new SandboxRuntime("apex-sandbox", { image: { repository: "apex/apex-sandbox", tag: "abc123", push: false }, kubernetes: kube });
    return { podTemplate: runtime.podTemplate, image: runtime.imageRef, env: sandboxEnv(runtime) };
  };
}

describe("SandboxRuntime on Kubernetes (prod defaults)", () => {
  let prod: StackRun;
  let bare: StackRun;
  beforeAll(async () => {
    prod = await runStack({ stack: "prod", stackFile: false, program: sandboxProgram(sandboxOf("prod")) });
    bare = await runStack({ stack: "prod", stackFile: false, program: sandboxProgram(sandboxOf("prod", { runtimeClass: null, nodePool: null })) });
  });

  it("the RuntimeClass gvisor/runsc carries the node pool's scheduling", () => {
    expect(prod.one("kubernetes:node.k8s.io/v1:RuntimeClass").inputs).toMatchObject({
      metadata: { name: "gvisor" },
      handler: "runsc",
      scheduling: {
        nodeSelector: { "apex.dev/pool": "sandbox" },
        tolerations: [{ key: "apex.dev/sandbox", operator: "Equal", value: "true", effect: "NoSchedule" }],
      },
    });
  });

  it("the pod template (output and ConfigMap) is the driver's own builder with runtimeClassName, nodeSelector and tolerations", () => {
    const template = JSON.parse(prod.outputs.podTemplate);
    expect(template).toEqual(buildSandboxPod({
      name: "apex-sandbox-template", image: prod.outputs.image, argv: ["python3"],
      runtimeClassName: "gvisor", nodeSelector: prodPool.nodeSelector, tolerations: prodPool.tolerations,
    }));
    expect(template.spec).toMatchObject({
      runtimeClassName: "gvisor",
      nodeSelector: { "apex.dev/pool": "sandbox" },
      tolerations: [{ key: "apex.dev/sandbox", operator: "Equal", value: "true", effect: "NoSchedule" }],
    });
    const cm = prod.one("kubernetes:core/v1:ConfigMap", (r) => r.inputs.metadata.name === "apex-sandbox-pod-template");
    expect(JSON.parse(cm.inputs.data["pod.json"])).toEqual(template);
  });

  it("a ValidatingAdmissionPolicy bound to the sandbox namespace denies Pods without them", () => {
    const policy = prod.one("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy");
    expect(policy.inputs.metadata.name).toBe(SANDBOX_ADMISSION_POLICY);
    expect(policy.inputs.spec).toEqual({
      failurePolicy: "Fail",
      matchConstraints: {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": sandboxSpec.namespace } },
        resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] }],
      },
      validations: sandboxPodValidations({ runtimeClassName: "gvisor", nodePool: prodPool }),
    });
    const binding = prod.one("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding");
    expect(binding.inputs.spec).toEqual({
      policyName: SANDBOX_ADMISSION_POLICY,
      validationActions: ["Deny"],
      matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": sandboxSpec.namespace } } },
    });
  });

  it("the ResourceQuota holds max workers x concurrency sandboxes", () => {
    expect(prod.one("kubernetes:core/v1:ResourceQuota").inputs.spec.hard).toMatchObject({
      pods: "80", "requests.cpu": "80", "limits.cpu": "80", "requests.memory": "40Gi", "limits.memory": "40Gi",
    });
  });

  it("the worker env carries the RuntimeClass and the node pool as JSON the runtime parses", () => {
    expect(prod.outputs.env).toEqual({
      [runtimeEnv.sandboxImage]: "apex/apex-sandbox:abc123",
      [runtimeEnv.sandboxRuntimeClass]: "gvisor",
      [runtimeEnv.sandboxNodeSelector]: '{"apex.dev/pool":"sandbox"}',
      [runtimeEnv.sandboxTolerations]: '[{"key":"apex.dev/sandbox","operator":"Equal","value":"true","effect":"NoSchedule"}]',
    });
    expect(bare.outputs.env).toEqual({ [runtimeEnv.sandboxImage]: "apex/apex-sandbox:abc123" });
  });

  it("without RuntimeClass and node pool: no RuntimeClass, no admission policy, a plain template", () => {
    expect(bare.ofType("kubernetes:node.k8s.io/v1:RuntimeClass")).toEqual([]);
    expect(bare.resources.filter((r) => r.type.includes("admissionregistration"))).toEqual([]);
    const spec = JSON.parse(bare.outputs.podTemplate).spec;
    expect([spec.runtimeClassName, spec.nodeSelector, spec.tolerations]).toEqual([undefined, undefined, undefined]);
  });

  it("the policy pack's sandbox-runtime-class-enforced passes these objects, and fails the stack without RuntimeClass", () => {
    const plain = (run: StackRun) => run.resources.map((r) => ({ type: r.type, name: r.name, urn: r.urn, props: r.inputs }));
    expect(sandboxRuntimeClassEnforced.check(plain(prod))).toEqual([]);
    expect(sandboxRuntimeClassEnforced.check(plain(bare)).map((v) => v.message)).toEqual([
      expect.stringContaining("sets no runtimeClassName"),
      expect.stringContaining("no ValidatingAdmissionPolicy requires a RuntimeClass"),
    ]);
  });

  it("every object validates against the Kubernetes OpenAPI schema (ValidatingAdmissionPolicy v1 included), and so does the template", () => {
    const objects = prod.resources.filter((r) => r.type.startsWith("kubernetes:") && isValidatable(r.type));
    expect(objects.map((r) => r.type.split(":").pop())).toEqual(expect.arrayContaining(["RuntimeClass", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]));
    for (const r of objects) validateKubernetesObject(r);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Pod } = require("kubernetes-models/v1/Pod") as { Pod: new (data: unknown) => { validate(): void } };
    expect(() => new Pod(JSON.parse(prod.outputs.podTemplate)).validate()).not.toThrow();
    const policy = prod.one("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy");
    const broken = { ...policy, inputs: { ...policy.inputs, spec: { ...policy.inputs.spec, failurePolicy: 1 } } };
    expect(() => validateKubernetesObject(broken)).toThrow(/failurePolicy/);
  });
});
