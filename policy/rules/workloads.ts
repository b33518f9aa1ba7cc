import { sandboxSpec } from "../../app/src/contract/sandbox";
import { checkContainers } from "../lib/containers";
import { unpinnedImageProblem } from "../lib/images";
import {
  containersOf,
  k8s,
  longRunningWorkloads,
  metadataOf,
  nameOf,
  namespaceOf,
  podSpecOf,
  selectorMatches,
  type Json,
} from "../lib/kubernetes";
import { describe, isProdTarget, isRecord, resourcePolicy, stackPolicy, type PlainResource, type Violation } from "../lib/resource";

export const noLatestImagesInProd = resourcePolicy(
  {
    name: "no-latest-images-in-prod",
    description: "Production workloads reference images by tag or digest, never `latest` or untagged.",
    enforcementLevel: "mandatory",
    severity: "high",
  },
  (r) => (isProdTarget(r.type) ? checkContainers(r, { kubernetes: (c) => unpinnedImageProblem(c.spec.image) }) : []),
);

export const longRunningContainersHaveProbes = resourcePolicy(
  {
    name: "long-running-containers-have-probes",
    description: "Containers of Deployments, StatefulSets, DaemonSets and ReplicaSets declare readiness and liveness probes.",
    enforcementLevel: "mandatory",
    exemptible: true,
    severity: "medium",
  },
  (r) => {
    if (!longRunningWorkloads.includes(r.type)) return [];
    const pod = podSpecOf(r);
    if (pod === undefined) return [];
    return containersOf(pod, { includeInit: false }).flatMap((c) => {
      const missing = ["readinessProbe", "livenessProbe"].filter((p) => !isRecord(c.spec[p]));
      return missing.length > 0 ? [`${describe(r)} container "${c.name}": ${missing.join(" and ")} missing`] : [];
    });
  },
);

const hpaTarget = (hpa: PlainResource): { kind: string; name: string } | undefined => {
  const ref = (hpa.props.spec as Json | undefined)?.scaleTargetRef;
  if (!isRecord(ref) || typeof ref.name !== "string") return undefined;
  // A ScaledObject's scaleTargetRef may leave kind out: KEDA then scales a Deployment.
  const kind = typeof ref.kind === "string" ? ref.kind : hpa.type.includes(":keda.sh/") ? "Deployment" : undefined;
  return kind === undefined ? undefined : { kind, name: ref.name };
};

const kindOfType = (type: string): string => type.split(":").pop() ?? type;

export const hpaManagedWorkloadsOmitReplicas = stackPolicy(
  {
    name: "hpa-managed-workloads-omit-replicas",
    description: "A Deployment or StatefulSet scaled by an HPA (or a KEDA ScaledObject, which owns one) does not set spec.replicas (it fights the autoscaler under server-side apply).",
    enforcementLevel: "mandatory",
    severity: "medium",
  },
  (resources) => {
    const out: Violation[] = [];
    for (const hpa of resources.filter((r) => (k8s.hpaTypes as readonly string[]).includes(r.type))) {
      const target = hpaTarget(hpa);
      if (target === undefined) continue;
      const scaled = resources.filter(
        (w) =>
          (w.type === k8s.deployment || w.type === k8s.statefulSet) &&
          kindOfType(w.type) === target.kind &&
          nameOf(w) === target.name &&
          namespaceOf(w) === namespaceOf(hpa),
      );
      for (const w of scaled) {
        const replicas = (w.props.spec as Json | undefined)?.replicas;
        if (replicas !== undefined && replicas !== null) {
          out.push({ message: `${describe(w)} sets spec.replicas=${String(replicas)} but is scaled by HPA "${hpa.name}"`, urn: w.urn });
        }
      }
    }
    return out;
  },
);

export const prodDeploymentsHavePdb = stackPolicy(
  {
    name: "prod-deployments-have-pdb",
    description: "Every production Deployment is covered by a PodDisruptionBudget in its namespace whose selector matches its pod labels.",
    enforcementLevel: "mandatory",
    severity: "medium",
  },
  (resources) => {
    const pdbs = resources.filter((r) => r.type === k8s.pdb);
    return resources
      .filter((r) => r.type === k8s.deployment)
      .filter((d) => {
        const podLabels = (d.props.spec as Json | undefined)?.template?.metadata?.labels;
        return !pdbs.some((p) => namespaceOf(p) === namespaceOf(d) && selectorMatches((p.props.spec as Json | undefined)?.selector?.matchLabels, podLabels));
      })
      .map((d) => ({ message: `${describe(d)} has no PodDisruptionBudget selecting its pods`, urn: d.urn }));
  },
);

