import { metadataOf } from "../lib/kubernetes";
import { describe, isRecord, resourcePolicy } from "../lib/resource";

/** The Kubernetes recommended labels Apex puts on every object it creates. */
export const recommendedLabels = ["app.kubernetes.io/name", "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by"] as const;

/** Kubernetes objects that carry metadata (everything from the provider but its own helpers). */
const isKubernetesObject = (type: string): boolean => type.startsWith("kubernetes:") && !type.startsWith("kubernetes:yaml") && !type.startsWith("kubernetes:helm") && !type.startsWith("pulumi:");

export const recommendedLabelsPresent = resourcePolicy(
  {
    name: "kubernetes-recommended-labels",
    description: `Kubernetes objects carry the recommended labels ${recommendedLabels.join(", ")}.`,
    enforcementLevel: "advisory",
    severity: "low",
  },
  (r) => {
    if (!isKubernetesObject(r.type)) return [];
    const labels = metadataOf(r).labels;
    const missing = recommendedLabels.filter((l) => !isRecord(labels) || typeof labels[l] !== "string" || labels[l] === "");
    return missing.length > 0 ? [`${describe(r)} lacks recommended labels: ${missing.join(", ")}`] : [];
  },
);
