import { isRecord, type PlainResource } from "./resource";

/**
 * A workload may opt out of specific exemptible policies (e.g. a node log shipper that must read
 * root-owned files) by naming them, with a reason, in annotations (Kubernetes) or labels (Docker):
 *
 *   policy.apex.dev/exempt: "containers-run-as-non-root,long-running-containers-have-probes"
 *   policy.apex.dev/exempt-reason: "reads /var/log/pods, owned by root"
 *
 * An exemption without a reason is ignored. Every honoured exemption is reported by the advisory
 * policy `policy-exemptions`, so each preview lists them.
 */
export const exemptAnnotation = "policy.apex.dev/exempt";
export const exemptReasonAnnotation = "policy.apex.dev/exempt-reason";

function markers(r: PlainResource): Record<string, unknown> {
  if (r.type.startsWith("kubernetes:")) {
    const annotations = isRecord(r.props.metadata) ? r.props.metadata.annotations : undefined;
    return isRecord(annotations) ? annotations : {};
  }
  if (Array.isArray(r.props.labels)) {
    return Object.fromEntries(r.props.labels.filter(isRecord).map((l) => [String(l.label), l.value]));
  }
  return {};
}

export interface Exemption {
  readonly policies: readonly string[];
  readonly reason: string;
}

/** The resource's honoured exemption, or undefined (none, or no reason given). */
export function exemptionOf(r: PlainResource): Exemption | undefined {
  const m = markers(r);
  const list = m[exemptAnnotation];
  const reason = m[exemptReasonAnnotation];
  if (typeof list !== "string" || typeof reason !== "string" || reason.trim() === "") return undefined;
  const policies = list.split(",").map((p) => p.trim()).filter((p) => p !== "");
  return policies.length > 0 ? { policies, reason: reason.trim() } : undefined;
}

export const isExempt = (r: PlainResource, policy: string): boolean => exemptionOf(r)?.policies.includes(policy) ?? false;
