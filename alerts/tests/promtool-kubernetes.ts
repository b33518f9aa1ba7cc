/**
 * promtool cases for the Kubernetes-only alerts (alerts/kubernetes-rules.ts): the pod alerts over
 * kube-state-metrics, and ApexPvcFillingUp over the kubelets' volume stats when they are scraped.
 */
import { kubeletJobName } from "../../components/observability/scrape-jobs";
import { kubernetesThresholds, type KubernetesRuleOptions } from "../kubernetes-rules";
import { kubernetesMetrics } from "../sources";
import { series, type Firing, type PromtoolCase } from "./promtool-case";

export function kubernetesCases(firing: Firing, opts: KubernetesRuleOptions): PromtoolCase[] {
  const ns = opts.namespace ?? "apex";
  // With a namespace, the same symptoms in another team's namespace must stay silent.
  const foreign = opts.namespace ? [{ namespace: "other-team" }] : [];
  const ksm = { instance: "kube-state-metrics:8080", job: "kube-state-metrics" };
  // As the kubelet job stores them: `instance` is the node name (node discovery sets it).
  const kubelet = { instance: "ip-10-0-1-23.ec2.internal", job: kubeletJobName };
  const m = kubernetesMetrics;
  const container = (namespace: string, pod: string, name: string) => ({ ...ksm, namespace, pod, container: name });
  const worker = container(ns, "apex-worker-7d9f-abcde", "worker");

  const oom: PromtoolCase = {
    group: {
      name: "ApexPodOOMKilled fires for 10m after an OOMKilled restart; not for other reasons, an old OOM kill, or another namespace",
      interval: "1m",
      input_series: [
        // Restarted at 5m after an OOM kill.
        series(m.containerRestarts, worker, "0x4 1x30"),
        series(m.containerLastTerminatedReason, { ...worker, reason: "OOMKilled" }, "_x5 1x29"),
        // Restarted at 5m after exiting with an error.
        series(m.containerRestarts, container(ns, "apex-api-5c6b-fghij", "api"), "0x4 1x30"),
        series(m.containerLastTerminatedReason, { ...container(ns, "apex-api-5c6b-fghij", "api"), reason: "Error" }, "_x5 1x29"),
        // OOMKilled long ago, no restart since.
        series(m.containerRestarts, container(ns, "postgres-0", "postgres"), "3x34"),
        series(m.containerLastTerminatedReason, { ...container(ns, "postgres-0", "postgres"), reason: "OOMKilled" }, "1x34"),
        ...foreign.flatMap(({ namespace }) => [
          series(m.containerRestarts, container(namespace, "their-app-0", "app"), "0x4 1x30"),
          series(m.containerLastTerminatedReason, { ...container(namespace, "their-app-0", "app"), reason: "OOMKilled" }, "_x5 1x29"),
        ]),
      ],
      alert_rule_test: [
        { eval_time: "4m", alertname: "ApexPodOOMKilled", exp_alerts: [] },
        {
          eval_time: "5m",
          alertname: "ApexPodOOMKilled",
          exp_alerts: [firing("ApexPodOOMKilled", worker, {
            summary: `Container worker of pod ${ns}/apex-worker-7d9f-abcde was OOMKilled`,
            description: `Container worker of pod ${ns}/apex-worker-7d9f-abcde was killed for exceeding its memory limit and restarted (restarts in the last 10 minutes: 1). Work it was doing is retried, but repeated kills crash-loop it.`,
          })],
        },
        { eval_time: "20m", alertname: "ApexPodOOMKilled", exp_alerts: [] },
      ],
    },
  };

  const looping = { ...worker, reason: "CrashLoopBackOff" };
  const crash: PromtoolCase = {
    // CrashLoopBackOff from 2m: firing 15m later, at 17m.
    boundary: { alert: "ApexPodCrashLooping", conditionFrom: "2m" },
    group: {
      name: "ApexPodCrashLooping fires after 15m in CrashLoopBackOff, not for a short loop, another waiting reason or another namespace",
      interval: "1m",
      input_series: [
        series(m.containerWaitingReason, looping, "_x2 1x30"),
        // Waiting for another reason (image pull) all along.
        series(m.containerWaitingReason, { ...container(ns, "redis-0", "redis"), reason: "ImagePullBackOff" }, "1x32"),
        // Looped 3 minutes, then ran: max_over_time holds it 5m more, 8m < 15m.
        series(m.containerWaitingReason, { ...container(ns, "apex-api-5c6b-fghij", "api"), reason: "CrashLoopBackOff" }, "_x2 1x2 _x30"),
        ...foreign.map(({ namespace }) => series(m.containerWaitingReason, { ...container(namespace, "their-app-0", "app"), reason: "CrashLoopBackOff" }, "1x32")),
      ],
      alert_rule_test: [
        { eval_time: "16m", alertname: "ApexPodCrashLooping", exp_alerts: [] },
        {
          eval_time: "17m",
          alertname: "ApexPodCrashLooping",
          exp_alerts: [firing("ApexPodCrashLooping", looping, {
            summary: `Pod ${ns}/apex-worker-7d9f-abcde is crash looping`,
            description: `Container worker of pod ${ns}/apex-worker-7d9f-abcde has been in CrashLoopBackOff for 15 minutes (waiting reason = 1).`,
          })],
        },
      ],
    },
  };

  const hpa = (namespace: string, name: string) => ({ ...ksm, namespace, horizontalpodautoscaler: name });
  const kedaWorkers = hpa(ns, "keda-hpa-apex-worker");
  const hpaSeries = (labels: Record<string, string>, current: string, min: number, max: number) => [
    series(m.hpaCurrentReplicas, labels, current),
    series(m.hpaMinReplicas, labels, `${min}x40`),
    series(m.hpaMaxReplicas, labels, `${max}x40`),
  ];
  const hpaMax: PromtoolCase = {
    // The workers' ScaledObject reaches 10 of 10 at 3m: firing at 18m.
    boundary: { alert: "ApexHpaAtMaxReplicas", conditionFrom: "3m" },
    group: {
      name: "ApexHpaAtMaxReplicas fires after 15m at max replicas (KEDA's HPA too), not one below max or when min == max",
      interval: "1m",
      input_series: [
        ...hpaSeries(kedaWorkers, "5x2 10x37", 2, 10),
        ...hpaSeries(hpa(ns, "apex-api"), "9x40", 2, 10),
        ...hpaSeries(hpa(ns, "fixed"), "3x40", 3, 3),
        ...foreign.flatMap(({ namespace }) => hpaSeries(hpa(namespace, "their-app"), "4x40", 1, 4)),
      ],
      alert_rule_test: [
        { eval_time: "17m", alertname: "ApexHpaAtMaxReplicas", exp_alerts: [] },
        {
          eval_time: "18m",
          alertname: "ApexHpaAtMaxReplicas",
          exp_alerts: [firing("ApexHpaAtMaxReplicas", kedaWorkers, {
            summary: `HPA ${ns}/keda-hpa-apex-worker is at its maximum replicas`,
            description: `HPA ${ns}/keda-hpa-apex-worker has run 10 replicas, its maximum, for 15 minutes: load is above what autoscaling may add (a KEDA ScaledObject's HPA is named keda-hpa-<scaledobject>).`,
          })],
        },
      ],
    },
  };

  const pvc = (namespace: string, name: string) => ({ ...kubelet, namespace, persistentvolumeclaim: name });
  const data = pvc(ns, "data-postgres-0");
  const gib = 1024 ** 3;
  const volume = (labels: Record<string, string>, usedGib: string) => [
    series(m.volumeCapacityBytes, labels, `${100 * gib}x30`),
    series(m.volumeUsedBytes, labels, usedGib.split(" ").map((v) => { const [n, x] = v.split("x"); return `${Number(n) * gib}x${x}`; }).join(" ")),
  ];
  const pvcFull = (): PromtoolCase => ({
    // 86% used from 3m: firing at 8m. 85% exactly never fires.
    boundary: { alert: "ApexPvcFillingUp", conditionFrom: "3m" },
    group: {
      name: `ApexPvcFillingUp fires after 5m above ${kubernetesThresholds.pvcUsedRatio * 100}% used, not at exactly 85% or in another namespace`,
      interval: "1m",
      input_series: [
        ...volume(data, "80x2 86x27"),
        ...volume(pvc(ns, "storage-loki-0"), "85x29"),
        ...foreign.flatMap(({ namespace }) => volume(pvc(namespace, "their-data"), "99x29")),
      ],
      alert_rule_test: [
        { eval_time: "7m", alertname: "ApexPvcFillingUp", exp_alerts: [] },
        {
          eval_time: "8m",
          alertname: "ApexPvcFillingUp",
          exp_alerts: [firing("ApexPvcFillingUp", data, {
            summary: `PVC ${ns}/data-postgres-0 is more than 85% full`,
            description: `The volume of PVC ${ns}/data-postgres-0 is 86% full (threshold 85%). A full volume stops Postgres, Prometheus or Loki from writing.`,
          })],
        },
      ],
    },
  });
  // Only when the kubelets are scraped: otherwise the rule is not rendered.
  return opts.kubeletVolumeStats ? [oom, crash, hpaMax, pvcFull()] : [oom, crash, hpaMax];
}
