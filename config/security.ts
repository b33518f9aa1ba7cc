import { z } from "zod";
import type { ConfigProblem } from "./errors";
import { bool, imageReference, list, nonEmptyText, positiveInt, section } from "./fields";
import type { ApexConfig } from "./index";
import { plainSection, secretSection } from "./section";

const httpUrl = () => {
  const e = { error: 'expected an http(s) URL such as "https://vault.example.com:8200"' };
  return z.string(e).regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, e);
};

const port = () => {
  const e = { error: "expected a port number (1-65535)" };
  return z.number(e).int(e).min(1, e).max(65535, e);
};

const groupNames = () => list(nonEmptyText("a group name"), "group names");

const vaultDefaults = { devImage: "hashicorp/vault:1.15.6", devHostPort: 8200, kubernetesAuthPath: "kubernetes", tokenTtlSeconds: 3600, llmKeysVersion: 1 };
const rbacDefaults = { adminGroups: ["apex-admins"], operatorGroups: ["apex-operators"], viewerGroups: ["apex-viewers"] };

/** Security config keys (namespace `apex`): Vault, Kubernetes RBAC groups (the sandbox's are in config/sandbox.ts). */
export const securitySections = {
  vaultAddress: plainSection({
    description: "Address of the existing Vault the kubernetes target configures (dev runs its own dev-mode Vault container instead).",
    schema: httpUrl().optional(),
  }),
  vaultToken: secretSection({
    description: "Token the Vault provider authenticates with against apex:vaultAddress (secret). Unset: the provider reads VAULT_TOKEN from the environment.",
    requiredIn: [],
    minLength: 8,
  }),
  vault: plainSection({
    description: "Vault details: dev-mode image and host port (dev), whether the program owns the KV v2 `secret` mount, the Kubernetes auth mount path, the API server address Vault reviews tokens against, role token TTL, and the version of the write-only LLM key secret (bump it to push rotated keys).",
    schema: section({
      devImage: imageReference(),
      devHostPort: port(),
      manageKvMount: bool(),
      kubernetesAuthPath: nonEmptyText(),
      kubernetesHost: httpUrl(),
      tokenTtlSeconds: positiveInt(),
      llmKeysVersion: positiveInt(),
    }),
    defaults: {
      // Dev-mode Vault mounts `secret/` as KV v2 itself; creating it again fails.
      dev: { ...vaultDefaults, manageKvMount: false, kubernetesHost: "https://kubernetes.default.svc" },
      prod: { ...vaultDefaults, manageKvMount: true, kubernetesHost: "https://kubernetes.default.svc" },
    },
  }),
  rbac: plainSection({
    description: "Kubernetes groups (as your authenticator reports them) bound to the apex-admin, apex-operator and apex-viewer roles in the platform and sandbox namespaces.",
    schema: section({ adminGroups: groupNames(), operatorGroups: groupNames(), viewerGroups: groupNames() }),
    defaults: { dev: rbacDefaults, prod: rbacDefaults },
  }),
} as const;

/** Rules across the security keys, run with the other cross-key checks. */
export function securityCrossChecks(c: ApexConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (c.target === "kubernetes" && c.vaultAddress === undefined) {
    problems.push({ key: "apex:vaultAddress", message: 'required when apex:target is "kubernetes": expected the URL of an existing Vault, got nothing' });
  }
  return problems;
}
