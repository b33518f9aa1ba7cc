import { z } from "zod";
import { networkSources } from "./cluster";
import { describeGiven, type ConfigProblem } from "./errors";
import { nonEmptyText, oneOf, section } from "./fields";
import type { ApexConfig } from "./index";
import { plainSection } from "./section";

/**
 * Data tier keys (namespace `apex`, docs/aws.md): where Postgres and Redis run, and the settings
 * of the managed variant (RDS Postgres 16, ElastiCache Redis 7 replication group).
 */

/** Backups kept at least this many days (also what policy rds-encrypted-backed-up-private demands). */
export const minimumBackupRetentionDays = 7;

const intIn = (min: number, max: number, form: string) => {
  const e = { error: `expected ${form}` };
  return z.number(e).int(e).min(min, e).max(max, e);
};

/** `ddd:hh24:mi-ddd:hh24:mi` (UTC), RDS and ElastiCache maintenance windows. */
const weeklyWindow = () => {
  const e = { error: 'expected a weekly UTC window such as "sun:03:00-sun:04:00"' };
  return z.string(e).regex(/^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d-(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d$/, e);
};

/** `hh24:mi-hh24:mi` (UTC), daily backup/snapshot windows. */
const dailyWindow = () => {
  const e = { error: 'expected a daily UTC window such as "01:00-02:00"' };
  return z.string(e).regex(/^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/, e);
};

const kmsKeyArn = () => {
  const e = { error: 'expected a KMS key ARN such as "arn:aws:kms:eu-west-1:123456789012:key/..."' };
  return z.string(e).regex(/^arn:aws(-[a-z]+)*:kms:[a-z0-9-]+:\d{12}:key\/[\w-]+$/, e);
};

export const awsDataStoreSections = {
  dataStores: plainSection({
    description: "Where Postgres and Redis run: `in-cluster` (containers / StatefulSets of the stack) or `managed` (RDS Postgres 16 and ElastiCache Redis 7 through @pulumi/aws; target kubernetes).",
    schema: oneOf(["in-cluster", "managed"]),
    defaults: { all: "in-cluster" },
  }),
  rds: plainSection({
    description: "Managed Postgres (apex:dataStores managed): instance class, storage (GiB, autoscaling ceiling), engine version, backups, windows, Performance Insights, KMS key (default: one the stack creates).",
    schema: section({
      instanceClass: nonEmptyText('an RDS instance class such as "db.m6g.large"'),
      allocatedStorage: intIn(20, 65536, "GiB from 20 to 65536"),
      maxAllocatedStorage: intIn(20, 65536, "GiB from 20 to 65536 (the storage autoscaling ceiling)"),
      engineVersion: nonEmptyText('a Postgres 16 version such as "16" or "16.4"'),
      backupRetentionDays: intIn(minimumBackupRetentionDays, 35, `days from ${minimumBackupRetentionDays} to 35`),
      backupWindow: dailyWindow(),
      maintenanceWindow: weeklyWindow(),
      performanceInsightsRetentionDays: z.union([z.literal(7), z.literal(731)], { error: "expected 7 (free tier) or 731 days" }),
      kmsKeyArn: kmsKeyArn().optional(),
    }),
    defaults: {
      all: {
        instanceClass: "db.m6g.large",
        allocatedStorage: 50,
        maxAllocatedStorage: 500,
        engineVersion: "16",
        backupRetentionDays: 14,
        backupWindow: "01:00-02:00",
        maintenanceWindow: "sun:03:00-sun:04:00",
        performanceInsightsRetentionDays: 7,
      },
    },
  }),
  elasticache: plainSection({
    description: "Managed Redis (apex:dataStores managed): node type, engine version, replicas per shard (>= 1 for failover), snapshot retention, windows, KMS key (default: the stack's).",
    schema: section({
      nodeType: nonEmptyText('an ElastiCache node type such as "cache.m6g.large"'),
      engineVersion: nonEmptyText('a Redis 7 version such as "7.1"'),
      replicas: intIn(1, 5, "replicas from 1 to 5 (automatic failover needs one)"),
      snapshotRetentionDays: intIn(1, 35, "days from 1 to 35"),
      snapshotWindow: dailyWindow(),
      maintenanceWindow: weeklyWindow(),
      kmsKeyArn: kmsKeyArn().optional(),
    }),
    defaults: {
      all: {
        nodeType: "cache.m6g.large",
        engineVersion: "7.1",
        replicas: 1,
        snapshotRetentionDays: 7,
        snapshotWindow: "02:00-03:00",
        maintenanceWindow: "sun:04:00-sun:05:00",
      },
    },
  }),
} as const;

/** Rules across the data tier keys, run with the other cross-key checks. */
export function awsDataStoreCrossChecks(c: ApexConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (c.rds.maxAllocatedStorage < c.rds.allocatedStorage) {
    problems.push({ key: "apex:rds.maxAllocatedStorage", message: `expected at least apex:rds.allocatedStorage (${c.rds.allocatedStorage}), got ${c.rds.maxAllocatedStorage}` });
  }
  if (!/^16(\.\d+)?$/.test(c.rds.engineVersion)) {
    problems.push({ key: "apex:rds.engineVersion", message: `expected Postgres 16 ("16" or "16.<minor>"; the parameter group is family postgres16), got ${describeGiven(c.rds.engineVersion)}` });
  }
  if (!/^7(\.\d+)?$/.test(c.elasticache.engineVersion)) {
    problems.push({ key: "apex:elasticache.engineVersion", message: `expected Redis 7 ("7" or "7.<minor>"), got ${describeGiven(c.elasticache.engineVersion)}` });
  }
  if (c.dataStores !== "managed") return problems;
  if (c.target !== "kubernetes") {
    problems.push({ key: "apex:dataStores", message: `"managed" needs apex:target "kubernetes" (the runtime must run in the VPC): expected "in-cluster" on target "${c.target}", got "managed"` });
  }
  const missing = Object.entries(networkSources(c)).filter(([, source]) => source === undefined).map(([field]) => field);
  for (const field of missing) {
    problems.push({ key: `apex:aws.${field}`, message: 'required when apex:dataStores is "managed" (the data stores\' subnets, security groups and NetworkPolicy egress): set it, or take it from apex:cluster.stackReference; got nothing' });
  }
  return problems;
}
