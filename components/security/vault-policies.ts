/**
 * Apex's Vault policies as data. KV v2 serves secret values under `<mount>/data/<path>` and their
 * versions/listing under `<mount>/metadata/<path>`, so a KV v1-style rule on `secret/apex/*` (the
 * seed's) matches no KV v2 endpoint and grants nothing. Every rule here names the v2 endpoints.
 */
export type VaultCapability = "create" | "read" | "update" | "patch" | "delete" | "list";

export interface VaultRule {
  readonly path: string;
  readonly capabilities: readonly VaultCapability[];
  /** Why the rule exists; rendered as a comment above it. */
  readonly why: string;
}

export interface VaultPolicyDoc {
  readonly name: string;
  readonly rules: readonly VaultRule[];
}

/**
 * Where Apex keeps its secrets inside its KV v2 mount (`apex:vault.kvMount.path`: a dedicated mount
 * by default, or an adopted shared one), and the LLM keys' secret. The `apex/` prefix stays in
 * either case, so adopting a shared mount puts nothing of Apex's outside `<mount>/.../apex/`.
 */
export const vaultLayout = {
  prefix: "apex",
  llmKeysPath: "apex/llm",
} as const;

/** Apex's Vault policies for the KV v2 mount at `mount`. */
export function apexVaultPolicies(mount: string) {
  const data = (p: string) => `${mount}/data/${vaultLayout.prefix}/${p}`;
  const metadata = (p: string) => `${mount}/metadata/${vaultLayout.prefix}/${p}`;
  const versions = (op: "delete" | "undelete" | "destroy") => `${mount}/${op}/${vaultLayout.prefix}/*`;
  return {
    /** The workloads' policy (apex-api and apex-worker through Kubernetes auth). */
    read: {
      name: "apex-read",
      rules: [
        { path: data("*"), capabilities: ["read"], why: "read Apex secret values (KV v2 data endpoint)" },
        { path: metadata("*"), capabilities: ["list"], why: "list Apex secret names (KV v2 metadata endpoint)" },
      ],
    },
    /** The secrets operator (ESO / VSO): the LLM keys it syncs into the runtime's Secret, nothing else. */
    sync: {
      name: "apex-secrets-sync",
      rules: [{ path: `${mount}/data/${vaultLayout.llmKeysPath}`, capabilities: ["read"], why: "the LLM keys the operator syncs into apex-llm-keys" }],
    },
    /** Platform administrators: full lifecycle of Apex's secrets, nothing outside them, no sudo. */
    admin: {
      name: "apex-admin",
      rules: [
        { path: data("*"), capabilities: ["create", "read", "update", "patch", "delete"], why: "write and rotate Apex secrets" },
        { path: metadata("*"), capabilities: ["read", "list", "update", "delete"], why: "versions, custom metadata and permanent deletion of Apex secrets" },
        { path: versions("delete"), capabilities: ["update"], why: "soft-delete versions" },
        { path: versions("undelete"), capabilities: ["update"], why: "restore versions" },
        { path: versions("destroy"), capabilities: ["update"], why: "destroy versions" },
      ],
    },
    /** Operators: read everything Apex stores, manage agents' tool credentials. */
    operator: {
      name: "apex-operator",
      rules: [
        { path: data("*"), capabilities: ["read"], why: "read Apex secrets to diagnose" },
        { path: data("agents/*"), capabilities: ["create", "read", "update", "patch"], why: "manage agents' tool credentials" },
        { path: metadata("*"), capabilities: ["read", "list"], why: "see which secrets and versions exist" },
      ],
    },
    /** Viewers: see that secrets exist and their versions, never a value. */
    viewer: {
      name: "apex-viewer",
      rules: [{ path: metadata("*"), capabilities: ["read", "list"], why: "names and versions only, no values" }],
    },
    /** Agents: read their tool credentials only. */
    agent: {
      name: "apex-agent",
      rules: [
        { path: data("agents/*"), capabilities: ["read"], why: "tool credentials of agents" },
        { path: metadata("agents/*"), capabilities: ["list"], why: "list tool credentials of agents" },
      ],
    },
  } as const satisfies Record<string, VaultPolicyDoc>;
}

export type ApexVaultPolicyKey = keyof ReturnType<typeof apexVaultPolicies>;

/** Renders a policy as Vault HCL. */
export function renderVaultPolicy(doc: VaultPolicyDoc): string {
  return doc.rules
    .map((r) => `# ${r.why}\npath "${r.path}" {\n  capabilities = [${r.capabilities.map((c) => `"${c}"`).join(", ")}]\n}\n`)
    .join("\n");
}
