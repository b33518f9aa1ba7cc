import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { KubernetesPlatform } from "../service";

type Peer = k8s.types.input.networking.v1.NetworkPolicyPeer;

/** One end of a flow. */
export type FlowPeer =
  /** The pods of a service of this stack (same namespace), by ServiceSpec name. */
  | { readonly service: string }
  /** Every pod of the stack's namespace. */
  | { readonly allPods: true }
  /** Pods in another namespace (all of them, or those with `podLabels`). */
  | { readonly namespace: string; readonly podLabels?: Readonly<Record<string, string>> }
  /** Addresses outside the cluster. */
  | { readonly cidrs: readonly string[]; readonly except?: readonly string[] };

/**
 * One allowed connection. The namespace denies all ingress and egress by default; each flow opens
 * exactly its ports: an egress rule on the source (when it is in the namespace) and an ingress
 * rule on the destination (when it is in the namespace). Components contribute flows; index.ts
 * renders them all at once.
 */
export interface NetworkFlow {
  /** DNS-label name, used for the policies: `<name>-egress`, `<name>-ingress`. */
  readonly name: string;
  readonly from: FlowPeer;
  readonly to: FlowPeer;
  readonly ports: readonly { readonly port: number; readonly protocol?: "TCP" | "UDP" }[];
}

const inNamespace = (p: FlowPeer): p is { service: string } | { allPods: true } => "service" in p || "allPods" in p;

const podSelectorOf = (p: { service: string } | { allPods: true }) =>
  "service" in p ? { matchLabels: { "app.kubernetes.io/name": p.service } } : {};

function peersOf(p: FlowPeer): Peer[] {
  if ("service" in p || "allPods" in p) return [{ podSelector: podSelectorOf(p) }];
  if ("namespace" in p) {
    return [{
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": p.namespace } },
      podSelector: p.podLabels ? { matchLabels: { ...p.podLabels } } : undefined,
    }];
  }
  return p.cidrs.map((cidr) => ({ ipBlock: { cidr, except: p.except ? [...p.except] : undefined } }));
}

export interface NetworkFlowsArgs {
  readonly platform: KubernetesPlatform;
  readonly flows: readonly NetworkFlow[];
}

/** The namespace's default-deny policy plus one policy per direction of each flow. */
export class NetworkFlows extends pulumi.ComponentResource {
  public readonly policies: k8s.networking.v1.NetworkPolicy[] = [];

  constructor(name: string, args: NetworkFlowsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:platform:NetworkFlows", name, {}, opts);
    const { platform } = args;
    const child = { parent: this, provider: platform.provider };
    const meta = (policyName: string) => ({ name: policyName, namespace: platform.namespace, labels: { ...platform.labels } });
    const seen = new Set<string>();

    this.policies.push(new k8s.networking.v1.NetworkPolicy(`${name}-default-deny`, {
      metadata: meta("default-deny"),
      spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    }, child));

    for (const flow of args.flows) {
      if (seen.has(flow.name)) throw new Error(`network flow "${flow.name}" is declared twice`);
      seen.add(flow.name);
      if (!inNamespace(flow.from) && !inNamespace(flow.to)) {
        throw new Error(`network flow "${flow.name}": neither end is in the stack namespace`);
      }
      const ports = flow.ports.map((p) => ({ port: p.port, protocol: p.protocol ?? "TCP" }));
      if (inNamespace(flow.from)) {
        this.policies.push(new k8s.networking.v1.NetworkPolicy(`${name}-${flow.name}-egress`, {
          metadata: meta(`${flow.name}-egress`),
          spec: { podSelector: podSelectorOf(flow.from), policyTypes: ["Egress"], egress: [{ to: peersOf(flow.to), ports }] },
        }, child));
      }
      if (inNamespace(flow.to)) {
        this.policies.push(new k8s.networking.v1.NetworkPolicy(`${name}-${flow.name}-ingress`, {
          metadata: meta(`${flow.name}-ingress`),
          spec: { podSelector: podSelectorOf(flow.to), policyTypes: ["Ingress"], ingress: [{ from: peersOf(flow.from), ports }] },
        }, child));
      }
    }
    this.registerOutputs({});
  }
}

/** Every pod of the namespace may resolve names with the cluster DNS (UDP and TCP 53). */
export function dnsFlow(dns: { readonly namespace: string; readonly podLabels: Readonly<Record<string, string>> }): NetworkFlow {
  return {
    name: "dns",
    from: { allPods: true },
    to: { namespace: dns.namespace, podLabels: dns.podLabels },
    ports: [{ port: 53, protocol: "UDP" }, { port: 53, protocol: "TCP" }],
  };
}
