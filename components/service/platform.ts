import type * as docker from "@pulumi/docker";
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { Protection } from "../platform/protection";

/**
 * The deploy context a target needs to render a ServiceSpec. Built once by components/platform
 * (DockerPlatform / KubernetesPlatform components) and handed to every `deployService` call.
 */
export type Platform = DockerPlatform | KubernetesPlatform;

interface PlatformBase {
  /** Stack name ("dev", "prod"); `app.kubernetes.io/instance` is `apex-<stack>`. */
  readonly stack: string;
  /** Labels on every object/container of the stack (part-of, managed-by, instance). */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * Services deployed so far, by ServiceSpec name. `deployService` resolves a spec's `dependsOn`
   * here (so dependencies must be deployed first) and registers what it deployed.
   */
  readonly deployed: Map<string, pulumi.Resource>;
  /** The stack's guards (apex:protection), applied to stateful services' workloads (docs/protection.md). */
  readonly protection: Protection;
}

export interface DockerPlatform extends PlatformBase {
  readonly target: "docker";
  readonly provider: docker.Provider;
  /** Name of the user-defined network every container joins (aliases = service names). */
  readonly networkName: pulumi.Input<string>;
  /** Prefix of engine-global names (containers, volumes): `<namespace>-<stack>`. */
  readonly namePrefix: string;
  /** Host address published ports bind to (127.0.0.1: never all interfaces). */
  readonly publishAddress: string;
  /** The stack's secrets: secret name -> key -> value (Pulumi secret Outputs). */
  readonly secrets: Readonly<Record<string, Readonly<Record<string, pulumi.Input<string>>>>>;
}

export interface KubernetesPlatform extends PlatformBase {
  readonly target: "kubernetes";
  readonly provider: k8s.Provider;
  /** Namespace name as an Output of the Namespace resource, so objects wait for it. */
  readonly namespace: pulumi.Output<string>;
  /** Plain namespace name for selectors and DNS names. */
  readonly namespaceName: string;
  /** StorageClass of PVCs; undefined = the cluster default. */
  readonly storageClass?: string;
}
