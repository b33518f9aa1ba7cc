/**
 * `pulumi destroy --stack prod` stops before it deletes anything that holds data: the engine
 * refuses to delete a `protect`ed resource (its preview fails with "resource ... is protected"),
 * and a `retainOnDelete` one that is deleted anyway stays in the cloud/cluster. Asserted on the
 * recorded options of both prod variants; dev stays destroyable.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { runStack, type RecordedResource, type StackRun } from "./harness";

/** What holds data in prod, by type token: each one must stop a destroy. */
const statefulTypes = {
  managed: [
    "aws:rds/instance:Instance",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:ecr/repository:Repository",
    "kubernetes:core/v1:Namespace",
    "vault:index/mount:Mount",
  ],
  inCluster: ["kubernetes:core/v1:Namespace", "vault:index/mount:Mount"],
} as const;

/**
 * Resources whose loss makes the data unreadable or unreachable, protected with it: the KMS keys
 * the database and cache are encrypted with, the Kubernetes auth mount the workloads log in through.
 */
const dataAdjacent = ["aws:kms/key:Key", "vault:index/authBackend:AuthBackend"];

/** The resources a destroy would stop on (the engine checks protection before deleting anything). */
const destroyStopsOn = (run: StackRun): RecordedResource[] => run.resources.filter((r) => r.custom && r.protect);

const runs: Record<string, StackRun> = {};
beforeAll(async () => {
  runs.managed = await runStack({ stack: "prod" });
  runs.inCluster = await runStack({ stack: "prod", config: { dataStores: "in-cluster" } });
  runs.dev = await runStack({ stack: "dev" });
}, 120_000);

describe("pulumi destroy of prod", () => {
  it("stops on the managed database, cache, image repositories, namespaces and Vault mount", () => {
    const run = runs.managed!;
    const stopping = destroyStopsOn(run);
    for (const type of statefulTypes.managed) {
      const ofType = run.ofType(type);
      expect(ofType.length, type).toBeGreaterThan(0);
      expect(ofType.filter((r) => !r.protect).map((r) => r.name), `${type} not protected`).toEqual([]);
    }
    // Only what holds data (or decrypts it) is protected: a protected Deployment would block every rollout.
    expect(stopping.filter((r) => !(statefulTypes.managed as readonly string[]).includes(r.type) && !dataAdjacent.includes(r.type)).map((r) => `${r.type} ${r.name}`)).toEqual([]);
    // The database and the cache also stay in AWS if someone unprotects and deletes them.
    for (const type of ["aws:rds/instance:Instance", "aws:elasticache/replicationGroup:ReplicationGroup"]) {
      expect(run.ofType(type).every((r) => r.retainOnDelete), type).toBe(true);
    }
  });

  it("with in-cluster stores: stops on the namespaces and the Vault mount; StatefulSets keep their volumes", () => {
    const run = runs.inCluster!;
    for (const type of statefulTypes.inCluster) {
      expect(run.ofType(type).length, type).toBeGreaterThan(0);
      expect(run.ofType(type).every((r) => r.protect), type).toBe(true);
    }
    const statefulSets = run.ofType("kubernetes:apps/v1:StatefulSet");
    expect(statefulSets.map((r) => r.inputs.metadata.name)).toContain("postgres");
    for (const s of statefulSets) {
      // Not protected (an immutable field change replaces a StatefulSet), but never takes its volumes along.
      expect(s.retainOnDelete, s.name).toBe(true);
      expect(s.inputs.spec.persistentVolumeClaimRetentionPolicy, s.name).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    }
  });

  it("dev stays destroyable: nothing protected or retained", () => {
    expect(runs.dev!.resources.filter((r) => r.protect || r.retainOnDelete).map((r) => `${r.type} ${r.name}`)).toEqual([]);
  });
});
