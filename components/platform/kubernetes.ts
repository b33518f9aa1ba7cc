import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { stackLabels, type KubernetesPlatform } from "../service";
import { keepOptions, unprotected, type Protection } from "./protection";
import { STACK_SECRET_NAME } from "./secrets";

export interface KubernetesPlatformArgs {
  readonly stack: string;
  /** `apex:environment` (dev or prod): the `apex.dev/environment` label on everything the stack creates. */
  readonly environment: string;
  /** Namespace to create; every namespaced object of the stack lives in it. */
  readonly namespace: string;
  /**
   * Kubeconfig contents (`apex:kubeconfig`, or the referenced stack's: clusterFromConfig). Kept a
   * secret in state whatever its source. Default: the ambient kubeconfig.
   */
  readonly kubeconfig?: pulumi.Input<string>;
  /** Kubeconfig context. Default: the current context. */
  readonly context?: string;
  /** StorageClass of PVCs. Default: the cluster's default class. */
  readonly storageClass?: string;
  /** Values of `apex-secrets` (StackSecrets.values). */
  readonly secrets: Readonly<Record<string, pulumi.Input<string>>>;
  /** apex:protection: guards the Namespace (deleting it deletes every PVC in it) and the stack's stateful workloads. Default: none. */
  readonly protection?: Protection;
}

/**
 * The prod deploy context: an explicit Kubernetes provider, the Namespace (Pod Security
 * "restricted" enforced) and the `apex-secrets` Secret, which workloads consume by reference only.
 */
export class KubernetesPlatformResources extends pulumi.ComponentResource {
  public readonly provider: k8s.Provider;
  public readonly namespace: k8s.core.v1.Namespace;
  public readonly secret: k8s.core.v1.Secret;
  public readonly platform: KubernetesPlatform;

  constructor(name: string, args: KubernetesPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:platform:KubernetesPlatform", name, {}, opts);
    const labels = stackLabels(args.stack, args.environment);
    const protection = args.protection ?? unprotected;
    this.provider = new k8s.Provider(`${name}-provider`, {
      kubeconfig: args.kubeconfig === undefined ? undefined : pulumi.secret(args.kubeconfig),
      context: args.context,
      enableServerSideApply: true,
    }, { parent: this });
    const child = { parent: this, provider: this.provider };
    this.namespace = new k8s.core.v1.Namespace(`${name}-namespace`, {
      metadata: {
        name: args.namespace,
        labels: {
          ...labels,
          "pod-security.kubernetes.io/enforce": "restricted",
          "pod-security.kubernetes.io/enforce-version": "latest",
          "pod-security.kubernetes.io/warn": "restricted",
        },
      },
    }, { ...child, ...keepOptions(protection) });
    this.secret = new k8s.core.v1.Secret(`${name}-secret`, {
      metadata: { name: STACK_SECRET_NAME, namespace: this.namespace.metadata.name, labels },
      type: "Opaque",
      stringData: Object.fromEntries(Object.entries(args.secrets).map(([k, v]) => [k, pulumi.secret(v)])),
    }, child);
    this.platform = {
      target: "kubernetes",
      stack: args.stack,
      labels,
      deployed: new Map(),
      provider: this.provider,
      namespace: this.namespace.metadata.name,
      namespaceName: args.namespace,
      storageClass: args.storageClass,
      protection,
    };
    this.registerOutputs({ namespace: this.namespace.metadata.name });
  }
}
