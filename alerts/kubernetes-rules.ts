/**
 * Kubernetes-only alerts on the platform's own pods: the kubernetes-mixin essentials
 * (KubePodCrashLooping, KubeHpaMaxedOut, KubePersistentVolumeFillingUp, and an OOMKilled rule on
 * kube_pod_container_status_last_terminated_reason), over kube-state-metrics and, when the stack
 * scrapes them (`kubeletVolumeStats`), the kubelets' volume stats.
 */
import { kubernetesMetrics as k } from "./sources";
import type { AlertRule } from "./types";

export interface KubernetesRuleOptions {
  /**
   * The platform's namespace: the pod alerts match only its pods, HPAs and PVCs (tool sandboxes
   * in their own namespace are left out: a tool that runs out of memory is the tool's failure).
   * Unset: every namespace the scraped kube-state-metrics and kubelets report.
   */
  readonly namespace?: string;
  /**
   * The kubelets' volume stats are scraped (`apex:observability.kubeletVolumeStats`): adds
   * ApexPvcFillingUp. Default false: without that data the rule could never fire, and a rule
   * that cannot fire must not look as if it watched the volumes.
   */
  readonly kubeletVolumeStats?: boolean;
}

export const kubernetesThresholds = {
  /** Share of a PVC's filesystem in use. */
  pvcUsedRatio: 0.85,
} as const;

export function kubernetesRules(opts: KubernetesRuleOptions = {}): AlertRule[] {
  const { namespace } = opts;
  if (namespace !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) {
    throw new Error(`alert rules: namespace "${namespace}" is not a Kubernetes namespace name (RFC 1123 label)`);
  }
  const sel = (...matchers: string[]): string => {
    const all = [...(namespace ? [`namespace="${namespace}"`] : []), ...matchers];
    return all.length ? `{${all.join(", ")}}` : "";
  };
  const pod = "{{ $labels.namespace }}/{{ $labels.pod }}";
  const pods: AlertRule[] = [
    {
      alert: "ApexPodOOMKilled",
      // A restart in the last 10 minutes whose cause was the memory limit. The reason alone stays
      // 1 until the container's next termination, so it would keep firing for days.
      expr:
        `increase(${k.containerRestarts}${sel()}[10m]) > 0` +
        ` and on (namespace, pod, container) ${k.containerLastTerminatedReason}${sel('reason="OOMKilled"')} == 1`,
      severity: "warning",
      summary: `Container {{ $labels.container }} of pod ${pod} was OOMKilled`,
      description:
        `Container {{ $labels.container }} of pod ${pod} was killed for exceeding its memory limit and restarted ` +
        '(restarts in the last 10 minutes: {{ $value | printf "%.0f" }}). Work it was doing is retried, but repeated kills crash-loop it.',
    },
    {
      alert: "ApexPodCrashLooping",
      expr: `max_over_time(${k.containerWaitingReason}${sel('reason="CrashLoopBackOff"')}[5m]) >= 1`,
      for: "15m",
      severity: "warning",
      summary: `Pod ${pod} is crash looping`,
      description: `Container {{ $labels.container }} of pod ${pod} has been in CrashLoopBackOff for 15 minutes (waiting reason = {{ $value }}).`,
    },
    {
      alert: "ApexHpaAtMaxReplicas",
      // An HPA with min == max never scales, so running at its maximum says nothing.
      expr:
        `${k.hpaCurrentReplicas}${sel()} >= ${k.hpaMaxReplicas}${sel()}` +
        ` and ${k.hpaMaxReplicas}${sel()} > ${k.hpaMinReplicas}${sel()}`,
      for: "15m",
      severity: "warning",
      summary: "HPA {{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} is at its maximum replicas",
      description:
        "HPA {{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} has run {{ $value }} replicas, its maximum, for 15 minutes: " +
        "load is above what autoscaling may add (a KEDA ScaledObject's HPA is named keda-hpa-<scaledobject>).",
    },
  ];
  const pvcFillingUp: AlertRule[] = [
    {
      alert: "ApexPvcFillingUp",
      expr: `${k.volumeUsedBytes}${sel()} / ${k.volumeCapacityBytes}${sel()} > ${kubernetesThresholds.pvcUsedRatio}`,
      for: "5m",
      severity: "warning",
      summary: "PVC {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is more than 85% full",
      description:
        "The volume of PVC {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is {{ $value | humanizePercentage }} full " +
        "(threshold 85%). A full volume stops Postgres, Prometheus or Loki from writing.",
    },
  ];
  return opts.kubeletVolumeStats ? [...pods, ...pvcFillingUp] : pods;
}
