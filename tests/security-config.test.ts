import { describe, expect, it } from "vitest";
import { loadConfig, type ConfigSource } from "../config";
import { operatorStackConfig, PROD_RUNBOOK_BASE_URL, TEST_CLUSTER_CA, TEST_KUBERNETES_HOST } from "./harness";

type Entry = [string, { value: string; secret: boolean }];

/** Config entries from literal keys (JSON-encoded like the CLI passes them). */
const entriesOf = (keys: Record<string, unknown>, secrets: Record<string, string>, plainSecrets: Record<string, string> = {}): Entry[] => [
  ...Object.entries(keys).map(([k, v]): Entry => [k, { value: typeof v === "string" ? v : JSON.stringify(v), secret: false }]),
  ...Object.entries(secrets).map(([k, v]): Entry => [k, { value: v, secret: true }]),
  ...Object.entries(plainSecrets).map(([k, v]): Entry => [k, { value: v, secret: false }]),
];

const source = (stack: string, keys: Record<string, unknown>, secrets: Record<string, string> = {}): ConfigSource => ({
  stack,
  entries: () => new Map(entriesOf(keys, secrets)),
});

/** Prod pins third-party images by digest (docs/images.md): take the pins from Pulumi.prod.yaml (+ the operator's Grafana pin). */
const prodPins = operatorStackConfig("prod") as { images: Record<string, unknown>; observability: { images: Record<string, string> } };
const prodBase = {
  ingress: { host: "api.example.com", grpcHost: "grpc.example.com", consoleHost: "console.example.com" },
  images: { ...prodPins.images, runtime: { repository: "registry.example.com/apex/runtime", tag: "0.1.0" } },
  registry: { kind: "external", server: "registry.example.com", username: "ci" },
  network: { apiServerCidrs: ["10.0.0.0/16"] },
  vaultAddress: "https://vault.example.com:8200",
  vault: { kubernetesHost: TEST_KUBERNETES_HOST, kubernetesCaCert: TEST_CLUSTER_CA },
  observability: { runbookBaseUrl: PROD_RUNBOOK_BASE_URL, images: prodPins.observability.images },
};
const prodSecrets = { openaiApiKey: "sk-openai-config-test", anthropicApiKey: "sk-ant-config-test", registryPassword: "registry-token" };

const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (e) {
    return ((e as { problems?: { key: string; message: string }[] }).problems ?? []).map((p) => `${p.key}: ${p.message}`);
  }
  throw new Error("expected a ConfigError");
};

describe("security config", () => {
  it("dev defaults: dev-mode Vault with Apex's own KV mount, no secrets operator, deny-all sandbox, seed groups", () => {
    const c = loadConfig(source("dev", {}));
    expect(c.vaultAddress).toBeUndefined();
    expect(c.vault).toMatchObject({ devHostPort: 8200, kvMount: { path: "apex", manage: true }, kubernetesAuth: { path: "kubernetes-apex", manage: true }, secretsOperator: "none", llmKeysVersion: 1 });
    expect(c.sandbox).toMatchObject({ egressAllowlist: [], runtimeClass: null, nodePool: null });
    expect(c.sandbox.quota).toEqual({}); // derived from the workers (config/sandbox.ts sandboxQuota)
    expect(c.sandbox.privateRanges).toContain("169.254.0.0/16");
    expect(c.rbac).toEqual({ adminGroups: ["apex-admins"], operatorGroups: ["apex-operators"], viewerGroups: ["apex-viewers"] });
  });

  it("prod: a dedicated KV mount, ESO, and the Vault token as a secret", () => {
    const c = loadConfig(source("prod", prodBase, { ...prodSecrets, vaultToken: "hvs.prod-token-value" }));
    expect(c.vault).toMatchObject({ kvMount: { path: "apex", manage: true }, secretsOperator: "external-secrets" });
    expect(c.vaultAddress).toBe("https://vault.example.com:8200");
    expect(c.vaultToken).toBeDefined();
  });

  it("names the key of each bad value", () => {
    const problems = problemsOf(() => loadConfig(source("prod", {
      ...prodBase,
      vaultAddress: "vault.example.com",
      sandbox: { egressAllowlist: [{ cidr: "10.0.0.0/33" }], runtimeClass: { name: "gVisor", handler: "runsc" } },
      rbac: { adminGroups: "admins" },
    }, prodSecrets)));
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^apex:vaultAddress: expected an http\(s\) URL/),
      expect.stringMatching(/^apex:sandbox\.egressAllowlist\.0\.cidr: expected an IPv4 CIDR/),
      expect.stringMatching(/^apex:sandbox\.runtimeClass\.name: expected a DNS label/),
      expect.stringMatching(/^apex:rbac\.adminGroups: expected a list of group names/),
    ]));
  });

  it("requires apex:vaultAddress on kubernetes, and the metadata endpoint among the private ranges", () => {
    const { vaultAddress: _unset, ...withoutVault } = prodBase;
    expect(problemsOf(() => loadConfig(source("prod", withoutVault, prodSecrets)))).toEqual([
      'apex:vaultAddress: required when apex:target is "kubernetes": expected the URL of an existing Vault, got nothing',
    ]);
    expect(problemsOf(() => loadConfig(source("dev", { sandbox: { privateRanges: ["10.0.0.0/8"] } })))).toEqual([
      expect.stringMatching(/^apex:sandbox\.privateRanges: expected to include 169\.254\.169\.254\/32/),
    ]);
  });

  it("refuses a plaintext Vault token", () => {
    const problems = problemsOf(() => loadConfig({
      stack: "prod",
      // The token given in plain text (`pulumi config set` without --secret).
      entries: () => new Map(entriesOf(prodBase, prodSecrets, { vaultToken: "hvs.plaintext-token" })),
    }));
    expect(problems).toEqual([expect.stringMatching(/^apex:vaultToken: expected an encrypted \(secure:\) value/)]);
    expect(problems.join()).not.toContain("hvs.plaintext-token");
  });
});
