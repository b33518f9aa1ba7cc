import { exemptionOf } from "../lib/exemptions";
import { describe, resourcePolicy } from "../lib/resource";

/** Lists every honoured exemption on every preview, so none goes unnoticed. */
export const policyExemptions = resourcePolicy(
  {
    name: "policy-exemptions",
    description: "Reports each resource that opts out of a policy through the policy.apex.dev/exempt annotation, with its reason.",
    enforcementLevel: "advisory",
    severity: "medium",
  },
  (r) => {
    const e = exemptionOf(r);
    return e ? [`${describe(r)} is exempt from ${e.policies.join(", ")}: ${e.reason}`] : [];
  },
);
