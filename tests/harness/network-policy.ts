/**
 * A small evaluator of Kubernetes NetworkPolicy semantics over recorded policies, to test which
 * connections a namespace admits: a pod selected by any policy of a direction is isolated in that
 * direction and only admits what some selecting policy's rule matches; a connection needs the
 * source's egress and the destination's ingress to allow it.
 */
import type { RecordedResource } from "./index";

export interface Endpoint {
  readonly id: string;
  /** Namespace and pod labels for pods; `ip` for addresses outside the cluster. */
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly ip?: string;
}

export interface Connection {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly protocol: "TCP" | "UDP";
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type Policy = { namespace: string; spec: any };

const matchLabels = (selector: any, labels: Readonly<Record<string, string>> | undefined): boolean => {
  if (!selector) return true;
  const wanted = (selector.matchLabels ?? {}) as Record<string, string>;
  if (selector.matchExpressions?.length) throw new Error("matchExpressions not supported by the test evaluator");
  return Object.entries(wanted).every(([k, v]) => labels?.[k] === v);
};

const ipToInt = (ip: string) => ip.split(".").reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
const inCidr = (ip: string, cidr: string) => {
  const [base, bits] = cidr.split("/");
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return (ipToInt(ip) & mask) === (ipToInt(base as string) & mask);
};

function peerMatches(peer: any, policyNamespace: string, e: Endpoint): boolean {
  if (peer.ipBlock) {
    if (!e.ip) return false;
    return inCidr(e.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c: string) => inCidr(e.ip as string, c));
  }
  if (e.namespace === undefined) return false;
  if (peer.namespaceSelector) {
    const nsLabels = { "kubernetes.io/metadata.name": e.namespace };
    return matchLabels(peer.namespaceSelector, nsLabels) && matchLabels(peer.podSelector, e.labels);
  }
  return e.namespace === policyNamespace && matchLabels(peer.podSelector, e.labels);
}

const portMatches = (ports: any[] | undefined, port: number, protocol: string) =>
  !ports || ports.length === 0 || ports.some((p) => (p.port === undefined || p.port === port) && (p.protocol ?? "TCP") === protocol);

export class NetworkPolicyEvaluator {
  private readonly policies: Policy[];

  constructor(recorded: readonly RecordedResource[]) {
    this.policies = recorded
      .filter((r) => r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy")
      .map((r) => ({ namespace: r.inputs.metadata.namespace as string, spec: r.inputs.spec }));
  }

  private selecting(e: Endpoint, direction: "Ingress" | "Egress"): Policy[] {
    return this.policies.filter((p) =>
      e.namespace === p.namespace &&
      matchLabels(p.spec.podSelector, e.labels) &&
      (p.spec.policyTypes ?? ["Ingress"]).includes(direction));
  }

  allows(from: Endpoint, to: Endpoint, port: number, protocol: "TCP" | "UDP"): boolean {
    const egressPolicies = from.namespace ? this.selecting(from, "Egress") : [];
    const egressOk = egressPolicies.length === 0 || egressPolicies.some((p) =>
      (p.spec.egress ?? []).some((rule: any) =>
        portMatches(rule.ports, port, protocol) && (!rule.to || rule.to.some((peer: any) => peerMatches(peer, p.namespace, to)))));
    const ingressPolicies = to.namespace ? this.selecting(to, "Ingress") : [];
    const ingressOk = ingressPolicies.length === 0 || ingressPolicies.some((p) =>
      (p.spec.ingress ?? []).some((rule: any) =>
        portMatches(rule.ports, port, protocol) && (!rule.from || rule.from.some((peer: any) => peerMatches(peer, p.namespace, from)))));
    return egressOk && ingressOk;
  }

  /**
   * Every allowed connection among `endpoints` on `ports` with at least one end in `namespace`,
   * as "from -> to:port/proto" strings.
   */
  allowedAmong(namespace: string, endpoints: readonly Endpoint[], ports: readonly { port: number; protocol: "TCP" | "UDP" }[]): string[] {
    const out: string[] = [];
    for (const from of endpoints) for (const to of endpoints) {
      if (from === to || (from.namespace !== namespace && to.namespace !== namespace)) continue;
      for (const { port, protocol } of ports) if (this.allows(from, to, port, protocol)) out.push(`${from.id} -> ${to.id}:${port}/${protocol}`);
    }
    return out.sort();
  }
}
