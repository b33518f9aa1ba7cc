import { beforeAll, describe, expect, it } from "vitest";
import { clusterFromConfig } from "../components/aws/cluster-network";
import { ConfigError, loadConfig } from "../config";
import { runStack, type StackRun } from "./harness";

/**
 * Cluster wiring (docs/cluster.md): the Kubernetes provider's kubeconfig from the
 * secret apex:kubeconfig or a referenced stack, the AWS provider, the network ids from config or
 * the reference, IRSA on the worker's ServiceAccount.
 */

const KUBECONFIG = "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    token: KNOWN-kube-token-7f3a9c\n";
const REF = "acme/eks/prod";
const REF_OUTPUTS = {
  kubeconfig: { apiVersion: "v1", kind: "Config", users: [{ name: "eks", user: { token: "KNOWN-eks-token-b41d" } }] },
  vpcId: "vpc-0aaaaaaaaaaaaaaa1",
  privateSubnetIds: ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
  clusterSecurityGroupId: "sg-0ccccccccccccccc1",
  nodeSecurityGroupId: "sg-0ccccccccccccccc2",
};
/** Network keys of Pulumi.prod.yaml removed, so they come from the reference. */
const networkFromReference = {
  aws: { vpcId: undefined, privateSubnetIds: undefined, clusterSecurityGroupIds: undefined },
  cluster: { stackReference: REF, outputs: { clusterSecurityGroupIds: ["clusterSecurityGroupId", "nodeSecurityGroupId"] } },
};

const k8sProvider = (run: StackRun) => run.one("pulumi:providers:kubernetes");
const serviceAccount = (run: StackRun, name: string) =>
  run.one("kubernetes:core/v1:ServiceAccount", (r) => r.inputs.metadata.name === name);
const clusterComponent = (run: StackRun) => run.one("apex:aws:Cluster");

async function configError(config: Record<string, unknown>, secrets: Record<string, string> = {}): Promise<string> {
  const e = await runStack({ stack: "prod", config, secrets }).then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(ConfigError);
  return (e as ConfigError).message;
}

describe("prod with the network and IRSA from Pulumi.prod.yaml", () => {
  let run: StackRun;
  beforeAll(async () => {
    run = await runStack({ stack: "prod", secrets: { kubeconfig: KUBECONFIG } });
  });

  it("builds the Kubernetes provider from the secret apex:kubeconfig, secret in state", () => {
    const p = k8sProvider(run);
    expect(p.inputs.kubeconfig).toBe(KUBECONFIG);
    expect(p.plainInputs.kubeconfig).toBe("[secret]");
    expect(JSON.stringify(run.resources.map((r) => r.plainInputs))).not.toContain("KNOWN-kube-token");
  });

  it("creates one AWS provider with the region, the account guard and the stack labels as default tags", () => {
    const aws = run.ofType("pulumi:providers:aws");
    expect(aws).toHaveLength(1);
    expect(aws[0]!.inputs.region).toBe("eu-west-1");
    // The AWS provider hands structured settings to the engine as JSON text.
    expect(JSON.parse(aws[0]!.inputs.allowedAccountIds)).toEqual(["123456789012"]);
    expect(JSON.parse(aws[0]!.inputs.defaultTags).tags).toEqual({
      "app.kubernetes.io/part-of": "apex",
      "app.kubernetes.io/instance": "apex-prod",
      "app.kubernetes.io/managed-by": "pulumi",
      "apex.dev/environment": "prod",
    });
    expect(aws[0]!.parentUrn).toBe(clusterComponent(run).urn);
    expect(run.ofType("pulumi:pulumi:StackReference")).toHaveLength(0);
  });

  it("annotates only the apex-worker ServiceAccount with the IAM role (IRSA)", () => {
    expect(serviceAccount(run, "apex-worker").inputs.metadata.annotations).toEqual({
      "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/apex-prod-worker",
    });
    const others = run.ofType("kubernetes:core/v1:ServiceAccount").filter((r) => r.inputs.metadata.name !== "apex-worker");
    expect(others.length).toBeGreaterThan(0);
    for (const sa of others) expect(sa.inputs.metadata.annotations?.["eks.amazonaws.com/role-arn"]).toBeUndefined();
  });
});

describe("network ids from config", () => {
  it("passes the ids of Pulumi.prod.yaml through unchanged", async () => {
    expect(await networkFromConfig({})).toEqual({
      vpcId: "vpc-0123456789abcdef0",
      privateSubnetIds: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1", "subnet-0123456789abcdef2"],
      clusterSecurityGroupIds: ["sg-0123456789abcdef0"],
      dataSubnetCidrs: ["10.0.96.0/19", "10.0.128.0/19", "10.0.160.0/19"],
    });
  });

  it("has no network when none is configured", async () => {
    const none = { vpcId: undefined, privateSubnetIds: undefined, clusterSecurityGroupIds: undefined, dataSubnetCidrs: undefined };
    // The managed data stores (docs/aws.md) require a network; the in-cluster ones need none.
    expect(await networkFromConfig({ aws: none, dataStores: "in-cluster" })).toBeUndefined();
  });
});

