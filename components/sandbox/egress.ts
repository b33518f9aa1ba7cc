import type * as k8s from "@pulumi/kubernetes";

type NetworkPolicyEgressRule = k8s.types.input.networking.v1.NetworkPolicyEgressRule;

/** An IPv4 CIDR as [first address, size]. */
function parseCidr(cidr: string): { start: number; size: number } {
  const [ip, bitsText] = cidr.split("/");
  const octets = (ip ?? "").split(".").map(Number);
  const bits = Number(bitsText);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255) || !Number.isInteger(bits) || bits < 0 || bits > 32) {
    throw new Error(`"${cidr}" is not an IPv4 CIDR`);
  }
  const size = 2 ** (32 - bits);
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  return { start: Math.floor(address / size) * size, size };
}

/** True when `outer` contains all of `inner`. */
export function cidrCovers(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  return i.start >= o.start && i.start + i.size <= o.start + o.size;
}

export const metadataEndpoint = "169.254.169.254/32";

export interface EgressAllowRule {
  readonly cidr: string;
  /** TCP ports; all ports when absent. */
  readonly ports?: readonly number[];
}

/**
 * Egress rules for the sandbox allowlist: each CIDR minus every private range inside it (the
 * API server rejects an `except` outside its `cidr`, so only contained ranges are listed) and
 * minus the metadata endpoint. A CIDR inside a private range can never be allowed: error.
 */
export function allowlistEgressRules(allow: readonly EgressAllowRule[], privateRanges: readonly string[]): NetworkPolicyEgressRule[] {
  return allow.map((rule, i) => {
    const blocked = privateRanges.find((p) => cidrCovers(p, rule.cidr));
    if (blocked !== undefined) {
      throw new Error(`apex:sandbox.egressAllowlist[${i}].cidr: expected a public range, got "${rule.cidr}", which lies in the private range ${blocked} that sandboxes may never reach`);
    }
    const except = privateRanges.filter((p) => cidrCovers(rule.cidr, p));
    if (cidrCovers(rule.cidr, metadataEndpoint) && !except.some((e) => cidrCovers(e, metadataEndpoint))) except.push(metadataEndpoint);
    return {
      to: [{ ipBlock: { cidr: rule.cidr, ...(except.length > 0 ? { except } : {}) } }],
      ...(rule.ports ? { ports: rule.ports.map((port) => ({ protocol: "TCP", port })) } : {}),
    };
  });
}

/** DNS to the cluster's resolver pods only (UDP and TCP 53). */
export function dnsEgressRule(dns: { readonly namespace: string; readonly podLabels: Readonly<Record<string, string>> }): NetworkPolicyEgressRule {
  return {
    to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": dns.namespace } }, podSelector: { matchLabels: { ...dns.podLabels } } }],
    ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }],
  };
}
