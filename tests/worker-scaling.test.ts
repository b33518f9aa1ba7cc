/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Workers scale on work, not CPU, and no rollout cuts off a paid LLM call: prod renders a KEDA
 * ScaledObject on the queue (no worker HPA, no replicas), the KEDA operator may reach Prometheus,
 * and the worker's drain, its env and the pod's grace period all follow apex:llm.requestTimeoutMs.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { metrics, runtimeEnv, services } from "../app/src/contract";
import { runStack, type RecordedResource, type StackRun } from "./harness";

const SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject";
const HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy";

const deployment = (run: StackRun, name: string): RecordedResource => run.one(DEPLOYMENT, (r) => r.inputs.metadata.name === name);
const podSpec = (run: StackRun, name: string): any => deployment(run, name).inputs.spec.template.spec;
const envOf = (run: StackRun, name: string): Record<string, string> =>
  Object.fromEntries(podSpec(run, name).containers[0].env.filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]));
const hpaOf = (run: StackRun, name: string) => run.ofType(HPA).filter((r) => r.inputs.spec.scaleTargetRef.name === name);

describe("prod: KEDA scales the workers (the default)", () => {
  let run: StackRun;
  beforeAll(async () => {
    run = await runStack({ stack: "prod" });
  });

  it("renders one ScaledObject on the worker Deployment with the workers' bounds", () => {
    const [so, ...others] = run.ofType(SCALED_OBJECT);
    expect(others).toEqual([]);
    expect(so!.inputs.apiVersion).toBe("keda.sh/v1alpha1");
    expect(so!.inputs.metadata).toMatchObject({ name: services.worker.name, namespace: "apex" });
    const worker = deployment(run, services.worker.name);
    expect(so!.inputs.spec.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: worker.inputs.metadata.name });
    expect(so!.inputs.spec).toMatchObject({ minReplicaCount: 2, maxReplicaCount: 10, pollingInterval: 15 });
    // Prometheus unreachable: the maximum (work keeps flowing), after 3 failed polls.
    expect(so!.inputs.spec.fallback).toEqual({ failureThreshold: 3, replicas: 10 });
    expect(so!.inputs.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown).toEqual({
      stabilizationWindowSeconds: 300,
      policies: [{ type: "Pods", value: 1, periodSeconds: 60 }],
    });
  });

  it("triggers on the queue through this stack's Prometheus: max() of the shared cluster gauges, threshold = task slots", () => {
    const so = run.one(SCALED_OBJECT, () => true);
    expect(so.inputs.spec.triggers).toHaveLength(1);
    const trigger = so.inputs.spec.triggers[0];
    expect(trigger).toMatchObject({ type: "prometheus", metricType: "AverageValue" });
    expect(trigger.metadata.serverAddress).toBe("http://prometheus.apex.svc:9090");
    // The names come from app/src/contract/metrics.ts; cluster gauges are the same on every replica.
    expect(metrics.queueDepth.name).toBe("apex_queue_depth");
    expect(trigger.metadata.query).toBe(`max(${metrics.queueDepth.name}) + max(${metrics.runningTasks.name})`);
    expect(trigger.metadata.query).not.toMatch(/sum\(/);
    expect(trigger.metadata.threshold).toBe("8"); // apex:workers.concurrency in Pulumi.prod.yaml
    // An empty answer is an error (fallback), not an empty queue (scale to the minimum).
    expect(trigger.metadata.ignoreNullValues).toBe("false");
  });

  it("creates no HPA for the workers and leaves their replicas to KEDA; the API keeps its CPU HPA; the PDB stays", () => {
    expect(hpaOf(run, services.worker.name)).toEqual([]);
    expect(deployment(run, services.worker.name).inputs.spec.replicas).toBeUndefined();
    const [apiHpa] = hpaOf(run, services.api.name);
    expect(apiHpa!.inputs.spec.metrics[0].resource.name).toBe("cpu");
    const pdb = run.one("kubernetes:policy/v1:PodDisruptionBudget", (r) => r.inputs.metadata.name === services.worker.name);
    expect(pdb.inputs.spec.maxUnavailable).toBe(1);
  });

  it("lets the KEDA operator (and nothing else new) reach Prometheus on 9090", () => {
    const ingress = run.one(NETWORK_POLICY, (r) => r.inputs.metadata.name === "keda-operator-to-prometheus-ingress");
    expect(ingress.inputs.spec.podSelector).toEqual({ matchLabels: { "app.kubernetes.io/name": services.prometheus.name } });
    expect(ingress.inputs.spec.ingress).toEqual([{
      from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "keda" } }, podSelector: { matchLabels: { app: "keda-operator" } } }],
      ports: [{ port: 9090, protocol: "TCP" }],
    }]);
    // The other end is outside the namespace: no egress policy of ours.
    expect(run.ofType(NETWORK_POLICY).filter((r) => r.inputs.metadata.name === "keda-operator-to-prometheus-egress")).toEqual([]);
  });

  it("gives the worker pod a grace period longer than the LLM timeout, and the worker the drain derived from it", () => {
    const env = envOf(run, services.worker.name);
    expect(env[runtimeEnv.llmTimeoutMs]).toBe("120000");
    expect(env[runtimeEnv.workerShutdownGraceMs]).toBe("135000");
    const grace = podSpec(run, services.worker.name).terminationGracePeriodSeconds;
    expect(grace).toBe(150);
    expect(grace * 1000).toBeGreaterThan(Number(env[runtimeEnv.workerShutdownGraceMs]));
    // Only workers call LLMs: the API's pod keeps the default grace and carries no drain settings.
    expect(podSpec(run, services.api.name).terminationGracePeriodSeconds).toBeUndefined();
    expect(envOf(run, services.api.name)[runtimeEnv.workerShutdownGraceMs]).toBeUndefined();
  });

  it("probes readiness on /readyz (503 while draining) and liveness on /healthz (200 while draining)", () => {
    const c = podSpec(run, services.worker.name).containers[0];
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: services.worker.metricsPort });
    expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: services.worker.metricsPort });
  });
});

