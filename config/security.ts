import { z } from "zod";
import type { ConfigProblem } from "./errors";
import { bool, cpuQuantity, dnsLabel, imageReference, ipv4Cidr, list, memoryQuantity, nonEmptyText, positiveInt, section } from "./fields";
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

/**
 * Ranges a sandbox never reaches, whatever the allowlist says: RFC 1918 (the cluster's pod,
 * service and node networks), loopback, link-local (169.254.169.254 is the cloud metadata
 * endpoint), CGNAT. Replace with the cluster's own ranges if they differ.
 */
const privateRanges = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10"];

const vaultDefaults = { devImage: "hashicorp/vault:1.15.6", devHostPort: 8200, kubernetesAuthPath: "kubernetes", tokenTtlSeconds: 3600, llmKeysVersion: 1 };
const rbacDefaults = { adminGroups: ["apex-admins"], operatorGroups: ["apex-operators"], viewerGroups: ["apex-viewers"] };
const sandboxDefaults = {
  egressAllowlist: [],
  privateRanges,
  runtimeClass: null,
  quota: { pods: 32, cpu: "32", memory: "16Gi" },
};

/** Security config keys (namespace `apex`): Vault, Kubernetes RBAC groups, the sandbox runtime. */
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
  sandbox: plainSection({
    description: "Tool sandbox on Kubernetes: egress allowlist (CIDR + optional ports; DNS is added, private ranges are always cut out), the ranges never reachable, an optional RuntimeClass (e.g. gVisor runsc), and the namespace's ResourceQuota.",
    schema: section({
      egressAllowlist: list(section({ cidr: ipv4Cidr(), ports: list(port(), "ports").optional() }), "egress rules { cidr, ports }"),
      privateRanges: list(ipv4Cidr(), "IPv4 CIDRs"),
      runtimeClass: section({ name: dnsLabel(), handler: dnsLabel() }).nullable(),
      quota: section({ pods: positiveInt(), cpu: cpuQuantity(), memory: memoryQuantity() }),
    }),
    defaults: { dev: sandboxDefaults, prod: sandboxDefaults },
  }),
} as const;

/** Rules across the security keys, run with the other cross-key checks. */
export function securityCrossChecks(c: ApexConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (c.target === "kubernetes" && c.vaultAddress === undefined) {
    problems.push({ key: "apex:vaultAddress", message: 'required when apex:target is "kubernetes": expected the URL of an existing Vault, got nothing' });
  }
  if (!c.sandbox.privateRanges.some((r) => r === "169.254.0.0/16" || r === "169.254.169.254/32")) {
    problems.push({ key: "apex:sandbox.privateRanges", message: 'expected to include 169.254.169.254/32 (or 169.254.0.0/16, the cloud metadata range), got a list without it' });
  }
  return problems;
}
