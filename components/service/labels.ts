import type { ServiceSpec } from "./model";

export const PART_OF = "apex";

/**
 * Label naming the stack's environment (`apex:environment`: dev or prod defaults). The policy pack
 * judges by it which rules are production rules: a dev stack on a local cluster is not prod.
 */
export const ENVIRONMENT_LABEL = "apex.dev/environment";

/**
 * The stack-wide labels: the recommended ones
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/) and the environment.
 */
export const stackLabels = (stack: string, environment: string): Record<string, string> => ({
  "app.kubernetes.io/part-of": PART_OF,
  "app.kubernetes.io/instance": `${PART_OF}-${stack}`,
  "app.kubernetes.io/managed-by": "pulumi",
  [ENVIRONMENT_LABEL]: environment,
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
