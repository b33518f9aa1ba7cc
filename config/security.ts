import { X509Certificate } from "node:crypto";
import { z } from "zod";
import type { ConfigProblem } from "./errors";
import { bool, imageReference, list, nonEmptyText, oneOf, positiveInt, section } from "./fields";
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

/** A Vault mount path: segments of letters, digits, `_`, `.`, `-`, no leading or trailing slash. */
const vaultPath = () => {
  const e = { error: 'expected a Vault mount path such as "apex" or "teams/apex" (no leading or trailing slash)' };
  return z.string(e).regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/, e);
};

/** One or more PEM certificates; each block must parse as X.509 (public material, plain config). */
const pemCertificates = () => {
  const e = { error: "expected PEM certificates (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)" };
  return z.string(e).refine((text) => {
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0 || text.replace(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g, "").trim() !== "") return false;
    return blocks.every((b) => {
      try {
        new X509Certificate(b);
        return true;
      } catch {
        return false;
      }
    });
  }, e);
};

const httpsUrl = () => {
  const e = { error: 'expected an https URL of the cluster\'s API server that Vault can reach, such as "https://api.cluster.example.com:6443"' };
  return z.string(e).regex(/^https:\/\/[^\s/]+(\/[^\s]*)?$/, e);
};

/** Where the runtime's LLM keys come from on Kubernetes (docs/security.md, "LLM keys from Vault"). */
export const secretsOperators = ["external-secrets", "vault-secrets-operator", "none"] as const;
export type SecretsOperator = (typeof secretsOperators)[number];

const vaultDefaults = {
  devImage: "hashicorp/vault:1.15.6",
  devHostPort: 8200,
  // A mount of Apex's own (created, protected): never a mount other teams share.
  kvMount: { path: "apex", manage: true },
  kubernetesAuth: { path: "kubernetes-apex", manage: true },
  // The API server's token audience on EKS and most clusters (kubectl create token x, then decode `aud`).
  kubernetesAudience: "https://kubernetes.default.svc",
  tokenTtlSeconds: 3600,
  llmKeysVersion: 1,
};
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
    description: "Vault details: dev-mode image and host port (dev); the KV v2 mount and the Kubernetes auth mount, each created by the program or adopted by path (`manage: false`); the API server address and cluster CA Vault reviews tokens with; Vault's own CA for the secrets operator; which operator syncs the LLM keys (external-secrets, vault-secrets-operator, none); role token TTL; the version of the write-only LLM key secret (bump it to push rotated keys).",
    schema: section({
      devImage: imageReference(),
      devHostPort: port(),
      kvMount: section({ path: vaultPath(), manage: bool() }),
      kubernetesAuth: section({ path: vaultPath(), manage: bool() }),
      kubernetesHost: httpsUrl().optional(),
      kubernetesCaCert: pemCertificates().optional(),
      kubernetesAudience: nonEmptyText("the API server's service account token audience"),
      caCert: pemCertificates().optional(),
      secretsOperator: oneOf(secretsOperators),
      tokenTtlSeconds: positiveInt(),
      llmKeysVersion: positiveInt(),
    }),
    defaults: {
      all: vaultDefaults,
      // dev on a local cluster (kind, minikube) runs Vault in the cluster, where the API server is
      // kubernetes.default.svc and Vault trusts the cluster CA of its own service account.
      dev: { secretsOperator: "none", kubernetesHost: "https://kubernetes.default.svc" },
      prod: { secretsOperator: "external-secrets" },
    },
  }),
  rbac: plainSection({
    description: "Kubernetes groups (as your authenticator reports them) bound to the apex-admin, apex-operator and apex-viewer roles in the platform and sandbox namespaces.",
    schema: section({ adminGroups: groupNames(), operatorGroups: groupNames(), viewerGroups: groupNames() }),
    defaults: { all: rbacDefaults },
  }),
} as const;

/** Rules across the security keys, run with the other cross-key checks. */
export function securityCrossChecks(c: ApexConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (c.target === "kubernetes" && c.vaultAddress === undefined) {
    problems.push({ key: "apex:vaultAddress", message: 'required when apex:target is "kubernetes": expected the URL of an existing Vault, got nothing' });
  }
  const v = c.vault;
  if (c.target === "kubernetes" && v.kubernetesAuth.manage) {
    // Vault runs outside the cluster: kubernetes.default.svc resolves nowhere it can reach, and it has no CA to trust.
    if (v.kubernetesHost === undefined) {
      problems.push({ key: "apex:vault.kubernetesHost", message: 'required when apex:target is "kubernetes" and the program configures the auth mount: expected the https URL of the API server Vault can reach (e.g. the EKS endpoint), got nothing' });
    }
    if (v.kubernetesCaCert === undefined && c.environment === "prod") {
      problems.push({ key: "apex:vault.kubernetesCaCert", message: 'required in prod when apex:target is "kubernetes" and the program configures the auth mount: expected the PEM CA of the cluster\'s API server, got nothing' });
    }
  }
  if (c.target !== "kubernetes" && v.secretsOperator !== "none") {
    problems.push({ key: "apex:vault.secretsOperator", message: `expected "none" on target "${c.target}" (the operators run in Kubernetes), got ${JSON.stringify(v.secretsOperator)}` });
  }
  return problems;
}
