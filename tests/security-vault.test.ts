import { beforeAll, describe, expect, it } from "vitest";
import { services } from "../app/src/contract";
import { apexVaultPolicies, renderVaultPolicy } from "../components/security/vault-policies";
import { parseVaultPolicy } from "../policy/lib/vault";
import { vaultPoliciesLeastPrivilege } from "../policy/rules/vault";
import { LLM_KEYS_SECRET, SECRETS_SYNC_SERVICE_ACCOUNT } from "../components/security/secrets-operator";
import { runStack, TEST_CLUSTER_CA, TEST_KUBERNETES_HOST, type StackRun } from "./harness";

const KEYS = { openaiApiKey: "sk-openai-VAULT-TEST-0123456789", anthropicApiKey: "sk-ant-VAULT-TEST-9876543210" };

let dev: StackRun;
let devWithKeys: StackRun;
let prod: StackRun;
beforeAll(async () => {
  dev = await runStack({ stack: "dev" });
  devWithKeys = await runStack({ stack: "dev", secrets: { openaiApiKey: KEYS.openaiApiKey } });
  prod = await runStack({ stack: "prod", secrets: KEYS });
});

/** The config problems ("apex:key: message") a run stops with. */
async function configProblems(options: Parameters<typeof runStack>[0]): Promise<string[]> {
  try {
    await runStack(options);
  } catch (e) {
    const problems = (e as { problems?: { key: string; message: string }[] }).problems;
    if (problems === undefined) throw e;
    return problems.map((p) => `${p.key}: ${p.message}`);
  }
  throw new Error("expected a ConfigError");
}

const policyDoc = (run: StackRun, name: string) => run.one("vault:index/policy:Policy", (r) => r.inputs.name === name).inputs.policy as string;

