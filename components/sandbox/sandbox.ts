import * as docker from "@pulumi/docker";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { sandboxSpec, type SandboxPlacement } from "../../app/src/contract";
import { buildSandboxPod } from "../../app/src/sandbox/pod-template";
import { keepOptions, unprotected, type Protection } from "../platform/protection";
import type { RegistryCredentials } from "../registry/ecr";
import { pushRegistry } from "../runtime/image";
import { SANDBOX_ADMISSION_POLICY, sandboxPodValidations } from "./admission";
import { sandboxDockerSettings, type SandboxDockerSettings } from "./docker-settings";
import { allowlistEgressRules, dnsEgressRule, type EgressAllowRule } from "./egress";

/** Build context and Dockerfile of the sandbox image, relative to the project directory. */
export const SANDBOX_CONTEXT = "sandbox";
export const SANDBOX_DOCKERFILE = "sandbox/Dockerfile";
/** ConfigMap (in the sandbox namespace) holding the Pod manifest the worker's driver creates. */
export const POD_TEMPLATE_CONFIGMAP = "apex-sandbox-pod-template";
export const POD_TEMPLATE_KEY = "pod.json";

export interface SandboxImageArgs {
  /** Repository without tag: "apex/apex-sandbox", an ECR repository URL or "ghcr.io/acme/apex-sandbox". */
  readonly repository: pulumi.Input<string>;
  /** The runtime image's tag (the git commit in prod). */
  readonly tag: string;
  /** Push and reference the pushed digest (prod). */
  readonly push: boolean;
  readonly platform?: string;
  readonly registry?: RegistryCredentials;
  /** Engine to build on; default the ambient one. */
  readonly provider?: docker.Provider;
}

export interface SandboxKubernetesArgs {
  readonly provider: k8s.Provider;
  /** apex:protection on the sandbox Namespace (docs/protection.md). Default: none. */
  readonly protection?: Protection;
  /** The stack's recommended labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** Where the cluster DNS runs (allowed only when there is an egress allowlist). */
  readonly dns: { readonly namespace: string; readonly podLabels: Readonly<Record<string, string>> };
  /** Default: none; every egress stays denied. */
  readonly egressAllowlist: readonly EgressAllowRule[];
  /** Ranges no allowlist rule may reach; always cut out of the allowed CIDRs. */
  readonly privateRanges: readonly string[];
  /** gVisor-style RuntimeClass for sandbox Pods; null: the node's default runtime. */
  readonly runtimeClass: { readonly name: string; readonly handler: string } | null;
  /** The dedicated, tainted node pool sandbox Pods run on (its kubelet sets podPidsLimit); null: any node. */
  readonly nodePool: SandboxPlacement | null;
  /** The namespace's ResourceQuota (config/sandbox.ts `sandboxQuota`: max workers x concurrency by default). */
  readonly quota: { readonly pods: number; readonly cpu: string; readonly memory: string };
}

export interface SandboxRuntimeArgs {
  readonly image: SandboxImageArgs;
  /** Kubernetes target: the namespace and its guard rails. Docker target: omit. */
  readonly kubernetes?: SandboxKubernetesArgs;
}

/**
 * The tool sandbox runtime. Both targets: the image from sandbox/Dockerfile. Kubernetes: the
 * `apex-sandbox` namespace (Pod Security restricted: enforce, audit, warn), default-deny
 * NetworkPolicy plus the optional egress allowlist, ResourceQuota, LimitRange at the contract's
 * limits, the optional RuntimeClass, and the sandbox Pod manifest as a ConfigMap and output.
 * Docker: the engine settings the worker applies, as an output.
 */
export class SandboxRuntime extends pulumi.ComponentResource {
  public readonly image: docker.Image;
  /** What sandboxes run: the pushed digest, or the local `repo:tag`. */
  public readonly imageRef: pulumi.Output<string>;
  /** Kubernetes target: the sandbox Pod manifest (JSON) the kubernetes driver creates per run. */
  public readonly podTemplate?: pulumi.Output<string>;
  /** Docker target: engine settings of a sandbox container. */
  public readonly dockerSettings?: pulumi.Output<SandboxDockerSettings>;
  public readonly runtimeClassName?: string;
  /** Kubernetes target: the sandbox node pool's selector and tolerations, when there is one. */
  public readonly nodePool?: SandboxPlacement;
  /** Kubernetes target: the namespace and its guard rails. */
  public readonly kubernetes?: SandboxKubernetesResources;