describe("prod with apex:workers.autoscaler cpu, a longer LLM timeout and an external Prometheus", () => {
  let run: StackRun;
  beforeAll(async () => {
    run = await runStack({
      stack: "prod",
      config: { workers: { autoscaler: "cpu" }, llm: { requestTimeoutMs: 300_000 } },
    });
  });

  it("renders the CPU HPA for the workers and no ScaledObject, no KEDA flow", () => {
    expect(run.ofType(SCALED_OBJECT)).toEqual([]);
    const [hpa, ...more] = hpaOf(run, services.worker.name);
    expect(more).toEqual([]);
    expect(hpa!.inputs.spec).toMatchObject({ minReplicas: 2, maxReplicas: 10 });
    expect(hpa!.inputs.spec.metrics[0].resource.target).toEqual({ type: "Utilization", averageUtilization: 70 });
    expect(deployment(run, services.worker.name).inputs.spec.replicas).toBeUndefined();
    expect(run.ofType(NETWORK_POLICY).filter((r) => r.inputs.metadata.name.startsWith("keda-"))).toEqual([]);
  });

  it("derives the drain and the pod's grace from apex:llm.requestTimeoutMs", () => {
    const env = envOf(run, services.worker.name);
    expect(env[runtimeEnv.llmTimeoutMs]).toBe("300000");
    expect(env[runtimeEnv.workerShutdownGraceMs]).toBe("315000");
    expect(podSpec(run, services.worker.name).terminationGracePeriodSeconds).toBe(330);
  });
});

describe("KEDA settings from config", () => {
  it("takes target, fallback, stabilization and an external Prometheus (then no flow to ours)", async () => {
    const run = await runStack({
      stack: "prod",
      config: {
        workers: {
          shutdownGraceSeconds: 600,
          keda: {
            targetTasksPerReplica: 4,
            fallbackReplicas: 3,
            scaleDownStabilizationSeconds: 900,
            pollingIntervalSeconds: 30,
            prometheusAddress: "http://prometheus-operated.monitoring.svc:9090",
          },
        },
      },
    });
    const so = run.one(SCALED_OBJECT, () => true);
    expect(so.inputs.spec.triggers[0].metadata).toMatchObject({ threshold: "4", serverAddress: "http://prometheus-operated.monitoring.svc:9090" });
    expect(so.inputs.spec).toMatchObject({ pollingInterval: 30, fallback: { failureThreshold: 3, replicas: 3 } });
    expect(so.inputs.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds).toBe(900);
    expect(run.ofType(NETWORK_POLICY).filter((r) => r.inputs.metadata.name.startsWith("keda-"))).toEqual([]);
    expect(envOf(run, services.worker.name)[runtimeEnv.workerShutdownGraceMs]).toBe("600000");
    expect(podSpec(run, services.worker.name).terminationGracePeriodSeconds).toBe(615);
  });

  it("refuses a shutdown grace shorter than the LLM timeout plus margin, naming the key", async () => {
    await expect(runStack({ stack: "prod", config: { workers: { shutdownGraceSeconds: 60 } } })).rejects.toThrow(
      /apex:workers\.shutdownGraceSeconds: expected at least 135 \(apex:llm\.requestTimeoutMs 120000 ms plus the drain margin\).*got 60/,
    );
    await expect(runStack({ stack: "prod", config: { workers: { shutdownGraceSeconds: 200 }, llm: { requestTimeoutMs: 190_000 } } })).rejects.toThrow(
      /apex:workers\.shutdownGraceSeconds: expected at least 205/,
    );
  });

  it("refuses a fallback outside the autoscaling bounds, an unknown autoscaler and a sub-second timeout", async () => {
    await expect(runStack({ stack: "prod", config: { workers: { keda: { fallbackReplicas: 11 } } } })).rejects.toThrow(
      /apex:workers\.keda\.fallbackReplicas: expected a count from apex:workers\.autoscaling\.minReplicas \(2\) to maxReplicas \(10\), got 11/,
    );
    await expect(runStack({ stack: "prod", config: { workers: { autoscaler: "memory" } } })).rejects.toThrow(/apex:workers\.autoscaler/);
    await expect(runStack({ stack: "prod", config: { llm: { requestTimeoutMs: 500 } } })).rejects.toThrow(
      /apex:llm\.requestTimeoutMs: expected milliseconds from 1000 to 3600000/,
    );
  });
});

describe("dev (Docker): the same drain", () => {
  it("gives the worker containers the pod's grace as stop timeout and the drain env; no KEDA", async () => {
    const run = await runStack({ stack: "dev" });
    expect(run.ofType(SCALED_OBJECT)).toEqual([]);
    const workers = run.ofType("docker:index/container:Container").filter((c) => String(c.inputs.name).includes(services.worker.name));
    expect(workers).toHaveLength(3);
    for (const w of workers) {
      expect(w.inputs.stopTimeout).toBe(150);
      expect(w.inputs.destroyGraceSeconds).toBe(150);
      expect(w.inputs.envs).toEqual(expect.arrayContaining([`${runtimeEnv.llmTimeoutMs}=120000`, `${runtimeEnv.workerShutdownGraceMs}=135000`]));
    }
  });
});
