import { minWorkerShutdownGraceMs } from "../app/src/contract/worker-drain";
import { describeGiven, type ConfigProblem } from "./errors";
import type { ApexConfig } from "./index";

/** Rules that span keys, checked once every key parsed on its own. */
export function coreChecks(c: ApexConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const name of ["api", "workers"] as const) {
    const a = c[name].autoscaling;
    if (a && a.maxReplicas < a.minReplicas) {
      problems.push({
        key: `apex:${name}.autoscaling.maxReplicas`,
        message: `expected at least minReplicas (${a.minReplicas}), got ${a.maxReplicas}`,
      });
    }
  }
  problems.push(...workerScalingChecks(c));
  if (c.target === "kubernetes") {
    for (const field of ["host", "grpcHost"] as const) {
      if (c.ingress[field] === undefined) {
        problems.push({ key: `apex:ingress.${field}`, message: `required when apex:target is "kubernetes": expected a DNS host name, got nothing` });
      }
    }
    if (c.ingress.host !== undefined && c.ingress.host === c.ingress.grpcHost) {
      problems.push({
        key: "apex:ingress.grpcHost",
        message: `expected a host different from apex:ingress.host (gRPC needs its own Ingress), got ${describeGiven(c.ingress.grpcHost)}`,
      });
    }
  }
  if (c.target === "kubernetes" && c.workers.sandboxDriver === "kubernetes" && c.network.apiServerCidrs.length === 0) {
    problems.push({
      key: "apex:network.apiServerCidrs",
      message: 'required when apex:workers.sandboxDriver is "kubernetes" (workers create sandbox Pods through the API server): expected a list of IPv4 CIDRs, got []',
    });
  }
  const driverTarget = { docker: "docker", kubernetes: "kubernetes", local: undefined }[c.workers.sandboxDriver];
  if (driverTarget !== undefined && driverTarget !== c.target) {
    problems.push({
      key: "apex:workers.sandboxDriver",
      message: `expected "local" or "${c.target}" on target "${c.target}", got ${describeGiven(c.workers.sandboxDriver)}`,
    });
  }
  return problems;
}

/** The KEDA fallback within the autoscaling bounds; a shutdown grace no shorter than an LLM call. */
function workerScalingChecks(c: ApexConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const { autoscaling, keda, shutdownGraceSeconds } = c.workers;
  const fallback = keda.fallbackReplicas;
  if (autoscaling && fallback !== undefined && (fallback < autoscaling.minReplicas || fallback > autoscaling.maxReplicas)) {
    problems.push({
      key: "apex:workers.keda.fallbackReplicas",
      message: `expected a count from apex:workers.autoscaling.minReplicas (${autoscaling.minReplicas}) to maxReplicas (${autoscaling.maxReplicas}), got ${fallback}`,
    });
  }
  const minGraceSeconds = Math.ceil(minWorkerShutdownGraceMs(c.llm.requestTimeoutMs) / 1000);
  if (shutdownGraceSeconds !== undefined && shutdownGraceSeconds < minGraceSeconds) {
    problems.push({
      key: "apex:workers.shutdownGraceSeconds",
      message: `expected at least ${minGraceSeconds} (apex:llm.requestTimeoutMs ${c.llm.requestTimeoutMs} ms plus the drain margin), so a draining worker never cuts off an LLM call that a retry would pay again; got ${shutdownGraceSeconds}`,
    });
  }
  return problems;
}
