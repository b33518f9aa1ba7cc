import { ENVIRONMENT_LABEL } from "../../components/service/labels";
import type { Policy, ReportViolation, ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
import { isExempt } from "./exemptions";

/**
 * A resource as the policies see it: its type token and its properties (inputs during preview,
 * outputs in stack validation). Every rule is a pure function of these, so tests and the
 * stack-wide run call the very functions the pack registers.
 */
export interface PlainResource {
  readonly type: string;
  readonly name: string;
  readonly urn?: string;
  // The engine hands policies untyped JSON; rules narrow what they read.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly props: Record<string, any>;
}

export interface Violation {
  readonly message: string;
  /** The offending resource; absent when the stack as a whole is in violation. */
  readonly urn?: string;
}

/** A check of one resource: the messages of its violations (empty when compliant or not applicable). */
export type ResourceCheck = (resource: PlainResource) => string[];
/** A check of the whole stack. */
export type StackCheck = (resources: readonly PlainResource[]) => Violation[];

type PolicyMeta = Pick<Policy, "name" | "description" | "enforcementLevel" | "severity" | "remediationSteps">;

export interface ApexResourcePolicy extends PolicyMeta {
  readonly kind: "resource";
  /** Whether a resource may opt out of it with a reasoned exemption annotation. */
  readonly exemptible: boolean;
  readonly check: ResourceCheck;
  validateResource: (args: ResourceValidationArgs, report: ReportViolation) => void;
}

export interface ApexStackPolicy extends PolicyMeta {
  readonly kind: "stack";
  readonly check: StackCheck;
  validateStack: (args: StackValidationArgs, report: ReportViolation) => void;
}

export type ApexPolicy = ApexResourcePolicy | ApexStackPolicy;

/**
 * Wraps a resource check as a CrossGuard ResourceValidationPolicy. `exemptible` policies skip a
 * resource that names them in its exemption annotation (lib/exemptions.ts); `check` itself never
 * looks at exemptions, so tests see the raw verdict.
 */
export function resourcePolicy(meta: PolicyMeta & { readonly exemptible?: boolean }, check: ResourceCheck): ApexResourcePolicy {
  const { exemptible, ...policyMeta } = meta;
  return {
    ...policyMeta,
    kind: "resource",
    exemptible: exemptible ?? false,
    check,
    validateResource: (args, report) => {
      const resource = { type: args.type, name: args.name, urn: args.urn, props: args.props };
      if (exemptible && isExempt(resource, meta.name)) return;
      for (const message of check(resource)) report(message);
    },
  };
}

/** Wraps a stack check as a CrossGuard StackValidationPolicy. */
export function stackPolicy(meta: PolicyMeta, check: StackCheck): ApexStackPolicy {
  return {
    ...meta,
    kind: "stack",
    check,
    validateStack: (args, report) => {
      const resources = args.resources.map((r) => ({ type: r.type, name: r.name, urn: r.urn, props: r.props }));
      for (const v of check(resources)) {
        report(v.message, v.urn);
      }
    },
  };
}

/** Apex's targets: dev renders to the Docker engine, prod to Kubernetes (and AWS when managed data stores are on). */
export const isProdTarget = (type: string): boolean => type.startsWith("kubernetes:") || type.startsWith("aws:");

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export const asArray = <T = unknown>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

export const describe = (r: PlainResource): string => `${r.type} "${r.name}"`;

/**
 * Whether production rules apply to a resource: its environment label says prod, or (a resource
 * without the label) it targets Kubernetes or AWS. A dev stack on a local cluster is labelled dev.
 */
export function isProdResource(r: PlainResource): boolean {
  const metadata = isRecord(r.props.metadata) ? r.props.metadata : undefined;
  const labels = metadata && isRecord(metadata.labels) ? metadata.labels : undefined;
  const environment = labels?.[ENVIRONMENT_LABEL];
  if (typeof environment === "string") return environment === "prod";
  return isProdTarget(r.type);
}
