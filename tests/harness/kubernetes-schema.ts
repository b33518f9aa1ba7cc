/**
 * Validates recorded Kubernetes objects against the Kubernetes OpenAPI schema, through the
 * generated models of `kubernetes-models` (one JSON-schema validator per apiVersion/kind).
 */
import type { RecordedResource } from "./index";

/** `kubernetes:apps/v1:Deployment` -> module `kubernetes-models/apps/v1/Deployment`. */
export function modelModuleFor(type: string): string | undefined {
  const m = /^kubernetes:([^:]+)\/([^/:]+):([A-Za-z]+)$/.exec(type);
  if (!m) return undefined;
  const [, group, version, kind] = m;
  return group === "core" ? `kubernetes-models/${version}/${kind}` : `kubernetes-models/${group}/${version}/${kind}`;
}

/**
 * Whole objects of built-in API groups (kubernetes-models covers these). CRDs are validated
 * elsewhere; `*Patch` resources are partial by design, so the full schema does not apply.
 */
export const isValidatable = (type: string): boolean => {
  const group = /^kubernetes:([^:]+)\//.exec(type)?.[1];
  return group !== undefined && (!group.includes(".") || group.endsWith(".k8s.io")) && !type.endsWith("Patch");
};

interface Validatable {
  validate(): void;
}

/** Throws with the object's name and the schema's message when the inputs are not a valid object. */
export function validateKubernetesObject(r: RecordedResource): void {
  const module = modelModuleFor(r.type);
  if (!module) throw new Error(`${r.type} is not a Kubernetes object type token`);
  const kind = module.split("/").pop() as string;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Model = (require(module) as Record<string, new (data: unknown) => Validatable>)[kind];
  if (!Model) throw new Error(`${module} does not export ${kind}`);
  const data = JSON.parse(JSON.stringify(r.inputs)) as unknown;
  try {
    new Model(data).validate();
  } catch (e) {
    throw new Error(`${r.type} ${r.name}: ${(e as Error).message}`, { cause: e });
  }
}
