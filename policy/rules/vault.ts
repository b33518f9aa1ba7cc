import { parseVaultPolicy, isOverbroadPath } from "../lib/vault";
import { asArray, describe, resourcePolicy } from "../lib/resource";

export const vaultPolicyType = "vault:index/policy:Policy";
export const vaultKubernetesRoleType = "vault:kubernetes/authBackendRole:AuthBackendRole";

/** Apex's own roles: policies named apex or apex-<role>. */
export const isApexPolicyName = (name: unknown): boolean => typeof name === "string" && /^apex($|-)/.test(name);

const forbiddenCapabilities = ["sudo", "*"];

export const vaultPoliciesLeastPrivilege = resourcePolicy(
  {
    name: "vault-policies-least-privilege",
    description: "No apex Vault policy grants the path `*`, the whole `secret/*` mount, or the `sudo` capability; no apex auth role is given the root policy.",
    enforcementLevel: "mandatory",
    severity: "critical",
  },
  (r) => {
    if (r.type === vaultKubernetesRoleType) {
      return asArray(r.props.tokenPolicies).includes("root") ? [`${describe(r)} grants the root policy`] : [];
    }
    if (r.type !== vaultPolicyType || !isApexPolicyName(r.props.name)) return [];
    if (typeof r.props.policy !== "string") return [];
    let rules;
    try {
      rules = parseVaultPolicy(r.props.policy);
    } catch (e) {
      return [`${describe(r)} policy document is not valid JSON: ${(e as Error).message}`];
    }
    return rules.flatMap((rule) => [
      ...(isOverbroadPath(rule.path) ? [`Vault policy ${r.props.name} grants the over-broad path "${rule.path}"`] : []),
      ...rule.capabilities
        .filter((c) => forbiddenCapabilities.includes(c))
        .map((c) => `Vault policy ${r.props.name} grants "${c}" on "${rule.path}"`),
    ]);
  },
);
