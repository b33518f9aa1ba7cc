import type { ApexPolicy } from "./lib/resource";
import { containerPolicies } from "./rules/containers";
import { dataStorePolicies } from "./rules/data-stores";
import { recommendedLabelsPresent } from "./rules/labels";
import { policyExemptions } from "./rules/exemptions";
import { imagePolicies } from "./rules/images";
import { workerRbacScopedToSandbox } from "./rules/rbac";
import { sandboxRuntimeClassEnforced } from "./rules/sandbox";
import { noPlainSecrets } from "./rules/secrets";
import { vaultPoliciesLeastPrivilege } from "./rules/vault";
import { workloadPolicies } from "./rules/workloads";

/**
 * Every Apex policy, in the order the pack reports them. Kept apart from index.ts because
 * constructing a PolicyPack starts a gRPC server that never exits; tests import this list.
 */
export const apexPolicies: readonly ApexPolicy[] = [
  ...containerPolicies,
  ...workloadPolicies,
  ...imagePolicies,
  noPlainSecrets,
  workerRbacScopedToSandbox,
  sandboxRuntimeClassEnforced,
  vaultPoliciesLeastPrivilege,
  ...dataStorePolicies,
  recommendedLabelsPresent,
  policyExemptions,
];
