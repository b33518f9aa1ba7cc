import { PolicyPack } from "@pulumi/policy";
import { apexPolicies } from "./policies";

// `pulumi preview --policy-pack policy` loads this file; the policies live in ./policies.
new PolicyPack("apex", { policies: [...apexPolicies] });