  constructor(name: string, args: SandboxRuntimeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:sandbox:SandboxRuntime", name, {}, opts);
    const img = args.image;
    if (img.push && !img.registry) throw new Error("SandboxRuntime: push needs a registry");
    this.image = new docker.Image(`${name}-image`, {
      imageName: pulumi.interpolate`${img.repository}:${img.tag}`,
      build: { context: SANDBOX_CONTEXT, dockerfile: SANDBOX_DOCKERFILE, platform: img.platform, builderVersion: "BuilderBuildKit" },
      skipPush: !img.push,
      registry: pushRegistry(img.push, img.registry),
    }, { parent: this, provider: img.provider });
    this.imageRef = img.push ? this.image.repoDigest : this.image.imageName;

    const kube = args.kubernetes;
    if (kube === undefined) {
      this.dockerSettings = this.imageRef.apply(sandboxDockerSettings);
    } else {
      const runtimeClassName = kube.runtimeClass?.name;
      this.runtimeClassName = runtimeClassName;
      this.nodePool = kube.nodePool ?? undefined;
      const placement = { runtimeClassName, nodeSelector: kube.nodePool?.nodeSelector, tolerations: kube.nodePool?.tolerations };
      this.podTemplate = this.imageRef.apply((image) =>
        JSON.stringify(buildSandboxPod({ name: "apex-sandbox-template", image, argv: ["python3"], ...placement }), null, 2));
      this.kubernetes = this.renderKubernetes(name, kube, this.podTemplate);
    }

    this.registerOutputs({ imageRef: this.imageRef, podTemplate: this.podTemplate, dockerSettings: this.dockerSettings });
  }

  private renderKubernetes(name: string, kube: SandboxKubernetesArgs, podTemplate: pulumi.Output<string>): SandboxKubernetesResources {
    const child = { parent: this, provider: kube.provider };
    const labels = { ...kube.labels, "app.kubernetes.io/name": sandboxSpec.image, "app.kubernetes.io/component": "sandbox" };
    const ns = new k8s.core.v1.Namespace(`${name}-namespace`, {
      metadata: {
        name: sandboxSpec.namespace,
        labels: {
          ...labels,
          "pod-security.kubernetes.io/enforce": "restricted",
          "pod-security.kubernetes.io/enforce-version": "latest",
          "pod-security.kubernetes.io/audit": "restricted",
          "pod-security.kubernetes.io/audit-version": "latest",
          "pod-security.kubernetes.io/warn": "restricted",
          "pod-security.kubernetes.io/warn-version": "latest",
        },
      },
    }, { ...child, ...keepOptions(kube.protection ?? unprotected) });
    const namespace = ns.metadata.name;

    const networkPolicies = [new k8s.networking.v1.NetworkPolicy(`${name}-default-deny`, {
      metadata: { name: "default-deny", namespace, labels },
      spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    }, child)];
    if (kube.egressAllowlist.length > 0) {
      networkPolicies.push(new k8s.networking.v1.NetworkPolicy(`${name}-egress-allowlist`, {
        metadata: { name: "egress-allowlist", namespace, labels },
        spec: {
          podSelector: {},
          policyTypes: ["Egress"],
          egress: [dnsEgressRule(kube.dns), ...allowlistEgressRules(kube.egressAllowlist, kube.privateRanges)],
        },
      }, child));
    }

    const quota = new k8s.core.v1.ResourceQuota(`${name}-quota`, {
      metadata: { name: "apex-sandbox", namespace, labels },
      spec: {
        hard: {
          pods: String(kube.quota.pods),
          "requests.cpu": kube.quota.cpu,
          "limits.cpu": kube.quota.cpu,
          "requests.memory": kube.quota.memory,
          "limits.memory": kube.quota.memory,
          // Sandboxes are bare Pods: nothing in this namespace may expose or persist anything.
          services: "0",
          "services.loadbalancers": "0",
          "services.nodeports": "0",
          persistentvolumeclaims: "0",
        },
      },
    }, child);

    const limit = { cpu: sandboxSpec.cpu.kubernetes, memory: sandboxSpec.memory.kubernetes };
    const limitRange = new k8s.core.v1.LimitRange(`${name}-limits`, {
      metadata: { name: "apex-sandbox", namespace, labels },
      spec: {
        limits: [
          { type: "Container", default: limit, defaultRequest: limit, max: limit },
          { type: "Pod", max: limit },
        ],
      },
    }, child);

    // Scheduling: the RuntimeClass admission plugin adds the pool's selector and tolerations to
    // every Pod naming the class, so runsc Pods land only where runsc is installed.
    const runtimeClass = kube.runtimeClass
      ? new k8s.node.v1.RuntimeClass(`${name}-runtime-class`, {
        metadata: { name: kube.runtimeClass.name, labels },
        handler: kube.runtimeClass.handler,
        scheduling: kube.nodePool
          ? { nodeSelector: { ...kube.nodePool.nodeSelector }, tolerations: kube.nodePool.tolerations.map((t) => ({ ...t })) }
          : undefined,
      }, child)
      : undefined;

    const admission = this.renderAdmission(name, kube, labels, child);

    const podTemplateConfigMap = new k8s.core.v1.ConfigMap(`${name}-pod-template`, {
      metadata: { name: POD_TEMPLATE_CONFIGMAP, namespace, labels },
      data: { [POD_TEMPLATE_KEY]: podTemplate },
    }, child);
    return { namespace: ns, networkPolicies, quota, limitRange, runtimeClass, podTemplateConfigMap, ...admission };
  }

