/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-require-imports */
import { beforeAll, describe, expect, it } from "vitest";
import { runtimeEnv, sandboxSpec, services } from "../app/src/contract";
import { buildSandboxPod } from "../app/src/sandbox/pod-template";
import { sandboxDockerSettings } from "../components/sandbox/docker-settings";
import { allowlistEgressRules, cidrCovers } from "../components/sandbox/egress";
import { sandboxRepository } from "../components/registry/from-config";
import { sandboxRuntimeClassEnforced } from "../policy/rules/sandbox";
import { isDefaultDenyEgress } from "../policy/rules/workloads";
import { MOCK_AWS, runStack, type StackRun } from "./harness";
import { isValidatable, validateKubernetesObject } from "./harness/kubernetes-schema";

let prod: StackRun;
let prodOpen: StackRun;
let prodBare: StackRun;
let dev: StackRun;
beforeAll(async () => {
  prod = await runStack({ stack: "prod" });
  prodOpen = await runStack({
    stack: "prod",
    config: {
      sandbox: {
        egressAllowlist: [{ cidr: "0.0.0.0/0", ports: [443] }, { cidr: "140.82.112.0/20" }],
      },
    },
  });
  prodBare = await runStack({ stack: "prod", config: { sandbox: { runtimeClass: null, nodePool: null } } });
  dev = await runStack({ stack: "dev" });
});

/** The prod default sandbox node pool (config/sandbox.ts). */
const pool = {
  nodeSelector: { "apex.dev/pool": "sandbox" },
  tolerations: [{ key: "apex.dev/sandbox", operator: "Equal", value: "true", effect: "NoSchedule" }],
} as const;

const inSandbox = (run: StackRun, type: string) => run.ofType(type).filter((r) => r.inputs.metadata?.namespace === sandboxSpec.namespace);