describe("kubeconfig and network from a StackReference", () => {
  let run: StackRun;
  beforeAll(async () => {
    run = await runStack({ stack: "prod", config: networkFromReference, stackReferences: { [REF]: REF_OUTPUTS } });
  });

  it("reads the stack named in apex:cluster.stackReference, once", () => {
    expect(run.ofType("pulumi:pulumi:StackReference").map((r) => r.inputs.name)).toEqual([REF]);
  });

  it("gives the provider the referenced kubeconfig (an object, as pulumi-eks exports it) as JSON text, secret", () => {
    const p = k8sProvider(run);
    expect(JSON.parse(p.inputs.kubeconfig)).toEqual(REF_OUTPUTS.kubeconfig);
    expect(p.plainInputs.kubeconfig).toBe("[secret]");
    expect(JSON.stringify(run.resources.map((r) => r.plainInputs))).not.toContain("KNOWN-eks-token");
  });

  it("takes the network ids from the referenced outputs, every named security group output; the CIDRs from config", async () => {
    expect(await networkFromConfig(networkFromReference)).toEqual({
      vpcId: REF_OUTPUTS.vpcId,
      privateSubnetIds: REF_OUTPUTS.privateSubnetIds,
      clusterSecurityGroupIds: [REF_OUTPUTS.clusterSecurityGroupId, REF_OUTPUTS.nodeSecurityGroupId],
      dataSubnetCidrs: ["10.0.96.0/19", "10.0.128.0/19", "10.0.160.0/19"],
    });
  });
});

/** clusterFromConfig(loadConfig()).network for prod with `config` over Pulumi.prod.yaml, resolved. */
async function networkFromConfig(config: Record<string, unknown>, outputs: Record<string, unknown> = REF_OUTPUTS): Promise<unknown> {
  const run = await runStack({
    stack: "prod",
    config,
    stackReferences: { [REF]: outputs },
    program: () => ({ network: clusterFromConfig(loadConfig()).network }),
  });
  return run.outputs.network;
}

describe("config errors name the key", () => {
  it.each([
    ["vpcId", "vpc-123", "apex:aws.vpcId", "a VPC id"],
    ["privateSubnetIds", ["subnet-0123456789abcdef0", "sn-1"], "apex:aws.privateSubnetIds.1", "a subnet id"],
    ["clusterSecurityGroupIds", ["group-1"], "apex:aws.clusterSecurityGroupIds.0", "a security group id"],
    ["clusterSecurityGroupIds", [], "apex:aws.clusterSecurityGroupIds", "a non-empty list of security group ids"],
    ["dataSubnetCidrs", ["10.0.0.0"], "apex:aws.dataSubnetCidrs.0", "an IPv4 CIDR"],
    ["workerRoleArn", "arn:aws:iam::123:user/x", "apex:aws.workerRoleArn", "an IAM role ARN"],
    ["region", "europe", "apex:aws.region", "an AWS region"],
  ])("apex:aws.%s = %j", async (field, value, key, expected) => {
    const message = await configError({ aws: { [field]: value } });
    expect(message).toContain(`${key}: expected ${expected}`);
  });

  it("a partial network names what is missing", async () => {
    const message = await configError({ aws: { privateSubnetIds: undefined, dataSubnetCidrs: undefined } });
    expect(message).toMatch(/apex:aws\.privateSubnetIds: required with apex:aws\.vpcId: expected a list of subnet ids, got nothing/);
    expect(message).toMatch(/apex:aws\.dataSubnetCidrs: required with apex:aws\.vpcId/);
  });

  it("dataSubnetCidrs stay required with a stack reference (NetworkPolicy needs plain CIDRs)", async () => {
    const message = await configError({ ...networkFromReference, aws: { ...networkFromReference.aws, dataSubnetCidrs: undefined } });
    expect(message).toContain("apex:aws.dataSubnetCidrs: required in config even with apex:cluster.stackReference");
  });

  it("the network needs a region", async () => {
    const message = await configError({ aws: { region: undefined } });
    expect(message).toContain("apex:aws.region: required with apex:aws.vpcId");
  });

  it("refuses two kubeconfigs: the secret and the referenced stack's", async () => {
    const message = await configError(networkFromReference, { kubeconfig: KUBECONFIG });
    expect(message).toContain("apex:kubeconfig: expected either apex:kubeconfig or the kubeconfig of apex:cluster.stackReference");
    expect(message).not.toContain("KNOWN-kube-token");
  });

  it("keeps the secret kubeconfig when the reference's kubeconfig output is null", async () => {
    const run = await runStack({
      stack: "prod",
      config: { ...networkFromReference, cluster: { ...networkFromReference.cluster, outputs: { kubeconfig: null } } },
      secrets: { kubeconfig: KUBECONFIG },
      stackReferences: { [REF]: REF_OUTPUTS },
    });
    expect(k8sProvider(run).inputs.kubeconfig).toBe(KUBECONFIG);
  });

  it("refuses IRSA and a stack reference on the docker target", async () => {
    const e = await runStack({
      stack: "dev",
      config: { aws: { workerRoleArn: "arn:aws:iam::123456789012:role/x" }, cluster: { stackReference: REF, outputs: { vpcId: null, privateSubnetIds: null, clusterSecurityGroupIds: [] } } },
    }).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(ConfigError);
    expect(String(e)).toContain('apex:aws.workerRoleArn: only used on target "kubernetes"');
    expect(String(e)).toContain('apex:cluster.stackReference: only used on target "kubernetes"');
  });

  it("fails the update naming the referenced output when it holds no subnet ids", async () => {
    await expect(networkFromConfig(networkFromReference, { ...REF_OUTPUTS, privateSubnetIds: "10.0.0.0/16" }))
      .rejects.toThrow(`apex:cluster.stackReference "${REF}", output "privateSubnetIds": expected a list of subnet ids, got "10.0.0.0/16"`);
  });
});
