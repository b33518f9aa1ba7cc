/** ElastiCache Redis 7 for apex:dataStores "managed" (docs/aws.md, "Data tier"). */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { services } from "../../app/src/contract";
import { keepOptions, unprotected, type Protection } from "../platform/protection";
import { clusterOnlySecurityGroup, dataStoreKmsKeyArn, type DataStoreNetwork } from "./data-store-network";

export interface ElastiCacheRedisArgs {
  /** Replication group id (1-40 characters), e.g. "apex-prod". */
  readonly replicationGroupId: string;
  readonly network: DataStoreNetwork;
  /** AUTH token (a Pulumi secret, 16-128 characters without `@`, `"`, `/`). */
  readonly authToken: pulumi.Input<string>;
  /** Default "cache.m6g.large". */
  readonly nodeType?: string;
  /** Default "7.1". */
  readonly engineVersion?: string;
  /** Read replicas besides the primary, >= 1 (automatic failover needs one). Default 1. */
  readonly replicas?: number;
  /** Days of daily snapshots. Default 7. */
  readonly snapshotRetentionDays?: number;
  /** Default "02:00-03:00" (UTC). */
  readonly snapshotWindow?: string;
  /** Default "sun:04:00-sun:05:00" (UTC). */
  readonly maintenanceWindow?: string;
  /** KMS key for at-rest encryption. Default: a key this component creates (rotation on). */
  readonly kmsKeyArn?: pulumi.Input<string>;
  /** Guards on the replication group and the key (`apex:protection`). Default: none. */
  readonly protection?: Protection;
}

const rd = services.redis;

/**
 * An ElastiCache Redis 7 replication group (cluster mode off): a primary and `replicas` replicas
 * across zones with automatic failover, TLS in transit (clients use rediss://), KMS at rest, an
 * AUTH token, daily snapshots, private (subnet group, a security group admitting 6379 from the
 * cluster's security groups only).
 */
export class ElastiCacheRedis extends pulumi.ComponentResource {
  public readonly replicationGroup: aws.elasticache.ReplicationGroup;
  public readonly securityGroup: aws.ec2.SecurityGroup;
  public readonly kmsKeyArn: pulumi.Output<string>;
  /** Primary endpoint (follows failover). */
  public readonly host: pulumi.Output<string>;
  public readonly port: pulumi.Output<number>;

  constructor(name: string, args: ElastiCacheRedisArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:aws:ElastiCacheRedis", name, {}, opts);
    const child = { parent: this };
    const keep = { ...child, ...keepOptions(args.protection ?? unprotected) };
    const replicas = args.replicas ?? 1;
    if (replicas < 1) throw new Error(`${name}: automatic failover needs at least one replica, got ${replicas}`);

    this.kmsKeyArn = dataStoreKmsKeyArn(`${name}-key`, {
      configured: args.kmsKeyArn,
      description: `${args.replicationGroupId}: ElastiCache at-rest encryption`,
    }, keep);

    this.securityGroup = clusterOnlySecurityGroup(`${name}-sg`, { owner: args.replicationGroupId, what: "Redis", port: rd.port, network: args.network }, child);

    const subnetGroup = new aws.elasticache.SubnetGroup(`${name}-subnets`, {
      description: `${args.replicationGroupId}: private subnets`,
      subnetIds: args.network.privateSubnetIds,
    }, child);

    this.replicationGroup = new aws.elasticache.ReplicationGroup(`${name}-group`, {
      replicationGroupId: args.replicationGroupId,
      description: `${args.replicationGroupId}: rate limits, breaker state, event fan-out`,
      engine: "redis",
      engineVersion: args.engineVersion ?? "7.1",
      parameterGroupName: "default.redis7",
      nodeType: args.nodeType ?? "cache.m6g.large",
      port: rd.port,
      numCacheClusters: replicas + 1,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      transitEncryptionEnabled: true,
      transitEncryptionMode: "required",
      atRestEncryptionEnabled: true,
      kmsKeyId: this.kmsKeyArn,
      authToken: pulumi.secret(args.authToken),
      // A token change keeps the old one valid until the pods have the new URL.
      authTokenUpdateStrategy: "ROTATE",
      subnetGroupName: subnetGroup.name,
      securityGroupIds: [this.securityGroup.id],
      snapshotRetentionLimit: args.snapshotRetentionDays ?? 7,
      snapshotWindow: args.snapshotWindow ?? "02:00-03:00",
      maintenanceWindow: args.maintenanceWindow ?? "sun:04:00-sun:05:00",
      autoMinorVersionUpgrade: true,
      finalSnapshotIdentifier: `${args.replicationGroupId}-final`,
      applyImmediately: false,
    }, keep);

    this.host = this.replicationGroup.primaryEndpointAddress;
    this.port = this.replicationGroup.port.apply((p) => p ?? rd.port);
    this.registerOutputs({ host: this.host, port: this.port, kmsKeyArn: this.kmsKeyArn });
  }
}
