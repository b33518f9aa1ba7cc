import { describe, resourcePolicy } from "../lib/resource";

export const rdsInstanceType = "aws:rds/instance:Instance";
export const elastiCacheReplicationGroupType = "aws:elasticache/replicationGroup:ReplicationGroup";

export const minimumBackupRetentionDays = 7;

export const rdsHardened = resourcePolicy(
  {
    name: "rds-encrypted-backed-up-private",
    description: `RDS instances are storage-encrypted, keep backups at least ${minimumBackupRetentionDays} days and are not publicly accessible.`,
    enforcementLevel: "mandatory",
    severity: "critical",
  },
  (r) => {
    if (r.type !== rdsInstanceType) return [];
    const p = r.props;
    const problems: string[] = [];
    if (p.storageEncrypted !== true) problems.push("storageEncrypted is not true");
    const retention = p.backupRetentionPeriod;
    if (typeof retention !== "number" || retention < minimumBackupRetentionDays) {
      problems.push(`backupRetentionPeriod is ${retention === undefined ? "unset" : String(retention)} (need >= ${minimumBackupRetentionDays})`);
    }
    if (p.publiclyAccessible === true) problems.push("publiclyAccessible is true");
    return problems.map((m) => `${describe(r)}: ${m}`);
  },
);

/** The provider has typed these as booleans and, in later majors, as "true"/"false" strings. */
const isOn = (v: unknown): boolean => v === true || v === "true";

export const elastiCacheEncrypted = resourcePolicy(
  {
    name: "elasticache-encrypted",
    description: "ElastiCache replication groups encrypt in transit and at rest.",
    enforcementLevel: "mandatory",
    severity: "high",
  },
  (r) => {
    if (r.type !== elastiCacheReplicationGroupType) return [];
    const problems = [
      ...(isOn(r.props.transitEncryptionEnabled) ? [] : ["transitEncryptionEnabled is not true"]),
      ...(isOn(r.props.atRestEncryptionEnabled) ? [] : ["atRestEncryptionEnabled is not true"]),
    ];
    return problems.map((m) => `${describe(r)}: ${m}`);
  },
);
