import type { SandboxPlacement, SandboxToleration } from "../../app/src/contract";

/**
 * The sandbox namespace's admission rule (admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy,
 * GA in Kubernetes 1.30): a Pod created there must name the sandbox RuntimeClass and carry the
 * node pool's selector and tolerations. Whoever creates it (the worker's driver, an operator with
 * kubectl), a Pod without them is refused, so no tool runs on runc or on a shared node.
 *
 * CREATE only: runtimeClassName and nodeSelector are immutable and tolerations can only be added,
 * so a Pod admitted once stays compliant, and updates of older Pods (finalizers) are not blocked.
 * The RuntimeClass admission plugin merges the class's scheduling into the Pod before validating
 * policies run, so a Pod naming the class also satisfies the placement rules.
 */

/** Name of the ValidatingAdmissionPolicy and of its binding (cluster-scoped, like the namespace). */
export const SANDBOX_ADMISSION_POLICY = "apex-sandbox-pods";

export interface SandboxAdmissionRules {
  readonly runtimeClassName?: string;
  readonly nodePool?: SandboxPlacement;
}

export interface CelValidation {
  readonly expression: string;
  readonly message: string;
  readonly reason: "Forbidden";
}

/** A CEL string literal. Label keys, values and DNS names never hold quotes or backslashes; escape anyway. */
export const celString = (s: string): string => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

function tolerationExpression(t: SandboxToleration): string {
  const match = [
    `has(t.key) && t.key == ${celString(t.key)}`,
    `has(t.effect) && t.effect == ${celString(t.effect)}`,
    t.operator === "Exists"
      ? 'has(t.operator) && t.operator == "Exists"'
      // operator defaults to Equal when absent.
      : `(!has(t.operator) || t.operator == "Equal") && has(t.value) && t.value == ${celString(t.value ?? "")}`,
  ].join(" && ");
  return `has(object.spec.tolerations) && object.spec.tolerations.exists(t, ${match})`;
}

/** One CEL validation per requirement, so a refusal names exactly what is missing. */
export function sandboxPodValidations(rules: SandboxAdmissionRules): CelValidation[] {
  const out: CelValidation[] = [];
  if (rules.runtimeClassName !== undefined) {
    out.push({
      expression: `has(object.spec.runtimeClassName) && object.spec.runtimeClassName == ${celString(rules.runtimeClassName)}`,
      message: `sandbox Pods must set runtimeClassName ${rules.runtimeClassName}`,
      reason: "Forbidden",
    });
  }
  for (const [key, value] of Object.entries(rules.nodePool?.nodeSelector ?? {})) {
    out.push({
      expression: `has(object.spec.nodeSelector) && ${celString(key)} in object.spec.nodeSelector && object.spec.nodeSelector[${celString(key)}] == ${celString(value)}`,
      message: `sandbox Pods must select the sandbox node pool (nodeSelector ${key}=${value})`,
      reason: "Forbidden",
    });
  }
  for (const t of rules.nodePool?.tolerations ?? []) {
    const taint = `${t.key}${t.operator === "Equal" ? `=${t.value ?? ""}` : ""}:${t.effect}`;
    out.push({ expression: tolerationExpression(t), message: `sandbox Pods must tolerate the sandbox node pool's taint ${taint}`, reason: "Forbidden" });
  }
  return out;
}
