import { asArray, describe, resourcePolicy, stackPolicy } from "../lib/resource";

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

export const rdsParameterGroupType = "aws:rds/parameterGroup:ParameterGroup";

const isSet = (v: unknown): boolean => typeof v === "string" && v.trim() !== "";

export const rdsProductionReady = resourcePolicy(
  {
    name: "rds-multi-az-protected",
    description: "RDS instances run Multi-AZ with deletion protection and a final snapshot, encrypt with a KMS key, and have Performance Insights on.",
    enforcementLevel: "mandatory",
    severity: "high",
  },
  (r) => {
    if (r.type !== rdsInstanceType) return [];
    const p = r.props;
    const problems: string[] = [];
    if (p.multiAz !== true) problems.push("multiAz is not true (no standby in a second zone)");
    if (p.deletionProtection !== true) problems.push("deletionProtection is not true");
    if (p.skipFinalSnapshot === true) problems.push("skipFinalSnapshot is true (a delete leaves no snapshot)");
    if (!isSet(p.kmsKeyId)) problems.push("kmsKeyId is unset (storage encrypted with no KMS key of ours)");
    if (p.performanceInsightsEnabled !== true) problems.push("performanceInsightsEnabled is not true");
    return problems.map((m) => `${describe(r)}: ${m}`);
  },
);

/** Values RDS accepts for a boolean parameter that is on. */
const parameterOn = (v: unknown): boolean => v === "1" || v === 1 || v === "true" || v === "on";

/**
 * A stack policy: the instance names its parameter group, which lives in another resource. An
 * instance is compliant when its `parameterGroupName` is the name of a parameter group of the
 * stack that sets rds.force_ssl to 1 (the `default.postgres16` group leaves it at 0).
 */
export const rdsForceSsl = stackPolicy(
  {
    name: "rds-force-ssl",
    description: "RDS Postgres instances use a parameter group of the stack with rds.force_ssl = 1, so the server refuses connections without TLS.",
    enforcementLevel: "mandatory",
    severity: "high",
  },
  (resources) => {
    const forcing = new Set(
      resources
        .filter((r) => r.type === rdsParameterGroupType)
        .filter((g) => asArray<Record<string, unknown>>(g.props.parameters).some((p) => p.name === "rds.force_ssl" && parameterOn(p.value)))
        .map((g) => g.props.name as unknown)
        .filter(isSet),
    );
    return resources
      .filter((r) => r.type === rdsInstanceType && String(r.props.engine ?? "").startsWith("postgres"))
      .filter((r) => !forcing.has(r.props.parameterGroupName))
      .map((r) => ({
        urn: r.urn,
        message: `${describe(r)}: parameterGroupName ${isSet(r.props.parameterGroupName) ? `"${String(r.props.parameterGroupName)}" is not` : "is unset, so it is not"} a parameter group of the stack with rds.force_ssl = 1`,
      }));
  },
);

export const elastiCacheAuthFailover = resourcePolicy(
  {
    name: "elasticache-auth-failover",
    description: "ElastiCache replication groups require an AUTH token and fail over automatically, across zones, to at least one replica.",
    enforcementLevel: "mandatory",
    severity: "high",
  },
  (r) => {
    if (r.type !== elastiCacheReplicationGroupType) return [];
    const p = r.props;
    const problems: string[] = [];
    if (!isSet(p.authToken) && asArray(p.userGroupIds).length === 0) problems.push("authToken is unset (and no RBAC user group): any client in the network may connect");
    if (!isOn(p.automaticFailoverEnabled)) problems.push("automaticFailoverEnabled is not true");
    if (!isOn(p.multiAzEnabled)) problems.push("multiAzEnabled is not true");
    const replicas = typeof p.numCacheClusters === "number" ? p.numCacheClusters - 1 : p.replicasPerNodeGroup;
    if (typeof replicas !== "number" || replicas < 1) {
      problems.push(`${replicas === undefined ? "no replica count" : `${String(replicas)} replicas`} (need >= 1: numCacheClusters >= 2 or replicasPerNodeGroup >= 1)`);
    }
    return problems.map((m) => `${describe(r)}: ${m}`);
  },
);

/** The data store policies, in the order the pack reports them. */
export const dataStorePolicies = [rdsHardened, rdsProductionReady, rdsForceSsl, elastiCacheEncrypted, elastiCacheAuthFailover] as const;