describe("Vault policies (both targets)", () => {
  it("apex-read grants read on the KV v2 data path and list on the metadata path of Apex's mount, nothing else", () => {
    for (const run of [dev, prod]) {
      expect(parseVaultPolicy(policyDoc(run, "apex-read"))).toEqual([
        { path: "apex/data/apex/*", capabilities: ["read"] },
        { path: "apex/metadata/apex/*", capabilities: ["list"] },
      ]);
    }
  });

  it("apex-secrets-sync reads the LLM keys' secret only", () => {
    expect(parseVaultPolicy(policyDoc(prod, "apex-secrets-sync"))).toEqual([{ path: "apex/data/apex/llm", capabilities: ["read"] }]);
  });

  it("the policies follow an adopted mount's path", () => {
    const read = parseVaultPolicy(renderVaultPolicy(apexVaultPolicies("teams/shared-kv").read));
    expect(read.map((r) => r.path)).toEqual(["teams/shared-kv/data/apex/*", "teams/shared-kv/metadata/apex/*"]);
  });

  it("one policy per role, none with sudo, *, or anything outside apex/ of the mount", () => {
    for (const run of [dev, prod]) {
      const policies = run.ofType("vault:index/policy:Policy");
      expect(policies.map((p) => p.inputs.name).sort()).toEqual(["apex-admin", "apex-agent", "apex-operator", "apex-read", "apex-secrets-sync", "apex-viewer"]);
      for (const p of policies) {
        expect(vaultPoliciesLeastPrivilege.check({ type: p.type, name: p.name, props: p.inputs }), p.inputs.name).toEqual([]);
        for (const rule of parseVaultPolicy(p.inputs.policy)) expect(rule.path, p.inputs.name).toMatch(/^apex\/(data|metadata|delete|undelete|destroy)\/apex\//);
      }
    }
  });

  it("the viewer sees names and versions only; the agent reads only agents' credentials", () => {
    const viewer = parseVaultPolicy(renderVaultPolicy(apexVaultPolicies("apex").viewer));
    expect(viewer.every((r) => r.path.startsWith("apex/metadata/"))).toBe(true);
    const agent = parseVaultPolicy(renderVaultPolicy(apexVaultPolicies("apex").agent));
    expect(agent).toEqual([
      { path: "apex/data/apex/agents/*", capabilities: ["read"] },
      { path: "apex/metadata/apex/agents/*", capabilities: ["list"] },
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

  it("creates Apex's own KV v2 mount (not the pre-mounted secret/), and writes no LLM secret when no key is configured", () => {
    expect(dev.one("vault:index/mount:Mount").inputs).toMatchObject({ path: "apex", type: "kv", options: { version: "2" } });
    expect(dev.ofType("vault:kv/secretV2:SecretV2")).toEqual([]);
    expect(dev.ofType("vault:index/authBackend:AuthBackend")).toEqual([]);
  });

  it("stores a configured LLM key through the write-only field, never in plain state", () => {
    const s = devWithKeys.one("vault:kv/secretV2:SecretV2");
    expect(s.inputs).toMatchObject({ mount: "apex", name: "apex/llm", dataJsonWoVersion: 1 });
    expect(JSON.parse(s.inputs.dataJsonWo)).toEqual({ OPENAI_API_KEY: KEYS.openaiApiKey });
    expect(s.inputs.dataJson).toBeUndefined();
    expect(s.plainInputs.dataJsonWo).toBe("[secret]");
    expect(JSON.stringify(s.plainInputs)).not.toContain(KEYS.openaiApiKey);
  });
});

describe("prod: existing Vault with Kubernetes auth", () => {
  it("points the provider at apex:vaultAddress and owns a dedicated KV v2 mount `apex`", () => {
    expect(prod.one("pulumi:providers:vault").inputs.address).toBe("https://vault.example.com:8200");
    expect(prod.one("vault:index/mount:Mount").inputs).toMatchObject({ path: "apex", type: "kv", options: { version: "2" } });
    expect(prod.ofType("vault:index/mount:Mount").map((m) => m.inputs.path)).not.toContain("secret");
    expect(prod.outputs.vault.devRootToken).toBeUndefined();
  });

  it("configures its own auth mount with the API server address and CA from config, the client's JWT as reviewer", () => {
    expect(prod.one("vault:index/authBackend:AuthBackend").inputs).toMatchObject({ type: "kubernetes", path: "kubernetes-apex" });
    const config = prod.one("vault:kubernetes/authBackendConfig:AuthBackendConfig").inputs;
    expect(config).toMatchObject({ backend: "kubernetes-apex", kubernetesHost: TEST_KUBERNETES_HOST, kubernetesCaCert: TEST_CLUSTER_CA, disableLocalCaJwt: true });
    expect(config.tokenReviewerJwt).toBeUndefined();
  });

  it("binds the api and worker ServiceAccounts to apex-read and the operator's to apex-secrets-sync", () => {
    const roles = prod.ofType("vault:kubernetes/authBackendRole:AuthBackendRole").map((r) => r.inputs);
    const role = (sa: string, policy: string) => expect.objectContaining({
      backend: "kubernetes-apex",
      roleName: sa,
      boundServiceAccountNames: [sa],
      boundServiceAccountNamespaces: ["apex"],
      tokenPolicies: [policy],
      tokenTtl: 3600,
    });
    expect(roles).toEqual([role(services.api.name, "apex-read"), role(services.worker.name, "apex-read"), role(SECRETS_SYNC_SERVICE_ACCOUNT, "apex-secrets-sync")]);
    expect(roles.find((r) => r.roleName === SECRETS_SYNC_SERVICE_ACCOUNT)?.audience).toBe("vault");
    // The ServiceAccounts exist under exactly those names.
    for (const sa of [services.api.name, services.worker.name, SECRETS_SYNC_SERVICE_ACCOUNT]) {
      prod.one("kubernetes:core/v1:ServiceAccount", (r) => r.inputs.metadata.name === sa && r.inputs.metadata.namespace === "apex");
    }
  });

  it("writes both LLM keys write-only into apex/llm of the mount; no key value appears in plain state or outputs", () => {
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

  it("refuses a prod stack without apex:vault.kubernetesHost (no kubernetes.default.svc for an external Vault), naming the key", async () => {
    await expect(runStack({ stack: "prod", secrets: KEYS, config: { vault: { kubernetesHost: undefined } } })).rejects.toThrow(/apex:vault\.kubernetesHost: required when apex:target is "kubernetes"/);
  });

  it("refuses a CA that is not PEM certificates, naming the key", async () => {
    const problems = await configProblems({ stack: "prod", secrets: KEYS, config: { vault: { kubernetesCaCert: "-----BEGIN CERTIFICATE-----\nnot base64 DER\n-----END CERTIFICATE-----\n" } } });
    expect(problems).toEqual([expect.stringMatching(/^apex:vault\.kubernetesCaCert: expected PEM certificates/)]);
    const plain = await configProblems({ stack: "prod", secrets: KEYS, config: { vault: { kubernetesCaCert: "LS0tLS1CRUdJTi==" } } });
    expect(plain).toEqual([expect.stringMatching(/^apex:vault\.kubernetesCaCert: expected PEM certificates/)]);
  });

  it("an adopted auth mount gets roles only: no AuthBackend, no config, and no host or CA needed", async () => {
    const run = await runStack({ stack: "prod", secrets: KEYS, config: { vault: { kubernetesAuth: { path: "kubernetes", manage: false }, kubernetesHost: undefined, kubernetesCaCert: undefined } } });
    expect(run.ofType("vault:index/authBackend:AuthBackend")).toEqual([]);
    expect(run.ofType("vault:kubernetes/authBackendConfig:AuthBackendConfig")).toEqual([]);
    expect(run.ofType("vault:kubernetes/authBackendRole:AuthBackendRole").map((r) => r.inputs.backend)).toEqual(["kubernetes", "kubernetes", "kubernetes"]);
  });
});

describe("prod: LLM keys from Vault through a secrets operator", () => {
  const envOf = (run: StackRun, deployment: string) =>
    run.one("kubernetes:apps/v1:Deployment", (r) => r.inputs.metadata.name === deployment).inputs.spec.template.spec.containers[0].env as { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  const keyRefs = (run: StackRun, deployment: string) => Object.fromEntries(envOf(run, deployment)
    .filter((e) => e.name === "OPENAI_API_KEY" || e.name === "ANTHROPIC_API_KEY")
    .map((e) => [e.name, e.valueFrom?.secretKeyRef]));
  const crd = (run: StackRun, kind: string) => run.one("kubernetes:" + (kind.startsWith("Vault") ? "secrets.hashicorp.com/v1beta1" : "external-secrets.io/v1") + ":" + kind);

  it("ESO (prod default): a SecretStore on Apex's mount logging in as apex-secrets-sync, an ExternalSecret copying apex/llm into apex-llm-keys", () => {
    const store = crd(prod, "SecretStore").inputs;
    expect(store.metadata).toMatchObject({ name: "apex-vault", namespace: "apex" });
    expect(store.spec.provider.vault).toMatchObject({
      server: "https://vault.example.com:8200",
      path: "apex",
      version: "v2",
      auth: { kubernetes: { mountPath: "kubernetes-apex", role: SECRETS_SYNC_SERVICE_ACCOUNT, serviceAccountRef: { name: SECRETS_SYNC_SERVICE_ACCOUNT, audiences: ["https://kubernetes.default.svc"] } } },
    });
    const es = crd(prod, "ExternalSecret").inputs;
    expect(es.metadata.annotations).toEqual({ "pulumi.com/waitFor": "condition=Ready" });
    expect(es.spec).toMatchObject({ secretStoreRef: { kind: "SecretStore", name: "apex-vault" }, target: { name: LLM_KEYS_SECRET, creationPolicy: "Owner" } });
    expect(es.spec.data).toEqual(["OPENAI_API_KEY", "ANTHROPIC_API_KEY"].map((k) => ({ secretKey: k, remoteRef: { key: "apex/llm", property: k } })));
    // The KV path the ExternalSecret reads is the one the program writes.
    expect(prod.one("vault:kv/secretV2:SecretV2").inputs).toMatchObject({ mount: "apex", name: es.spec.data[0].remoteRef.key });
  });

  it("the operator's ServiceAccount may review tokens (system:auth-delegator), nothing more", () => {
    const binding = prod.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", (r) => r.inputs.roleRef.name === "system:auth-delegator");
    expect(binding.inputs.subjects).toEqual([{ kind: "ServiceAccount", name: SECRETS_SYNC_SERVICE_ACCOUNT, namespace: "apex" }]);
  });

  it("api and workers read the keys from apex-llm-keys, which apex-secrets no longer holds; they start after the sync", () => {
    for (const d of [services.api.name, services.worker.name]) {
      expect(keyRefs(prod, d)).toEqual({
        OPENAI_API_KEY: { name: LLM_KEYS_SECRET, key: "OPENAI_API_KEY" },
        ANTHROPIC_API_KEY: { name: LLM_KEYS_SECRET, key: "ANTHROPIC_API_KEY" },
      });
    }
    const stackSecret = prod.one("kubernetes:core/v1:Secret", (r) => r.inputs.metadata.name === "apex-secrets");
    expect(Object.keys(stackSecret.inputs.stringData)).not.toContain("OPENAI_API_KEY");
    expect(prod.dependenciesOf(prod.one("apex:runtime:ApexRuntime")).map((d) => d.type)).toContain("kubernetes:external-secrets.io/v1:ExternalSecret");
  });

  it("VSO: VaultConnection, VaultAuth as apex-secrets-sync, VaultStaticSecret into apex-llm-keys restarting api and workers", async () => {
    const run = await runStack({ stack: "prod", secrets: KEYS, config: { vault: { secretsOperator: "vault-secrets-operator" } } });
    expect(run.ofType("kubernetes:external-secrets.io/v1:SecretStore")).toEqual([]);
    expect(crd(run, "VaultConnection").inputs.spec).toMatchObject({ address: "https://vault.example.com:8200", skipTLSVerify: false });
    expect(crd(run, "VaultAuth").inputs.spec).toMatchObject({
      vaultConnectionRef: "apex-vault", method: "kubernetes", mount: "kubernetes-apex",
      kubernetes: { role: SECRETS_SYNC_SERVICE_ACCOUNT, serviceAccount: SECRETS_SYNC_SERVICE_ACCOUNT, audiences: ["vault", "https://kubernetes.default.svc"] },
    });
    expect(crd(run, "VaultStaticSecret").inputs.spec).toMatchObject({
      vaultAuthRef: "apex-vault", mount: "apex", type: "kv-v2", path: "apex/llm",
      destination: { name: LLM_KEYS_SECRET, create: true },
      rolloutRestartTargets: [{ kind: "Deployment", name: services.api.name }, { kind: "Deployment", name: services.worker.name }],
    });
    expect(keyRefs(run, services.worker.name).OPENAI_API_KEY).toEqual({ name: LLM_KEYS_SECRET, key: "OPENAI_API_KEY" });
  });

  it("none: no operator objects, apex-secrets stays the source", async () => {
    const run = await runStack({ stack: "prod", secrets: KEYS, config: { vault: { secretsOperator: "none" } } });
    expect(run.resources.filter((r) => /external-secrets\.io|secrets\.hashicorp\.com/.test(r.type))).toEqual([]);
    expect(run.ofType("vault:kubernetes/authBackendRole:AuthBackendRole").map((r) => r.inputs.roleName)).not.toContain(SECRETS_SYNC_SERVICE_ACCOUNT);
    expect(keyRefs(run, services.api.name)).toEqual({
      OPENAI_API_KEY: { name: "apex-secrets", key: "OPENAI_API_KEY" },
      ANTHROPIC_API_KEY: { name: "apex-secrets", key: "ANTHROPIC_API_KEY" },
    });
  });

  it("refuses an operator on the docker target, naming the key", async () => {
    const problems = await configProblems({ stack: "dev", config: { vault: { secretsOperator: "external-secrets" } } });
    expect(problems).toEqual([expect.stringMatching(/^apex:vault\.secretsOperator: expected "none" on target "docker"/)]);
  });
});
