import { describe, expect, it } from "vitest";
import { evaluatePolicies } from "../lib/evaluate";
import {
  dataStorePolicies,
  elastiCacheAuthFailover,
  rdsForceSsl,
  rdsInstanceType,
  rdsParameterGroupType,
  rdsProductionReady,
} from "../rules/data-stores";
import { resource } from "./fixtures";

const kmsKey = "arn:aws:kms:eu-west-1:123456789012:key/0123abcd-mock";
const rds = (props: Record<string, unknown>) => resource(rdsInstanceType, "db", props);
const compliantRds = {
  engine: "postgres",
  storageEncrypted: true,
  kmsKeyId: kmsKey,
  backupRetentionPeriod: 14,
  publiclyAccessible: false,
  multiAz: true,
  deletionProtection: true,
  skipFinalSnapshot: false,
  performanceInsightsEnabled: true,
  parameterGroupName: "apex-rds-params-1234",
};
const forceSslGroup = (name: string, value: unknown) =>
  resource(rdsParameterGroupType, `pg-${name}`, { name, family: "postgres16", parameters: [{ name: "rds.force_ssl", value }] });

describe("rds-multi-az-protected", () => {
  const check = rdsProductionReady.check;
  it("passes a Multi-AZ, deletion-protected, KMS-encrypted instance with Performance Insights", () => {
    expect(check(rds(compliantRds))).toEqual([]);
  });
  it("names each missing guard", () => {
    const found = check(rds({ ...compliantRds, multiAz: false, deletionProtection: false, skipFinalSnapshot: true, kmsKeyId: "", performanceInsightsEnabled: false }));
    expect(found).toEqual([
      expect.stringContaining("multiAz"),
      expect.stringContaining("deletionProtection"),
      expect.stringContaining("skipFinalSnapshot"),
      expect.stringContaining("kmsKeyId"),
      expect.stringContaining("performanceInsightsEnabled"),
    ]);
    expect(found[0]).toContain(`${rdsInstanceType} "db"`);
  });
  it("treats unset guards as off, and ignores other types", () => {
    expect(check(rds({}))).toHaveLength(4); // skipFinalSnapshot unset is the provider's false
    expect(check(resource("aws:elasticache/replicationGroup:ReplicationGroup", "db", {}))).toEqual([]);
  });
});

describe("rds-force-ssl (stack)", () => {
  const check = rdsForceSsl.check;
  it("passes an instance whose parameter group of the stack sets rds.force_ssl = 1", () => {
    expect(check([rds(compliantRds), forceSslGroup("apex-rds-params-1234", "1")])).toEqual([]);
  });
  it("fails the default group, a group with force_ssl 0, and an unset group name", () => {
    expect(check([rds({ ...compliantRds, parameterGroupName: "default.postgres16" }), forceSslGroup("apex-rds-params-1234", "1")])).toEqual([
      { urn: expect.stringContaining("db"), message: expect.stringContaining('"default.postgres16" is not a parameter group of the stack') },
    ]);
    expect(check([rds(compliantRds), forceSslGroup("apex-rds-params-1234", "0")])).toHaveLength(1);
    expect(check([rds({ ...compliantRds, parameterGroupName: undefined })])[0]?.message).toContain("parameterGroupName is unset");
  });
  it("looks only at Postgres instances", () => {
    expect(check([rds({ ...compliantRds, engine: "mysql", parameterGroupName: undefined })])).toEqual([]);
  });
});

describe("elasticache-auth-failover", () => {
  const check = elastiCacheAuthFailover.check;
  const rg = (props: Record<string, unknown>) => resource("aws:elasticache/replicationGroup:ReplicationGroup", "redis", props);
  const compliant = { authToken: "0123456789abcdef0123", automaticFailoverEnabled: true, multiAzEnabled: true, numCacheClusters: 2 };
  it("passes an AUTH-protected group that fails over to a replica in another zone", () => {
    expect(check(rg(compliant))).toEqual([]);
    expect(check(rg({ ...compliant, numCacheClusters: undefined, replicasPerNodeGroup: 1 }))).toEqual([]);
  });
  it("fails a group without token, failover, Multi-AZ or replica", () => {
    expect(check(rg({ ...compliant, authToken: undefined, automaticFailoverEnabled: false, multiAzEnabled: "false", numCacheClusters: 1 }))).toEqual([
      expect.stringContaining("authToken is unset"),
      expect.stringContaining("automaticFailoverEnabled"),
      expect.stringContaining("multiAzEnabled"),
      expect.stringContaining("0 replicas"),
    ]);
    expect(check(rg({}))).toHaveLength(4);
  });
});

describe("the data store policies through the pack's callbacks", () => {
  it("report a public, unencrypted, short-retention instance and stay quiet on a compliant stack", async () => {
    const good = [rds(compliantRds), forceSslGroup("apex-rds-params-1234", "1")];
    expect(await evaluatePolicies(dataStorePolicies, good)).toEqual([]);
    const bad = [rds({ ...compliantRds, storageEncrypted: false, publiclyAccessible: true, backupRetentionPeriod: 1 })];
    const findings = await evaluatePolicies(dataStorePolicies, bad);
    expect(findings.map((f) => f.policy).sort()).toEqual(["rds-encrypted-backed-up-private", "rds-encrypted-backed-up-private", "rds-encrypted-backed-up-private", "rds-force-ssl"]);
    expect(findings.every((f) => f.enforcementLevel === "mandatory")).toBe(true);
  });
});
