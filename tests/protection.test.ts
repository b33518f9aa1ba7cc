import { beforeAll, describe, expect, it } from "vitest";
import { configSections } from "../config/sections";
import { parseVaultPolicy } from "../policy/lib/vault";
import { runStack, type RecordedResource, type StackRun } from "./harness";

/**
 * apex:protection on what holds data (docs/protection.md): Namespaces and Vault mounts are kept
 * (protect + retainOnDelete), StatefulSets only retained (protect would block legitimate
 * replacements) with their PVCs retained by the retention policy; dev guards nothing.
 */
const KEYS = { openaiApiKey: "sk-openai-PROTECTION-TEST-0123", anthropicApiKey: "sk-ant-PROTECTION-TEST-0123" };

let prod: StackRun;
let prodInCluster: StackRun;
let dev: StackRun;
beforeAll(async () => {
  prod = await runStack({ stack: "prod", secrets: KEYS });
  // The in-cluster stores (StatefulSets with PVCs); prod without apex:dataStores has only those.
  prodInCluster = await runStack({ stack: "prod", secrets: KEYS, config: "dataStores" in configSections ? { dataStores: "in-cluster" } : {} });
  dev = await runStack({ stack: "dev" });
});

const kept = ["kubernetes:core/v1:Namespace", "vault:index/mount:Mount", "vault:index/authBackend:AuthBackend"];
const guards = (r: RecordedResource) => ({ name: r.name, protect: r.protect, retainOnDelete: r.retainOnDelete });

describe("prod: nothing that holds data is destroyable by accident", () => {
  it("both Namespaces and both Vault mounts are protected and retained", () => {
    for (const run of [prod, prodInCluster]) {
      const resources = run.resources.filter((r) => kept.includes(r.type));
      expect(resources.map((r) => r.type).sort()).toEqual([
        "kubernetes:core/v1:Namespace", "kubernetes:core/v1:Namespace", "vault:index/authBackend:AuthBackend", "vault:index/mount:Mount",
      ]);
      for (const r of resources) expect(guards(r)).toEqual({ name: r.name, protect: true, retainOnDelete: true });
    }
  });

  it("every StatefulSet is retained (not protected) and keeps its PVCs when deleted or scaled down", () => {
    const statefulSets = [...prod.ofType("kubernetes:apps/v1:StatefulSet"), ...prodInCluster.ofType("kubernetes:apps/v1:StatefulSet")];
    // The in-cluster Postgres at least: the check below covers something.
    expect(prodInCluster.ofType("kubernetes:apps/v1:StatefulSet").map((s) => s.inputs.metadata.name)).toContain("postgres");
    for (const s of statefulSets) {
      expect(guards(s)).toEqual({ name: s.name, protect: false, retainOnDelete: true });
      expect(s.inputs.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    }
  });

  it("a `pulumi destroy` stops: the platform Namespace (and every PVC in it) and the KV mount are protected", () => {
    const protectedNames = prod.resources.filter((r) => r.protect).map((r) => r.type);
    expect(protectedNames).toEqual(expect.arrayContaining(["kubernetes:core/v1:Namespace", "vault:index/mount:Mount"]));
  });

  it("apex:protection switches the guards off per stack", async () => {
    const run = await runStack({ stack: "prod", secrets: KEYS, config: { protection: { protect: false, retainOnDelete: false } } });
    for (const r of run.resources.filter((x) => kept.includes(x.type) || x.type === "kubernetes:apps/v1:StatefulSet")) {
      expect(guards(r)).toEqual({ name: r.name, protect: false, retainOnDelete: false });
    }
  });
});

describe("dev: no guards, so `pulumi destroy --stack dev` cleans up", () => {
  it("no resource is protected or retained", () => {
    expect(dev.resources.filter((r) => r.protect || r.retainOnDelete).map((r) => r.name)).toEqual([]);
    // The dev Vault's own mount exists, unguarded.
    expect(dev.one("vault:index/mount:Mount").protect).toBe(false);
  });
});

describe("an existing KV mount adopted by path", () => {
  let adopted: StackRun;
  beforeAll(async () => {
    adopted = await runStack({ stack: "prod", secrets: KEYS, config: { vault: { kvMount: { path: "secret", manage: false } } } });
  });

  it("creates no Mount: the program neither owns nor can delete the shared mount", () => {
    expect(adopted.ofType("vault:index/mount:Mount")).toEqual([]);
  });

  it("writes the LLM keys and grants the policies under apex/ of that mount only", () => {
    expect(adopted.one("vault:kv/secretV2:SecretV2").inputs).toMatchObject({ mount: "secret", name: "apex/llm" });
    const read = adopted.one("vault:index/policy:Policy", (r) => r.inputs.name === "apex-read").inputs.policy as string;
    expect(parseVaultPolicy(read).map((r) => r.path)).toEqual(["secret/data/apex/*", "secret/metadata/apex/*"]);
    const store = adopted.one("kubernetes:external-secrets.io/v1:SecretStore");
    expect(store.inputs.spec.provider.vault.path).toBe("secret");
  });
});