  /** The admission policy refusing sandbox Pods without the RuntimeClass and node pool (admission.ts); none when neither is configured. */
  private renderAdmission(
    name: string,
    kube: SandboxKubernetesArgs,
    labels: Readonly<Record<string, string>>,
    child: pulumi.CustomResourceOptions,
  ): Pick<SandboxKubernetesResources, "admissionPolicy" | "admissionPolicyBinding"> {
    const validations = sandboxPodValidations({ runtimeClassName: kube.runtimeClass?.name, nodePool: kube.nodePool ?? undefined });
    if (validations.length === 0) return {};
    const inSandboxNamespace = { matchLabels: { "kubernetes.io/metadata.name": sandboxSpec.namespace } };
    const admissionPolicy = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(`${name}-admission-policy`, {
      metadata: { name: SANDBOX_ADMISSION_POLICY, labels },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: {
          namespaceSelector: inSandboxNamespace,
          resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] }],
        },
        validations,
      },
    }, child);
    const admissionPolicyBinding = new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(`${name}-admission-binding`, {
      metadata: { name: SANDBOX_ADMISSION_POLICY, labels },
      spec: {
        policyName: admissionPolicy.metadata.name,
        validationActions: ["Deny"],
        matchResources: { namespaceSelector: inSandboxNamespace },
      },
    }, child);
    return { admissionPolicy, admissionPolicyBinding };
  }
}

export interface SandboxKubernetesResources {
  readonly namespace: k8s.core.v1.Namespace;
  readonly networkPolicies: readonly k8s.networking.v1.NetworkPolicy[];
  readonly quota: k8s.core.v1.ResourceQuota;
  readonly limitRange: k8s.core.v1.LimitRange;
  readonly runtimeClass?: k8s.node.v1.RuntimeClass;
  readonly podTemplateConfigMap: k8s.core.v1.ConfigMap;
  /** Refuses sandbox Pods without the RuntimeClass / node pool; absent when neither is configured. */
  readonly admissionPolicy?: k8s.admissionregistration.v1.ValidatingAdmissionPolicy;
  readonly admissionPolicyBinding?: k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding;
}
