import { z } from "zod";
import { sandboxSpec } from "../app/src/contract";
import { sandboxPlacementSchema } from "../app/src/sandbox/placement";
import type { ConfigProblem } from "./errors";
import { cpuQuantity, dnsLabel, ipv4Cidr, list, memoryQuantity, positiveInt, section } from "./fields";
import type { ApexConfig } from "./index";
import { plainSection } from "./section";

const port = () => {
  const e = { error: "expected a port number (1-65535)" };
  return z.number(e).int(e).min(1, e).max(65535, e);
};

/**
 * Ranges a sandbox never reaches, whatever the allowlist says: RFC 1918 (the cluster's pod,
 * service and node networks), loopback, link-local (169.254.169.254 is the cloud metadata
 * endpoint), CGNAT. Replace with the cluster's own ranges if they differ.
 */
const privateRanges = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10"];

/** The prod node pool: nodes labelled `apex.dev/pool=sandbox`, tainted `apex.dev/sandbox=true:NoSchedule`. */
const sandboxNodePool = {
  nodeSelector: { "apex.dev/pool": "sandbox" },
  tolerations: [{ key: "apex.dev/sandbox", operator: "Equal" as const, value: "true", effect: "NoSchedule" as const }],
};

/** Sandbox config keys (namespace `apex`): the Kubernetes tool sandbox's network, runtime, nodes and quota. */
export const sandboxSections = {
  sandbox: plainSection({
    description: "Tool sandbox on Kubernetes: egress allowlist (CIDR + optional ports; DNS is added, private ranges are always cut out), the ranges never reachable, the RuntimeClass (gVisor runsc in prod), the dedicated tainted node pool (nodeSelector + tolerations), and the namespace's ResourceQuota (derived from max workers x concurrency when unset).",
    schema: section({
      egressAllowlist: list(section({ cidr: ipv4Cidr(), ports: list(port(), "ports").optional() }), "egress rules { cidr, ports }"),
      privateRanges: list(ipv4Cidr(), "IPv4 CIDRs"),
      runtimeClass: section({ name: dnsLabel(), handler: dnsLabel() }).nullable(),
      nodePool: sandboxPlacementSchema.nullable(),
      quota: section({ pods: positiveInt().optional(), cpu: cpuQuantity().optional(), memory: memoryQuantity().optional() }),
    }),
    defaults: {
      all: { egressAllowlist: [], privateRanges, quota: {} },
      dev: { runtimeClass: null, nodePool: null },
      prod: { runtimeClass: { name: "gvisor", handler: "runsc" }, nodePool: sandboxNodePool },
    },
  }),
} as const;

/** The sandbox namespace's ResourceQuota: pods, and cpu/memory for requests and limits alike. */
export interface SandboxQuota {
  readonly pods: number;
  readonly cpu: string;
  readonly memory: string;
}

/** Most sandboxes the workers can run at once: one per task slot of the largest worker fleet. */
export function sandboxDemand(c: Pick<ApexConfig, "workers">): { readonly pods: number; readonly reason: string } {
  const workers = c.workers.autoscaling
    ? { count: c.workers.autoscaling.maxReplicas, key: "workers.autoscaling.maxReplicas" }
    : { count: c.workers.replicas, key: "workers.replicas" };
  return {
    pods: workers.count * c.workers.concurrency,
    reason: `${workers.key} ${workers.count} x workers.concurrency ${c.workers.concurrency}`,
  };
}

const MI = 1024 * 1024;
const memoryText = (bytes: number): string => (bytes % (1024 * MI) === 0 ? `${bytes / (1024 * MI)}Gi` : `${Math.ceil(bytes / MI)}Mi`);

/**
 * The quota the stack renders: `apex:sandbox.quota.pods` or, unset, the workers' demand; cpu and
 * memory as given or, unset, pods x the contract's per-sandbox limits.
 */
export function sandboxQuota(c: Pick<ApexConfig, "workers" | "sandbox">): SandboxQuota {
  const pods = c.sandbox.quota.pods ?? sandboxDemand(c).pods;
  return {
    pods,
    cpu: c.sandbox.quota.cpu ?? String(pods * sandboxSpec.cpu.cores),
    memory: c.sandbox.quota.memory ?? memoryText(pods * sandboxSpec.memory.bytes),
  };
}

/** "500m" -> 500, "2" -> 2000, "0.5" -> 500 (the forms cpuQuantity() accepts). */
const millicores = (q: string): number => (q.endsWith("m") ? Number(q.slice(0, -1)) : Math.round(Number(q) * 1000));
const memoryUnits: Record<string, number> = { Ki: 1024, Mi: MI, Gi: 1024 * MI, Ti: 1024 * 1024 * MI };
/** "512Mi" -> bytes (the forms memoryQuantity() accepts). */
const memoryBytes = (q: string): number => Number(q.slice(0, -2)) * (memoryUnits[q.slice(-2)] ?? Number.NaN);

/** Rules across the sandbox keys, run with the other cross-key checks. */
export function sandboxCrossChecks(c: ApexConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (!c.sandbox.privateRanges.some((r) => r === "169.254.0.0/16" || r === "169.254.169.254/32")) {
    problems.push({ key: "apex:sandbox.privateRanges", message: 'expected to include 169.254.169.254/32 (or 169.254.0.0/16, the cloud metadata range), got a list without it' });
  }
  if (c.target !== "kubernetes") return problems;
  // Every task slot may run a tool at once; a smaller quota fails those Pods at admission.
  const demand = sandboxDemand(c);
  const given = c.sandbox.quota;
  if (given.pods !== undefined && given.pods < demand.pods) {
    problems.push({ key: "apex:sandbox.quota.pods", message: `expected at least ${demand.pods} (${demand.reason}), got ${given.pods}` });
  }
  const quota = sandboxQuota(c);
  if (given.cpu !== undefined && millicores(given.cpu) < quota.pods * sandboxSpec.cpu.cores * 1000) {
    problems.push({
      key: "apex:sandbox.quota.cpu",
      message: `expected at least "${quota.pods * sandboxSpec.cpu.cores}" (${quota.pods} sandbox pods x ${sandboxSpec.cpu.kubernetes} CPU each), got "${given.cpu}"`,
    });
  }
  if (given.memory !== undefined && memoryBytes(given.memory) < quota.pods * sandboxSpec.memory.bytes) {
    problems.push({
      key: "apex:sandbox.quota.memory",
      message: `expected at least "${memoryText(quota.pods * sandboxSpec.memory.bytes)}" (${quota.pods} sandbox pods x ${sandboxSpec.memory.kubernetes} each), got "${given.memory}"`,
    });
  }
  return problems;
}
