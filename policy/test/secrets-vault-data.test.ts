import { describe, expect, it } from "vitest";
import { isSecretName, secretValueShape } from "../lib/secrets";
import { isOverbroadPath, parseVaultPolicy } from "../lib/vault";
import { elastiCacheEncrypted, rdsHardened } from "../rules/data-stores";
import { recommendedLabelsPresent } from "../rules/labels";
import { noPlainSecrets } from "../rules/secrets";
import { vaultPoliciesLeastPrivilege } from "../rules/vault";
import { deployment, hardenedContainer, hardenedDockerContainer, labels, resource } from "./fixtures";

describe("no-plain-secrets", () => {
  const check = noPlainSecrets.check;
  const withEnv = (env: unknown) => deployment("api", { container: hardenedContainer({ env }) });
  it("passes secretKeyRef env, plain config, and file/path pointers", () => {
    expect(check(deployment("api"))).toEqual([]);
    expect(check(withEnv([{ name: "VAULT_TOKEN_PATH", value: "/var/run/secrets/vault" }, { name: "DATABASE_URL", value: "postgres://apex@postgres:5432/apex" }]))).toEqual([]);
    expect(check(resource("kubernetes:core/v1:ConfigMap", "cfg", { data: { "prometheus.yml": "global:\n  scrape_interval: 15s\n", "grafana.ini": "admin_password = $__file{/etc/secrets/pw}" } }))).toEqual([]);
    expect(check(hardenedDockerContainer({ envs: ["OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwxyz", "LOG_LEVEL=info"] }))).toEqual([]);
  });
  it("fails a literal secret-named env var, a credential-shaped value, and ConfigMap secrets", () => {
    expect(check(withEnv([{ name: "OPENAI_API_KEY", value: "x" }]))).toEqual([expect.stringContaining("env OPENAI_API_KEY holds a literal value")]);
    expect(check(withEnv([{ name: "DATABASE_URL", value: "postgres://apex:hunter22@db/apex" }]))).toEqual([expect.stringContaining("embedded password")]);
    expect(check(resource("kubernetes:core/v1:ConfigMap", "cfg", { data: { POSTGRES_PASSWORD: "x" } }))).toHaveLength(1);
    expect(check(resource("kubernetes:core/v1:ConfigMap", "cfg", { data: { "grafana.ini": "[security]\nadmin_password = hunter22\n" } }))).toEqual([expect.stringContaining("password assignment")]);
    expect(check(hardenedDockerContainer({ envs: ["EXTRA=sk-ant-abcdefghijklmnopqrstuvwxyz"] }))).toEqual([expect.stringContaining("API key")]);
  });
  it("judges Docker uploads (the docker target's ConfigMaps) like ConfigMap data", () => {
    const withUploads = (uploads: unknown) => hardenedDockerContainer({ uploads });
    expect(check(withUploads([{ file: "/etc/prometheus/config/prometheus.yml", content: "global:\n  scrape_interval: 15s\n" }]))).toEqual([]);
    expect(check(withUploads([{ file: "/etc/alertmanager/alertmanager.yml", content: "receivers:\n- name: x\n  slack_configs:\n  - api_url: https://hooks.example.com\n    api_key: abcd1234efgh\n" }])))
      .toEqual([expect.stringContaining('upload "/etc/alertmanager/alertmanager.yml" contains a password assignment')]);
    expect(check(withUploads([{ file: "/run/secrets/db_password", content: "x" }]))).toEqual([expect.stringContaining("names a secret")]);
    expect(check(withUploads(undefined))).toEqual([]);
    expect(check(withUploads([{ file: "/etc/app/app.yml" }]))).toEqual([]);
  });
  it("undefined env, data and empty values are fine", () => {
    expect(check(withEnv(undefined))).toEqual([]);
    expect(check(withEnv([{ name: "API_TOKEN", value: "" }]))).toEqual([]);
    expect(check(resource("kubernetes:core/v1:ConfigMap", "cfg", {}))).toEqual([]);
    expect(check(hardenedDockerContainer({ envs: undefined }))).toEqual([]);
  });
  it("recognises secret names by their words", () => {
    expect(["OPENAI_API_KEY", "POSTGRES_PASSWORD", "db-password", "GITHUB_TOKEN", "aws.secret", "credentials"].every(isSecretName)).toBe(true);
    expect(["TOKENIZER", "PASSWORD_FILE", "SECRET_NAME", "LOG_LEVEL", "MAX_TOKENS", "GF_AUTH_GENERIC_OAUTH_TOKEN_URL"].some(isSecretName)).toBe(false);
    expect(secretValueShape("-----BEGIN RSA PRIVATE KEY-----\nabc")).toBe("a private key");
    expect(secretValueShape("password: ${DB_PASSWORD}")).toBeUndefined();
  });
});

const vaultPolicy = (name: unknown, policy: unknown) => resource("vault:index/policy:Policy", String(name), { name, policy });