describe("sandbox namespace (kubernetes)", () => {
  it("is apex-sandbox with Pod Security restricted enforced, audited and warned", () => {
    const ns = prod.one("kubernetes:core/v1:Namespace", (r) => r.inputs.metadata.name === sandboxSpec.namespace);
    expect(ns.inputs.metadata.labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "restricted",
      "pod-security.kubernetes.io/audit": "restricted",
      "pod-security.kubernetes.io/warn": "restricted",
    });
  });

  it("denies all ingress and egress by default, with no allowlist unless configured", () => {
    const policies = inSandbox(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy");
    expect(policies.map((p) => p.inputs.spec)).toEqual([{ podSelector: {}, policyTypes: ["Ingress", "Egress"] }]);
    expect(isDefaultDenyEgress({ type: policies[0]!.type, name: "x", props: policies[0]!.inputs })).toBe(true);
  });

  it("an allowlist adds DNS to kube-dns and the CIDRs minus private ranges and the metadata endpoint", () => {
    const allow = inSandbox(prodOpen, "kubernetes:networking.k8s.io/v1:NetworkPolicy").find((p) => p.inputs.metadata.name === "egress-allowlist");
    expect(allow?.inputs.spec.podSelector).toEqual({});
    const [dns, anywhere443, github] = allow?.inputs.spec.egress as any[];
    expect(dns).toEqual({
      to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
      ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }],
    });
    expect(anywhere443.ports).toEqual([{ protocol: "TCP", port: 443 }]);
    expect(anywhere443.to[0].ipBlock.except).toEqual(expect.arrayContaining(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"]));
    // The API server rejects an `except` outside its `cidr`: a public /20 gets none.
    expect(github).toEqual({ to: [{ ipBlock: { cidr: "140.82.112.0/20" } }] });
  });

  it("never allows a private destination, and always cuts out the metadata endpoint", () => {
    expect(() => allowlistEgressRules([{ cidr: "10.1.2.3/32" }], ["10.0.0.0/8"])).toThrow(/apex:sandbox.egressAllowlist\[0\].cidr: .*10\.0\.0\.0\/8/);
    const [rule] = allowlistEgressRules([{ cidr: "128.0.0.0/1" }, { cidr: "0.0.0.0/0" }], ["10.0.0.0/8"]).slice(1);
    expect(rule?.to).toEqual([{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "169.254.169.254/32"] } }]);
    expect(cidrCovers("169.254.0.0/16", "169.254.169.254/32")).toBe(true);
    expect(cidrCovers("10.0.0.0/8", "11.0.0.0/8")).toBe(false);
  });

  it("caps the namespace with a ResourceQuota for max workers x concurrency (10 x 8) and the contract's LimitRange (default = max = 1 CPU / 512Mi)", () => {
    const [quota] = inSandbox(prod, "kubernetes:core/v1:ResourceQuota");
    expect(quota?.inputs.spec.hard).toEqual({
      pods: "80", "requests.cpu": "80", "limits.cpu": "80", "requests.memory": "40Gi", "limits.memory": "40Gi",
      services: "0", "services.loadbalancers": "0", "services.nodeports": "0", persistentvolumeclaims: "0",
    });
    const [limits] = inSandbox(prod, "kubernetes:core/v1:LimitRange");
    const limit = { cpu: sandboxSpec.cpu.kubernetes, memory: sandboxSpec.memory.kubernetes };
    expect(limit).toEqual({ cpu: "1", memory: "512Mi" });
    expect(limits?.inputs.spec.limits).toEqual([
      { type: "Container", default: limit, defaultRequest: limit, max: limit },
      { type: "Pod", max: limit },
    ]);
  });

  it("prod: the gVisor RuntimeClass scheduled on the sandbox node pool, the template on it, an admission policy requiring both", () => {
    expect(prod.one("kubernetes:node.k8s.io/v1:RuntimeClass").inputs).toMatchObject({
      metadata: { name: "gvisor" },
      handler: "runsc",
      scheduling: { nodeSelector: pool.nodeSelector, tolerations: pool.tolerations },
    });
    expect(JSON.parse(prod.outputs.sandbox.podTemplate).spec).toMatchObject({ runtimeClassName: "gvisor", ...pool });
    expect(prod.outputs.sandbox.runtimeClassName).toBe("gvisor");
    const vap = prod.one("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy");
    expect(vap.inputs.spec.validations.map((v: any) => v.expression)).toEqual([
      'has(object.spec.runtimeClassName) && object.spec.runtimeClassName == "gvisor"',
      expect.stringContaining('object.spec.nodeSelector["apex.dev/pool"] == "sandbox"'),
      expect.stringContaining('t.key == "apex.dev/sandbox"'),
    ]);
    expect(prod.one("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding").inputs.spec).toMatchObject({
      policyName: vap.inputs.metadata.name,
      validationActions: ["Deny"],
    });
  });

  it("the policy pack's sandbox-runtime-class-enforced passes prod and fails the stack without RuntimeClass", () => {
    const plain = (run: StackRun) => run.resources.map((r) => ({ type: r.type, name: r.name, urn: r.urn, props: r.inputs }));
    expect(sandboxRuntimeClassEnforced.check(plain(prod))).toEqual([]);
    expect(sandboxRuntimeClassEnforced.check(plain(prodBare)).map((v) => v.message)).toEqual([
      expect.stringContaining("sets no runtimeClassName"),
      expect.stringContaining("no ValidatingAdmissionPolicy requires a RuntimeClass"),
    ]);
  });

  it("a stack that sets runtimeClass and nodePool to null gets neither, and no admission policy", () => {
    expect(prodBare.ofType("kubernetes:node.k8s.io/v1:RuntimeClass")).toEqual([]);
    expect(prodBare.resources.filter((r) => r.type.includes(":admissionregistration.k8s.io/"))).toEqual([]);
    const spec = JSON.parse(prodBare.outputs.sandbox.podTemplate).spec;
    expect([spec.runtimeClassName, spec.nodeSelector, spec.tolerations]).toEqual([undefined, undefined, undefined]);
  });

  it("exports the worker driver's own Pod manifest, with the pushed sandbox image digest", () => {
    const image = prod.outputs.sandbox.image as string;
    expect(image).toMatch(/\/apex\/apex-sandbox@sha256:[0-9a-f]{64}$/);
    const template = JSON.parse(prod.outputs.sandbox.podTemplate);
    expect(template).toEqual(buildSandboxPod({ name: "apex-sandbox-template", image, argv: ["python3"], runtimeClassName: "gvisor", ...pool }));
    const [cm] = inSandbox(prod, "kubernetes:core/v1:ConfigMap");
    expect(JSON.parse(cm!.inputs.data["pod.json"])).toEqual(template);
    const spec = template.spec;
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.securityContext.runAsUser).toBe(1000);
    expect(spec.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    expect(spec.containers[0].resources.limits).toEqual({ cpu: "1", memory: "512Mi" });
    expect(spec.volumes).toEqual([{ name: "tmp", emptyDir: { medium: "Memory", sizeLimit: sandboxSpec.tmpfs.kubernetes } }]);
  });

  it("builds and pushes the sandbox image from sandbox/Dockerfile beside the runtime image", () => {
    const img = prod.one("docker:index/image:Image", (r) => r.inputs.build.dockerfile === "sandbox/Dockerfile");
    const registry = `${MOCK_AWS.accountId}.dkr.ecr.${MOCK_AWS.region}.amazonaws.com`;
    expect(img.inputs).toMatchObject({ skipPush: false, build: { context: "sandbox", platform: "linux/amd64" } });
    expect(img.inputs.imageName).toMatch(new RegExp(`^${registry.replace(/\./g, "\\.")}/apex/apex-sandbox:[0-9a-f]{40}$`));
    expect(img.inputs.registry).toMatchObject({ server: registry, username: "AWS" });
    expect(img.plainInputs.registry).toBe("[secret]");
    expect(sandboxRepository("apex/runtime")).toBe("apex/apex-sandbox");
    expect(sandboxRepository("runtime")).toBe("apex-sandbox");
  });
});

