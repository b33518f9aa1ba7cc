import { asArray, isRecord, type PlainResource } from "./resource";

/** Kubernetes type tokens the policies inspect. */
export const k8s = {
  deployment: "kubernetes:apps/v1:Deployment",
  statefulSet: "kubernetes:apps/v1:StatefulSet",
  daemonSet: "kubernetes:apps/v1:DaemonSet",
  replicaSet: "kubernetes:apps/v1:ReplicaSet",
  job: "kubernetes:batch/v1:Job",
  cronJob: "kubernetes:batch/v1:CronJob",
  pod: "kubernetes:core/v1:Pod",
  service: "kubernetes:core/v1:Service",
  configMap: "kubernetes:core/v1:ConfigMap",
  namespace: "kubernetes:core/v1:Namespace",
  networkPolicy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
  pdb: "kubernetes:policy/v1:PodDisruptionBudget",
  hpaTypes: [
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:autoscaling/v2beta2:HorizontalPodAutoscaler",
    "kubernetes:autoscaling/v1:HorizontalPodAutoscaler",
    // KEDA creates and owns an HPA for the target of each ScaledObject.
    "kubernetes:keda.sh/v1alpha1:ScaledObject",
  ],
} as const;

/** Workloads that run until stopped (need probes; may be scaled). */
export const longRunningWorkloads: readonly string[] = [k8s.deployment, k8s.statefulSet, k8s.daemonSet, k8s.replicaSet];

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects arrive as untyped JSON. */
export type Json = Record<string, any>;

/** The pod spec inside a workload, or undefined for any other type (or when the spec is absent). */
export function podSpecOf(r: PlainResource): Json | undefined {
  const spec = r.props.spec;
  if (!isRecord(spec)) return undefined;
  switch (r.type) {
    case k8s.pod:
      return spec;
    case k8s.cronJob: {
      const inner = (spec as Json).jobTemplate?.spec?.template?.spec;
      return isRecord(inner) ? inner : undefined;
    }
    case k8s.deployment:
    case k8s.statefulSet:
    case k8s.daemonSet:
    case k8s.replicaSet:
    case k8s.job: {
      const inner = (spec as Json).template?.spec;
      return isRecord(inner) ? inner : undefined;
    }
    default:
      return undefined;
  }
}

export interface NamedContainer {
  readonly kind: "container" | "initContainer";
  readonly name: string;
  readonly spec: Json;
}

/** Containers and init containers of a pod spec, each with a printable name. */
export function containersOf(podSpec: Json, opts: { includeInit: boolean } = { includeInit: true }): NamedContainer[] {
  const list = (kind: NamedContainer["kind"], v: unknown) =>
    asArray(v)
      .filter(isRecord)
      .map((c, i) => ({ kind, name: typeof c.name === "string" ? c.name : `#${i}`, spec: c as Json }));
  return [...list("container", podSpec.containers), ...(opts.includeInit ? list("initContainer", podSpec.initContainers) : [])];
}

export const metadataOf = (r: PlainResource): Json => (isRecord(r.props.metadata) ? r.props.metadata : {});

export const namespaceOf = (r: PlainResource): string => {
  const ns = metadataOf(r).namespace;
  return typeof ns === "string" && ns !== "" ? ns : "default";
};

export const nameOf = (r: PlainResource): string | undefined => {
  const n = metadataOf(r).name;
  return typeof n === "string" ? n : undefined;
};

/** True when every key/value of `selector` is present in `labels` (and the selector is not empty). */
export function selectorMatches(selector: unknown, labels: unknown): boolean {
  if (!isRecord(selector) || !isRecord(labels)) return false;
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}
