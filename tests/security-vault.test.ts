import { beforeAll, describe, expect, it } from "vitest";
import { services } from "../app/src/contract";
import { apexVaultPolicies, renderVaultPolicy } from "../components/security/vault-policies";
import { parseVaultPolicy } from "../policy/lib/vault";
import { vaultPoliciesLeastPrivilege } from "../policy/rules/vault";
import { runStack, type StackRun } from "./harness";

const KEYS = { openaiApiKey: "sk-openai-VAULT-TEST-0123456789", anthropicApiKey: "sk-ant-VAULT-TEST-9876543210" };

let dev: StackRun;
let devWithKeys: StackRun;
let prod: StackRun;
beforeAll(async () => {
  dev = await runStack({ stack: "dev" });
  devWithKeys = await runStack({ stack: "dev", secrets: { openaiApiKey: KEYS.openaiApiKey } });
  prod = await runStack({ stack: "prod", secrets: KEYS });
});

const policyDoc = (run: StackRun, name: string) => run.one("vault:index/policy:Policy", (r) => r.inputs.name === name).inputs.policy as string;

describe("Vault policies (both targets)", () => {
  it("apex-read grants read on the KV v2 data path and list on the metadata path, nothing else", () => {
    for (const run of [dev, prod]) {
      expect(parseVaultPolicy(policyDoc(run, "apex-read"))).toEqual([
        { path: "secret/data/apex/*", capabilities: ["read"] },
        { path: "secret/metadata/apex/*", capabilities: ["list"] },
      ]);
    }
  });

  it("one policy per role, none with sudo, *, or the whole secret mount", () => {
    for (const run of [dev, prod]) {
      const policies = run.ofType("vault:index/policy:Policy");
      expect(policies.map((p) => p.inputs.name).sort()).toEqual(["apex-admin", "apex-agent", "apex-operator", "apex-read", "apex-viewer"]);
      for (const p of policies) {
        expect(vaultPoliciesLeastPrivilege.check({ type: p.type, name: p.name, props: p.inputs }), p.inputs.name).toEqual([]);
        for (const rule of parseVaultPolicy(p.inputs.policy)) expect(rule.path, p.inputs.name).toMatch(/^secret\/(data|metadata|delete|undelete|destroy)\/apex\//);
      }
    }
  });

  it("the viewer sees names and versions only; the agent reads only agents' credentials", () => {
    const viewer = parseVaultPolicy(renderVaultPolicy(apexVaultPolicies.viewer));
    expect(viewer.every((r) => r.path.startsWith("secret/metadata/"))).toBe(true);
    const agent = parseVaultPolicy(renderVaultPolicy(apexVaultPolicies.agent));
    expect(agent).toEqual([
      { path: "secret/data/apex/agents/*", capabilities: ["read"] },
      { path: "secret/metadata/apex/agents/*", capabilities: ["list"] },
    ]);
  });
});

describe("dev: dev-mode Vault container", () => {
  const vaultContainer = (run: StackRun) => run.one("docker:index/container:Container", (r) => r.inputs.networksAdvanced?.[0]?.aliases?.includes(services.vault.name));

  it("runs unprivileged on the stack network, published on 127.0.0.1 only, health-checked", () => {
    const c = vaultContainer(dev);
    expect(c.inputs).toMatchObject({
      user: "1000:1000",
      readOnly: true,
      capabilities: { drops: ["ALL"] },
      securityOpts: ["no-new-privileges:true"],
      command: ["server", "-dev"],
      ports: [{ internal: services.vault.port, external: 8200, ip: "127.0.0.1" }],
    });
    expect(c.inputs.healthcheck.tests.join(" ")).toContain("/v1/sys/health");
  });

  it("the root token is generated, kept secret in state, and is what the provider uses", () => {
    const c = vaultContainer(dev);
    expect(c.plainInputs.envs).toBe("[secret]");
    const env = (c.inputs.envs as string[]).find((e) => e.startsWith("VAULT_DEV_ROOT_TOKEN_ID="));
    const token = env?.split("=")[1];
    expect(token).toMatch(/^generated-/);
    const provider = dev.one("pulumi:providers:vault");
    expect(provider.inputs.address).toBe("http://127.0.0.1:8200");
    expect(provider.inputs.token).toBe(token);
    expect(JSON.stringify(provider.plainInputs)).not.toContain(token);
    // The provider waits for the (health-checked) container: no dialing a Vault that is not up.
    expect(dev.dependenciesOf(provider).map((d) => d.urn)).toContain(vaultContainer(dev).urn);
    expect(dev.outputs.vault.address).toBe("http://127.0.0.1:8200");
  });

  it("leaves the pre-mounted secret/ KV v2 alone, and writes no LLM secret when no key is configured", () => {
    expect(dev.ofType("vault:index/mount:Mount")).toEqual([]);
    expect(dev.ofType("vault:kv/secretV2:SecretV2")).toEqual([]);
    expect(dev.ofType("vault:index/authBackend:AuthBackend")).toEqual([]);
  });

  it("stores a configured LLM key through the write-only field, never in plain state", () => {
    const s = devWithKeys.one("vault:kv/secretV2:SecretV2");
    expect(s.inputs).toMatchObject({ mount: "secret", name: "apex/llm", dataJsonWoVersion: 1 });
    expect(JSON.parse(s.inputs.dataJsonWo)).toEqual({ OPENAI_API_KEY: KEYS.openaiApiKey });
    expect(s.inputs.dataJson).toBeUndefined();
    expect(s.plainInputs.dataJsonWo).toBe("[secret]");
    expect(JSON.stringify(s.plainInputs)).not.toContain(KEYS.openaiApiKey);
  });
});

describe("prod: existing Vault with Kubernetes auth", () => {
  it("points the provider at apex:vaultAddress and owns the KV v2 mount `secret`", () => {
    expect(prod.one("pulumi:providers:vault").inputs.address).toBe("https://vault.example.com:8200");
    expect(prod.one("vault:index/mount:Mount").inputs).toMatchObject({ path: "secret", type: "kv", options: { version: "2" } });
    expect(prod.outputs.vault.devRootToken).toBeUndefined();
  });

  it("binds the api and worker ServiceAccounts of the platform namespace to apex-read", () => {
    const backend = prod.one("vault:index/authBackend:AuthBackend");
    expect(backend.inputs).toMatchObject({ type: "kubernetes", path: "kubernetes" });
    expect(prod.one("vault:kubernetes/authBackendConfig:AuthBackendConfig").inputs).toMatchObject({ backend: "kubernetes", kubernetesHost: "https://kubernetes.default.svc" });
    const roles = prod.ofType("vault:kubernetes/authBackendRole:AuthBackendRole").map((r) => r.inputs);
    expect(roles).toEqual([services.api.name, services.worker.name].map((sa) => expect.objectContaining({
      backend: "kubernetes",
      roleName: sa,
      boundServiceAccountNames: [sa],
      boundServiceAccountNamespaces: ["apex"],
      tokenPolicies: ["apex-read"],
      tokenTtl: 3600,
    })));
    // The ServiceAccounts exist under exactly those names.
    for (const sa of [services.api.name, services.worker.name]) {
      prod.one("kubernetes:core/v1:ServiceAccount", (r) => r.inputs.metadata.name === sa && r.inputs.metadata.namespace === "apex");
    }
  });

  it("writes both LLM keys write-only into secret/apex/llm; no key value appears in plain state or outputs", () => {
    const s = prod.one("vault:kv/secretV2:SecretV2");
    expect(JSON.parse(s.inputs.dataJsonWo)).toEqual({ OPENAI_API_KEY: KEYS.openaiApiKey, ANTHROPIC_API_KEY: KEYS.anthropicApiKey });
    for (const r of prod.resources.filter((x) => x.type.startsWith("vault:") || x.type === "pulumi:providers:vault")) {
      for (const k of Object.values(KEYS)) expect(JSON.stringify(r.plainInputs), r.name).not.toContain(k);
    }
    const { bootstrapAdminKey: _secretOutput, ...plainOutputs } = prod.outputs;
    for (const k of Object.values(KEYS)) expect(JSON.stringify(plainOutputs)).not.toContain(k);
  });

  it("passes apex:vaultToken to the provider as a secret", async () => {
    const run = await runStack({ stack: "prod", secrets: { ...KEYS, vaultToken: "hvs.VAULT-TOKEN-TEST-0123456789" } });
    const provider = run.one("pulumi:providers:vault");
    expect(provider.inputs.token).toBe("hvs.VAULT-TOKEN-TEST-0123456789");
    expect(JSON.stringify(provider.plainInputs)).not.toContain("hvs.VAULT-TOKEN-TEST");
    expect(prod.one("pulumi:providers:vault").inputs.token).toBeUndefined(); // unset: the provider reads VAULT_TOKEN
  });

  it("refuses a prod stack without apex:vaultAddress, naming the key", async () => {
    await expect(runStack({ stack: "prod", config: { vaultAddress: undefined } })).rejects.toThrow(/apex:vaultAddress: required when apex:target is "kubernetes"/);
  });
});