describe("Kubernetes schema", () => {
  it("every sandbox and RBAC object (allowlist and RuntimeClass included) and the pod template are valid objects", () => {
    const mine = prodOpen.resources.filter((r) => r.type.startsWith("kubernetes:") && isValidatable(r.type) &&
      (r.inputs.metadata?.namespace === sandboxSpec.namespace || r.inputs.metadata?.name === sandboxSpec.namespace ||
        r.type.includes(":rbac.authorization.k8s.io/") || r.type.includes(":node.k8s.io/") || r.type.includes(":admissionregistration.k8s.io/")));
    expect(new Set(mine.map((r) => r.type.split(":").pop()))).toEqual(new Set(["Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "RuntimeClass", "ConfigMap", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]));
    for (const r of mine) validateKubernetesObject(r);
    const { Pod } = require("kubernetes-models/v1/Pod") as { Pod: new (data: unknown) => { validate(): void } };
    expect(() => new Pod(JSON.parse(prodOpen.outputs.sandbox.podTemplate)).validate()).not.toThrow();
    expect(() => new Pod({ ...JSON.parse(prodOpen.outputs.sandbox.podTemplate), spec: { containers: [{ name: 1 }] } }).validate()).toThrow();
  });
});

describe("the workers know the stack's sandbox image", () => {
  const workerEnv = (run: StackRun): Record<string, string> => {
    const d = run.one("kubernetes:apps/v1:Deployment", (r) => r.inputs.metadata.name === services.worker.name);
    return Object.fromEntries((d.inputs.spec.template.spec.containers[0].env as any[]).filter((e) => "value" in e).map((e) => [e.name, e.value]));
  };

  it("prod: APEX_SANDBOX_IMAGE is the pushed digest; the RuntimeClass and node pool only when configured", () => {
    expect(workerEnv(prod)[runtimeEnv.sandboxImage]).toBe(prod.outputs.sandbox.image);
    expect(workerEnv(prod)[runtimeEnv.sandboxRuntimeClass]).toBe("gvisor");
    expect(JSON.parse(workerEnv(prod)[runtimeEnv.sandboxNodeSelector]!)).toEqual(pool.nodeSelector);
    expect(JSON.parse(workerEnv(prod)[runtimeEnv.sandboxTolerations]!)).toEqual(pool.tolerations);
    const bare = workerEnv(prodBare);
    expect([bare[runtimeEnv.sandboxRuntimeClass], bare[runtimeEnv.sandboxNodeSelector], bare[runtimeEnv.sandboxTolerations]]).toEqual([undefined, undefined, undefined]);
  });

  it("dev: every worker container gets the locally built image", () => {
    const workers = dev.ofType("docker:index/container:Container").filter((c) => c.inputs.networksAdvanced?.[0]?.aliases?.includes(services.worker.name));
    expect(workers).toHaveLength(3);
    for (const w of workers) expect(w.inputs.envs).toContain(`${runtimeEnv.sandboxImage}=apex/apex-sandbox:dev`);
  });
});

describe("sandbox on the docker target (dev)", () => {
  it("builds the image locally on the stack's engine and creates no Kubernetes objects", () => {
    const img = dev.one("docker:index/image:Image", (r) => r.inputs.build.dockerfile === "sandbox/Dockerfile");
    expect(img.inputs).toMatchObject({ imageName: "apex/apex-sandbox:dev", skipPush: true });
    expect(dev.outputs.sandbox.image).toBe("apex/apex-sandbox:dev");
    expect(dev.outputs.sandbox.namespace).toBeUndefined();
    expect(dev.outputs.sandbox.podTemplate).toBeUndefined();
  });

  it("exports the engine settings the worker's docker driver applies (its own builder), all from the contract", () => {
    const settings = dev.outputs.sandbox.dockerSettings;
    expect(settings).toEqual(sandboxDockerSettings("apex/apex-sandbox:dev"));
    expect(settings).toMatchObject({
      User: "1000:1000",
      WorkingDir: "/sandbox",
      HostConfig: {
        NetworkMode: "none",
        ReadonlyRootfs: true,
        Memory: 512 * 1024 * 1024,
        MemorySwap: 512 * 1024 * 1024,
        NanoCpus: 1e9,
        PidsLimit: 100,
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        Privileged: false,
        IpcMode: "private",
      },
      NetworkDisabled: true,
    });
    expect(settings.HostConfig.Tmpfs).toEqual({ "/tmp": `rw,noexec,nosuid,nodev,size=${64 * 1024 * 1024}` });
  });
});

describe("sandbox/Dockerfile", () => {
  it("is the seed's image: python:3.11-slim, USER 1000:1000, WORKDIR /sandbox", async () => {
    const { readFileSync } = await import("node:fs");
    const lines = readFileSync(`${__dirname}/../sandbox/Dockerfile`, "utf8").split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));
    expect(lines).toEqual(["FROM python:3.11-slim", "USER 1000:1000", `WORKDIR ${sandboxSpec.workdir}`, "COPY --chown=1000:1000 . ."]);
  });
});
