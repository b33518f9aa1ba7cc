import type { ServiceSpec } from "./model";

export const PART_OF = "apex";

/** The stack-wide recommended labels (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/). */
export const stackLabels = (stack: string): Record<string, string> => ({
  "app.kubernetes.io/part-of": PART_OF,
  "app.kubernetes.io/instance": `${PART_OF}-${stack}`,
  "app.kubernetes.io/managed-by": "pulumi",
});

/** Selects a service's pods; NetworkPolicies select on the name label the same way. */
export const selectorLabels = (serviceName: string, stack: string): Record<string, string> => ({
  "app.kubernetes.io/name": serviceName,
  "app.kubernetes.io/instance": `${PART_OF}-${stack}`,
});

export const serviceLabels = (spec: ServiceSpec, stackWide: Readonly<Record<string, string>>): Record<string, string> => ({
  ...stackWide,
  "app.kubernetes.io/name": spec.name,
  "app.kubernetes.io/component": spec.component,
  ...spec.labels,
});
