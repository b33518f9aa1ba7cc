import { z } from "zod";
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

const sandboxDefaults = {
  egressAllowlist: [],
  privateRanges,
  runtimeClass: null,
  quota: { pods: 32, cpu: "32", memory: "16Gi" },
};

/** Sandbox config keys (namespace `apex`): the Kubernetes tool sandbox's network, runtime and quota. */
export const sandboxSections = {
  sandbox: plainSection({
    description: "Tool sandbox on Kubernetes: egress allowlist (CIDR + optional ports; DNS is added, private ranges are always cut out), the ranges never reachable, an optional RuntimeClass (e.g. gVisor runsc), and the namespace's ResourceQuota.",
    schema: section({
      egressAllowlist: list(section({ cidr: ipv4Cidr(), ports: list(port(), "ports").optional() }), "egress rules { cidr, ports }"),
      privateRanges: list(ipv4Cidr(), "IPv4 CIDRs"),
      runtimeClass: section({ name: dnsLabel(), handler: dnsLabel() }).nullable(),
      quota: section({ pods: positiveInt(), cpu: cpuQuantity(), memory: memoryQuantity() }),
    }),
    defaults: { dev: sandboxDefaults, prod: sandboxDefaults },
  }),
} as const;

/** Rules across the sandbox keys, run with the other cross-key checks. */
export function sandboxCrossChecks(c: ApexConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (!c.sandbox.privateRanges.some((r) => r === "169.254.0.0/16" || r === "169.254.169.254/32")) {
    problems.push({ key: "apex:sandbox.privateRanges", message: 'expected to include 169.254.169.254/32 (or 169.254.0.0/16, the cloud metadata range), got a list without it' });
  }
  return problems;
}
