/**
 * Metrics the alerts use that the runtime does not expose: each exporter's names, in one place,
 * so a rule never retypes them (the runtime's own names come from app/src/contract/metrics.ts).
 */

/** postgres_exporter. */
export const exporterMetrics = {
  /** 1 when its last connection to Postgres succeeded. */
  pgUp: "pg_up",
} as const;

/** Series Prometheus writes itself for every scrape target; no /metrics endpoint exposes them. */
export const prometheusMetrics = {
  /** 1 when the target's last scrape succeeded, 0 when it failed. */
  up: "up",
} as const;

/**
 * Kubernetes only: kube-state-metrics (object state from the API server) and the kubelet (volume
 * usage of mounted PVCs). Labels used by the rules: namespace, pod, container, reason,
 * horizontalpodautoscaler, persistentvolumeclaim.
 */
export const kubernetesMetrics = {
  /** kube-state-metrics: container restarts (counter). */
  containerRestarts: "kube_pod_container_status_restarts_total",
  /** kube-state-metrics: 1 for the `reason` of the container's last termination (OOMKilled, Error, Completed, ...). */
  containerLastTerminatedReason: "kube_pod_container_status_last_terminated_reason",
  /** kube-state-metrics: 1 for the `reason` a container is waiting (CrashLoopBackOff, ImagePullBackOff, ...). */
  containerWaitingReason: "kube_pod_container_status_waiting_reason",
  /** kube-state-metrics: replicas an HPA (KEDA's ScaledObjects drive one each) currently runs. */
  hpaCurrentReplicas: "kube_horizontalpodautoscaler_status_current_replicas",
  /** kube-state-metrics: the HPA's maxReplicas. */
  hpaMaxReplicas: "kube_horizontalpodautoscaler_spec_max_replicas",
  /** kube-state-metrics: the HPA's minReplicas. */
  hpaMinReplicas: "kube_horizontalpodautoscaler_spec_min_replicas",
  /** kubelet: bytes used on a mounted PVC's filesystem. */
  volumeUsedBytes: "kubelet_volume_stats_used_bytes",
  /** kubelet: capacity in bytes of a mounted PVC's filesystem. */
  volumeCapacityBytes: "kubelet_volume_stats_capacity_bytes",
} as const;