describe("vault-policies-least-privilege", () => {
  const check = vaultPoliciesLeastPrivilege.check;
  it("passes the KV v2 apex-read policy in HCL and JSON", () => {
    const hcl = 'path "secret/data/apex/*" {\n  capabilities = ["read"]\n}\npath "secret/metadata/apex/*" {\n  capabilities = ["list"]\n}\n';
    expect(check(vaultPolicy("apex-read", hcl))).toEqual([]);
    expect(check(vaultPolicy("apex-admin", JSON.stringify({ path: { "secret/data/apex/*": { capabilities: ["create", "read", "update", "delete"] } } })))).toEqual([]);
  });
  it("fails *, the whole secret mount and sudo; a root-granting auth role too", () => {
    expect(check(vaultPolicy("apex-admin", 'path "*" { capabilities = ["read"] }'))).toEqual([expect.stringContaining('over-broad path "*"')]);
    expect(check(vaultPolicy("apex-operator", 'path "secret/*" { capabilities = ["read"] }'))).toHaveLength(1);
    expect(check(vaultPolicy("apex-viewer", 'path "secret/data/*" { capabilities = ["list"] }'))).toHaveLength(1);
    expect(check(vaultPolicy("apex-agent", 'path "sys/policy/apex" { capabilities = ["read", "sudo"] }'))).toEqual([expect.stringContaining('grants "sudo"')]);
    expect(check(resource("vault:kubernetes/authBackendRole:AuthBackendRole", "r", { tokenPolicies: ["apex-read", "root"] }))).toHaveLength(1);
    expect(check(vaultPolicy("apex-read", "{ not json"))).toEqual([expect.stringContaining("not valid JSON")]);
  });
  it("skips policies that are not apex's and an undefined document", () => {
    expect(check(vaultPolicy("platform-admin", 'path "*" { capabilities = ["sudo"] }'))).toEqual([]);
    expect(check(vaultPolicy("apex-read", undefined))).toEqual([]);
    expect(check(resource("vault:kubernetes/authBackendRole:AuthBackendRole", "r", {}))).toEqual([]);
  });
  it("parses comments and judges paths", () => {
    expect(parseVaultPolicy('# all of apex\npath "secret/data/apex/*" { capabilities = ["read"] } // ok')).toEqual([{ path: "secret/data/apex/*", capabilities: ["read"] }]);
    expect(["*", "secret/*", "secret/", "secret/+/*", "secret/metadata/*", "+/apex"].every(isOverbroadPath)).toBe(true);
    expect(["secret/data/apex/*", "secret/metadata/apex/*", "auth/token/lookup-self"].some(isOverbroadPath)).toBe(false);
  });
});

describe("rds-encrypted-backed-up-private", () => {
  const check = rdsHardened.check;
  const rds = (props: Record<string, unknown>) => resource("aws:rds/instance:Instance", "db", props);
  it("passes an encrypted private instance with 7-day backups", () => {
    expect(check(rds({ storageEncrypted: true, backupRetentionPeriod: 7, publiclyAccessible: false }))).toEqual([]);
  });
  it("fails each weakness", () => {
    expect(check(rds({ storageEncrypted: true, backupRetentionPeriod: 3, publiclyAccessible: true }))).toHaveLength(2);
  });
  it("undefined encryption and retention are violations (AWS defaults are weaker)", () => {
    expect(check(rds({}))).toEqual([expect.stringContaining("storageEncrypted"), expect.stringContaining("unset")]);
  });
});

describe("elasticache-encrypted", () => {
  const check = elastiCacheEncrypted.check;
  const rg = (props: Record<string, unknown>) => resource("aws:elasticache/replicationGroup:ReplicationGroup", "redis", props);
  it("passes both encryptions (boolean or string typed)", () => {
    expect(check(rg({ transitEncryptionEnabled: true, atRestEncryptionEnabled: "true" }))).toEqual([]);
  });
  it("fails plaintext transit", () => {
    expect(check(rg({ transitEncryptionEnabled: false, atRestEncryptionEnabled: true }))).toEqual([expect.stringContaining("transitEncryptionEnabled")]);
  });
  it("undefined means off", () => {
    expect(check(rg({}))).toHaveLength(2);
  });
});

describe("kubernetes-recommended-labels (advisory)", () => {
  const check = recommendedLabelsPresent.check;
  it("passes labelled objects and ignores non-Kubernetes resources", () => {
    expect(recommendedLabelsPresent.enforcementLevel).toBe("advisory");
    expect(check(resource("kubernetes:core/v1:Service", "s", { metadata: { labels } }))).toEqual([]);
    expect(check(hardenedDockerContainer())).toEqual([]);
  });
  it("names the missing labels", () => {
    expect(check(resource("kubernetes:core/v1:Service", "s", { metadata: { labels: { "app.kubernetes.io/name": "x" } } }))).toEqual([
      expect.stringContaining("app.kubernetes.io/part-of, app.kubernetes.io/managed-by"),
    ]);
  });
  it("undefined metadata lacks all three", () => {
    expect(check(resource("kubernetes:core/v1:Service", "s", {}))).toHaveLength(1);
  });
});
