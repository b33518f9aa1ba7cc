import type * as pulumi from "@pulumi/pulumi";

/**
 * The one description of a service that both deploy targets render: `docker` (dev, containers on
 * the local engine) and `kubernetes` (prod). Components describe what they run with a ServiceSpec
 * and hand it to `deployService`; they never write a container or a Deployment themselves.
 */
export interface ServiceSpec {
  /** Container, Service and DNS name; take it from `app/src/contract/services.ts`. */
  readonly name: string;
  /** `app.kubernetes.io/component` label, e.g. "api", "worker", "database", "monitoring". */
  readonly component: string;
  /** Image reference (`repo:tag` or `repo@sha256:...`). */
  readonly image: pulumi.Input<string>;
  readonly command?: pulumi.Input<string>[];
  readonly args?: pulumi.Input<string>[];
  readonly ports: readonly PortSpec[];
  /** Plain environment. Never put a secret here: use `secretEnv`. */
  readonly env?: Readonly<Record<string, pulumi.Input<string>>>;
  /** Env var name -> key in a Secret the stack owns (Kubernetes `secretKeyRef`; Docker: the secret value, kept secret in state). */
  readonly secretEnv?: Readonly<Record<string, SecretRef>>;
  readonly resources: ResourceSpec;
  readonly probes?: { readonly readiness?: ProbeSpec; readonly liveness?: ProbeSpec };
  /** Fixed replicas, or autoscaling (Kubernetes: our CPU HPA, or an external scaler such as KEDA; Docker runs `min` replicas). */
  readonly scaling: { readonly replicas: number } | AutoscalingSpec;
  /**
   * Seconds between SIGTERM and SIGKILL (Kubernetes `terminationGracePeriodSeconds`, Docker stop
   * timeout). Default: the target's (30 s on Kubernetes, 10 s on Docker).
   */
  readonly terminationGracePeriodSeconds?: number;
  /** Services that must be up (healthy) before this one starts: Docker start order; Kubernetes ignores it. */
  readonly dependsOn?: readonly string[];
  readonly volumes?: readonly VolumeSpec[];
  /** Runs as this uid/gid. Default 1000:1000. Images that need another user say so. */
  readonly user?: { readonly uid: number; readonly gid: number };
  /** Default true; the writable paths then come from `volumes` of kind "tmp". */
  readonly readOnlyRootFilesystem?: boolean;
  /** A persistent service (database): Kubernetes StatefulSet with a PVC per `data` volume. */
  readonly stateful?: boolean;
  /** Needs the Kubernetes API (e.g. the worker's sandbox driver). Default false: token not mounted. */
  readonly kubernetesApiAccess?: boolean;
  /** Annotations of the Kubernetes ServiceAccount (e.g. IRSA's `eks.amazonaws.com/role-arn`). Ignored on Docker. */
  readonly serviceAccountAnnotations?: Readonly<Record<string, string>>;
  /** Extra labels on every object of this service. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Extra groups of the container user (e.g. the Docker socket's group for the dev sandbox driver). */
  readonly supplementalGroups?: readonly number[];
  /**
   * Docker health check command (`["CMD", ...]` or `["CMD-SHELL", "..."]`). Default: derived from
   * the readiness probe (http probes use busybox `wget`, which node/distroless images may lack).
   */
  readonly dockerHealthcheck?: readonly string[];
}

export interface PortSpec {
  /** IANA-style port name: "http", "grpc", "metrics", "postgres". */
  readonly name: string;
  readonly port: number;
  /** Docker (dev): publish on 127.0.0.1 at this host port. */
  readonly hostPort?: number;
  /** Prometheus scrapes `/metrics` on this port. */
  readonly metrics?: boolean;
  readonly appProtocol?: "http" | "grpc" | "tcp";
}

export interface SecretRef {
  /** Name of the Secret (Kubernetes) / key of the stack's secret map (Docker). */
  readonly secret: string;
  readonly key: string;
}

export interface ResourceSpec {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu: string; readonly memory: string };
}

export type AutoscalingSpec = CpuAutoscalingSpec | ExternalAutoscalingSpec;

/** An autoscaling/v2 HPA on CPU utilization. */
export interface CpuAutoscalingSpec {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly targetCpuUtilization: number;
}

/**
 * Scaled by a controller outside the service (a KEDA ScaledObject, which owns its own HPA): no HPA
 * is rendered and the workload leaves `spec.replicas` unset; the bounds keep the PDB and spread.
 */
export interface ExternalAutoscalingSpec {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly external: true;
}

export type ProbeSpec =
  | { readonly http: { readonly path: string; readonly port: number }; readonly initialDelaySeconds?: number; readonly periodSeconds?: number }
  | { readonly tcp: { readonly port: number }; readonly initialDelaySeconds?: number; readonly periodSeconds?: number }
  | { readonly exec: { readonly command: string[] }; readonly initialDelaySeconds?: number; readonly periodSeconds?: number };

export type VolumeSpec =
  /** Persistent data: Docker named volume; Kubernetes PVC (StatefulSet volumeClaimTemplate). */
  | { readonly kind: "data"; readonly name: string; readonly mountPath: string; readonly size: string }
  /** Scratch space: Docker tmpfs; Kubernetes emptyDir (memory-backed when `memory`). */
  | { readonly kind: "tmp"; readonly name: string; readonly mountPath: string; readonly sizeLimit?: string; readonly memory?: boolean }
  /** Generated config files: Docker uploads; Kubernetes ConfigMap mounted read-only. Never secrets. */
  | { readonly kind: "config"; readonly name: string; readonly mountPath: string; readonly files: Readonly<Record<string, pulumi.Input<string>>> }
  /** A host path bind-mounted into the container. Docker target only (dev); Kubernetes refuses it. */
  | { readonly kind: "hostPath"; readonly name: string; readonly hostPath: string; readonly mountPath: string; readonly readOnly?: boolean };

export const isAutoscaled = (s: ServiceSpec["scaling"]): s is AutoscalingSpec => "minReplicas" in s;
export const isCpuAutoscaled = (s: ServiceSpec["scaling"]): s is CpuAutoscalingSpec => isAutoscaled(s) && !("external" in s);
