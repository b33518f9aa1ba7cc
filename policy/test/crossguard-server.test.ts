/**
 * The pack as the Pulumi CLI sees it: policy/index.ts served by CrossGuard in its own process,
 * driven over gRPC with the Analyze / AnalyzeStack / GetAnalyzerInfo calls of `pulumi preview`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apexPolicies } from "../policies";
import { startPolicyPackServer, UNKNOWN, type PolicyPackServer } from "./crossguard-client";
import { deployment, hardenedContainer, resource } from "./fixtures";

let pack: PolicyPackServer;
beforeAll(async () => {
  pack = await startPolicyPackServer();
}, 60_000);
afterAll(() => pack?.close());

describe("policy/index.ts served by CrossGuard", () => {
  it("announces every policy with its enforcement level", async () => {
    const info = await pack.info();
    expect(info.name).toBe("apex");
    expect(info.policies).toEqual(apexPolicies.map((p) => [p.name, p.enforcementLevel]));
  });

  it("passes a compliant Deployment and reports each violation of a bad one as mandatory", async () => {
    expect((await pack.analyze(deployment("api"))).filter((d) => d.level === "mandatory")).toEqual([]);
    // The pod still says non-root and RuntimeDefault; the container drops its own hardening.
    const bad = deployment("api", { container: hardenedContainer({ image: "apex/api:latest", securityContext: undefined }) });
    const found = (await pack.analyze(bad)).filter((d) => d.level === "mandatory").map((d) => d.policy);
    expect(new Set(found)).toEqual(new Set([
      "containers-read-only-root-filesystem",
      "containers-drop-all-capabilities",
      "containers-no-privilege-escalation",
      "no-latest-images-in-prod",
      "prod-images-pinned-by-digest",
    ]));
  });

  it("a value unknown during preview is reported as advisory, not as a violation", async () => {
    const found = await pack.analyze(deployment("api", { container: hardenedContainer({ image: UNKNOWN }) }));
    expect(found.filter((d) => d.level === "mandatory")).toEqual([]);
    expect(found).toEqual(expect.arrayContaining([expect.objectContaining({ policy: "no-latest-images-in-prod", level: "advisory", message: expect.stringContaining("can't run policy") })]));
  });

  it("no policy turns a value unknown at preview into a mandatory violation", async () => {
    const pending = [
      resource("kubernetes:apps/v1:Deployment", "api", { metadata: { name: "api", namespace: "apex" }, spec: UNKNOWN }),
      resource("kubernetes:apps/v1:StatefulSet", "pg", { metadata: UNKNOWN, spec: { template: { spec: { containers: UNKNOWN } } } }),
      resource("kubernetes:core/v1:Service", "svc", { metadata: { name: "svc" }, spec: { type: UNKNOWN } }),
      resource("kubernetes:core/v1:ConfigMap", "cm", { metadata: { name: "cm" }, data: UNKNOWN }),
      resource("docker:index/container:Container", "c", { name: "c", user: UNKNOWN, readOnly: UNKNOWN, memory: UNKNOWN, envs: UNKNOWN, capabilities: UNKNOWN, securityOpts: UNKNOWN }),
      resource("vault:index/policy:Policy", "p", { name: "apex-read", policy: UNKNOWN }),
      resource("aws:rds/instance:Instance", "db", {
        storageEncrypted: UNKNOWN, backupRetentionPeriod: UNKNOWN, publiclyAccessible: UNKNOWN, multiAz: UNKNOWN, deletionProtection: UNKNOWN,
        skipFinalSnapshot: UNKNOWN, kmsKeyId: UNKNOWN, performanceInsightsEnabled: UNKNOWN, parameterGroupName: UNKNOWN,
      }),
      resource("aws:elasticache/replicationGroup:ReplicationGroup", "redis", {
        transitEncryptionEnabled: UNKNOWN, atRestEncryptionEnabled: UNKNOWN, authToken: UNKNOWN, userGroupIds: UNKNOWN,
        automaticFailoverEnabled: UNKNOWN, multiAzEnabled: UNKNOWN, numCacheClusters: UNKNOWN, replicasPerNodeGroup: UNKNOWN,
      }),
    ];
    for (const r of pending) {
      const found = await pack.analyze(r);
      expect(found.filter((d) => d.level === "mandatory"), r.type).toEqual([]);
      expect(found.some((d) => d.message.includes("can't run policy")), r.type).toBe(true);
    }
  });

  it("runs the stack policies over the whole stack", async () => {
    const ns = resource("kubernetes:core/v1:Namespace", "sandbox", { metadata: { name: "apex-sandbox" } });
    const found = await pack.analyzeStack([deployment("api"), ns]);
    expect(found.filter((d) => d.level === "mandatory").map((d) => d.policy).sort()).toEqual(["prod-deployments-have-pdb", "sandbox-namespace-default-deny-egress"]);
  });
});
