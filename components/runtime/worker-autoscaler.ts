import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { metrics, services } from "../../app/src/contract";
import type { ApexConfig } from "../../config";
import type { NetworkFlow } from "../platform/network-flows";
import { KubernetesService, type DeployedService, type Platform, type KubernetesPlatform } from "../service";

export interface WorkerAutoscalerArgs {
  readonly platform: KubernetesPlatform;
  /** Name of the worker Deployment (same namespace); it leaves `spec.replicas` to KEDA's HPA. */
  readonly deploymentName: pulumi.Input<string>;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** Queued + running tasks one worker should carry: its task slots (apex:workers.concurrency) by default. */
  readonly targetTasksPerReplica: number;
  /** How often KEDA queries Prometheus (s). */
  readonly pollingIntervalSeconds: number;
  /** The desired count must stay lower this long before workers are removed (s). */
  readonly scaleDownStabilizationSeconds: number;
  /** Replicas while Prometheus cannot be queried (3 failed polls in a row). Default `maxReplicas`. */
  readonly fallbackReplicas?: number;
  /** Prometheus the operator queries. Default: this stack's Service, `http://prometheus.<namespace>.svc:9090`. */
  readonly prometheusAddress?: string;
  /** Where the KEDA operator runs; it alone queries Prometheus (the metrics adapter asks the operator). */
  readonly operator: { readonly namespace: string; readonly podLabels: Readonly<Record<string, string>> };
}

/** Consecutive failed polls before KEDA switches to the fallback replicas. */
const FALLBACK_AFTER_FAILURES = 3;

/**
 * The work the workers must carry: tasks waiting to be claimed plus tasks running. Both are
 * cluster gauges (every replica reports the same value), so max(), never sum(). Queue depth alone
 * would settle with every slot busy and `target` tasks per replica still queued.
 */
export const workerDemandQuery = `max(${metrics.queueDepth.name}) + max(${metrics.runningTasks.name})`;

/**
 * KEDA scales apex-worker on queued work instead of CPU (workers mostly wait on LLM calls): a
 * ScaledObject (keda.sh/v1alpha1) whose Prometheus trigger asks for ceil(demand / target)
 * replicas, within the workers' bounds. KEDA creates and owns the HPA; the Deployment keeps no
 * `spec.replicas` and its PDB. Needs KEDA >= 2.12 in the cluster (docs/scaling.md).
 *
 * Choices: missing data is an error (`ignoreNullValues: false`), so a Prometheus that lost the
 * series triggers the fallback instead of reading as an empty queue; the fallback holds
 * `fallbackReplicas` (default the maximum: work keeps flowing while blind, within the sandbox
 * quota derived from the maximum); scale-down waits out `scaleDownStabilizationSeconds` and then
 * removes one worker a minute, each draining its in-flight calls, so a queue that empties for a
 * moment does not cost warm workers.
 */
export class WorkerAutoscaler extends pulumi.ComponentResource {
  public readonly scaledObject: k8s.apiextensions.CustomResource;
  /** The KEDA operator to Prometheus (none when Prometheus is outside the stack). */
  public readonly flows: NetworkFlow[];

  constructor(name: string, args: WorkerAutoscalerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:runtime:WorkerAutoscaler", name, {}, opts);
    const { platform } = args;
    const prometheus = services.prometheus;
    const serverAddress = args.prometheusAddress ?? pulumi.interpolate`http://${prometheus.name}.${platform.namespace}.svc:${prometheus.port}`;

    this.scaledObject = new k8s.apiextensions.CustomResource(`${name}-scaledobject`, {
      apiVersion: "keda.sh/v1alpha1",
      kind: "ScaledObject",
      metadata: {
        name: services.worker.name,
        namespace: platform.namespace,
        labels: { ...platform.labels, "app.kubernetes.io/component": "worker" },
      },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: args.deploymentName },
        pollingInterval: args.pollingIntervalSeconds,
        minReplicaCount: args.minReplicas,
        maxReplicaCount: args.maxReplicas,
        fallback: { failureThreshold: FALLBACK_AFTER_FAILURES, replicas: args.fallbackReplicas ?? args.maxReplicas },
        advanced: {
          horizontalPodAutoscalerConfig: {
            name: services.worker.name,
            behavior: {
              scaleDown: {
                stabilizationWindowSeconds: args.scaleDownStabilizationSeconds,
                policies: [{ type: "Pods", value: 1, periodSeconds: 60 }],
              },
            },
          },
        },
        triggers: [{
          type: "prometheus",
          name: "worker-demand",
          metricType: "AverageValue",
          metadata: {
            serverAddress,
            query: workerDemandQuery,
            threshold: String(args.targetTasksPerReplica),
            ignoreNullValues: "false",
          },
        }],
      },
    }, { parent: this, provider: platform.provider });

    this.flows = args.prometheusAddress === undefined
      ? [{
          name: "keda-operator-to-prometheus",
          from: { namespace: args.operator.namespace, podLabels: args.operator.podLabels },
          to: { service: prometheus.name },
          ports: [{ port: prometheus.port }],
        }]
      : [];
    this.registerOutputs({ scaledObject: this.scaledObject.metadata.name });
  }
}

/**
 * The workers' ScaledObject when their spec is externally scaled (runtime.ts: apex:workers.autoscaler
 * "keda" with autoscaling on Kubernetes), else nothing: the spec decides, so the two never disagree.
 */
export function workerAutoscalerFromConfig(config: ApexConfig, platform: Platform, worker: DeployedService): WorkerAutoscaler | undefined {
  const scaling = worker.spec.scaling;
  if (platform.target !== "kubernetes" || !("external" in scaling) || !(worker.resource instanceof KubernetesService)) return undefined;
  const keda = config.workers.keda;
  return new WorkerAutoscaler(`${worker.resourceName}-autoscaler`, {
    platform,
    deploymentName: worker.resource.workload.metadata.name,
    minReplicas: scaling.minReplicas,
    maxReplicas: scaling.maxReplicas,
    targetTasksPerReplica: keda.targetTasksPerReplica ?? config.workers.concurrency,
    pollingIntervalSeconds: keda.pollingIntervalSeconds,
    scaleDownStabilizationSeconds: keda.scaleDownStabilizationSeconds,
    fallbackReplicas: keda.fallbackReplicas,
    prometheusAddress: keda.prometheusAddress,
    operator: { namespace: keda.operatorNamespace, podLabels: keda.operatorPodLabels },
  }, { parent: worker.resource });
}