/** Annotation that acknowledges a LoadBalancer Service on purpose. */
export const allowLoadBalancerAnnotation = "apex.dev/allow-load-balancer";

export const noUnapprovedLoadBalancers = resourcePolicy(
  {
    name: "no-unapproved-load-balancers",
    description: `Production Services are not of type LoadBalancer unless annotated ${allowLoadBalancerAnnotation}: "true" (traffic enters through the Ingress).`,
    enforcementLevel: "mandatory",
    severity: "high",
  },
  (r) => {
    if (r.type !== k8s.service || (r.props.spec as Json | undefined)?.type !== "LoadBalancer") return [];
    const annotations = metadataOf(r).annotations;
    if (isRecord(annotations) && annotations[allowLoadBalancerAnnotation] === "true") return [];
    return [`${describe(r)} is a LoadBalancer without the ${allowLoadBalancerAnnotation}: "true" annotation`];
  },
);

const isEmptySelector = (sel: unknown): boolean =>
  isRecord(sel) &&
  (!isRecord(sel.matchLabels) || Object.keys(sel.matchLabels).length === 0) &&
  (!Array.isArray(sel.matchExpressions) || sel.matchExpressions.length === 0);

/** A NetworkPolicy selecting every pod, with Egress in policyTypes and no egress rule. */
export function isDefaultDenyEgress(np: PlainResource): boolean {
  const spec = np.props.spec as Json | undefined;
  if (!isRecord(spec) || !isEmptySelector(spec.podSelector)) return false;
  const types = Array.isArray(spec.policyTypes) ? spec.policyTypes : [];
  return types.includes("Egress") && (spec.egress === undefined || (Array.isArray(spec.egress) && spec.egress.length === 0));
}

const metadataIp = "169.254.169.254";

const ipv4ToInt = (ip: string): number | undefined => {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + p, 0);
};

/** True when the IPv4 CIDR contains the address. */
export function cidrContains(cidr: string, ip: string): boolean {
  const [base, bitsText] = cidr.split("/");
  const bits = Number(bitsText ?? "32");
  const b = ipv4ToInt(base ?? "");
  const a = ipv4ToInt(ip);
  if (b === undefined || a === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(a / size) === Math.floor(b / size);
}

export const sandboxNamespaceDenysEgress = stackPolicy(
  {
    name: "sandbox-namespace-default-deny-egress",
    description: `The ${sandboxSpec.namespace} namespace has a default-deny egress NetworkPolicy, and no allowlist rule reaches the cloud metadata endpoint ${metadataIp}.`,
    enforcementLevel: "mandatory",
    severity: "critical",
  },
  (resources) => {
    const inSandbox = (r: PlainResource) => r.type.startsWith("kubernetes:") && namespaceOf(r) === sandboxSpec.namespace;
    const namespace = resources.find((r) => r.type === k8s.namespace && nameOf(r) === sandboxSpec.namespace);
    if (namespace === undefined && !resources.some(inSandbox)) return [];
    const policies = resources.filter((r) => r.type === k8s.networkPolicy && inSandbox(r));
    const out: Violation[] = [];
    if (!policies.some(isDefaultDenyEgress)) {
      out.push({ message: `namespace ${sandboxSpec.namespace} has no default-deny egress NetworkPolicy (podSelector {}, policyTypes [Egress], no egress rules)`, urn: namespace?.urn });
    }
    for (const np of policies) {
      const egress = (np.props.spec as Json | undefined)?.egress;
      for (const rule of Array.isArray(egress) ? egress : []) {
        for (const peer of Array.isArray(rule?.to) ? rule.to : []) {
          const block = peer?.ipBlock;
          if (!isRecord(block) || typeof block.cidr !== "string" || !cidrContains(block.cidr, metadataIp)) continue;
          const except = Array.isArray(block.except) ? block.except : [];
          if (!except.some((e: unknown) => typeof e === "string" && cidrContains(e, metadataIp))) {
            out.push({ message: `${describe(np)} allows egress to ${block.cidr}, which includes ${metadataIp}, without excepting it`, urn: np.urn });
          }
        }
      }
    }
    return out;
  },
);

export const workloadPolicies = [
  noLatestImagesInProd,
  longRunningContainersHaveProbes,
  hpaManagedWorkloadsOmitReplicas,
  prodDeploymentsHavePdb,
  noUnapprovedLoadBalancers,
  sandboxNamespaceDenysEgress,
];
