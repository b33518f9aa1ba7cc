import { z } from "zod";
import type { ConfigProblem } from "./errors";
import { ipv4Cidr, list, nonEmptyText, section, stringMap } from "./fields";
import type { ApexConfig } from "./index";
import { plainSection } from "./section";

/**
 * Cluster wiring keys (namespace `apex`, docs/cluster.md): where the Kubernetes
 * provider's kubeconfig comes from (the secret `apex:kubeconfig` in config/core.ts, or a
 * StackReference), the AWS region and network the data stores join, and the worker's IAM role.
 */

const pattern = (re: RegExp, form: string) => {
  const e = { error: `expected ${form}` };
  return z.string(e).regex(re, e);
};

/** AWS resource ids: a prefix and 8 or 17 hex digits. */
export const awsIdPatterns = {
  vpc: /^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/,
  subnet: /^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/,
  securityGroup: /^sg-([0-9a-f]{8}|[0-9a-f]{17})$/,
} as const;

const vpcId = () => pattern(awsIdPatterns.vpc, 'a VPC id such as "vpc-0123456789abcdef0"');
const subnetId = () => pattern(awsIdPatterns.subnet, 'a subnet id such as "subnet-0123456789abcdef0"');
const securityGroupId = () => pattern(awsIdPatterns.securityGroup, 'a security group id such as "sg-0123456789abcdef0"');
const region = () => pattern(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, 'an AWS region such as "eu-west-1"');
const accountId = () => pattern(/^\d{12}$/, 'a 12-digit AWS account id such as "123456789012"');
const roleArn = () =>
  pattern(/^arn:aws(-[a-z]+)*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'an IAM role ARN such as "arn:aws:iam::123456789012:role/apex-worker"');
/** `<organization>/<project>/<stack>` (or `<project>/<stack>` / `<stack>` for the current organization/project). */
const stackName = () =>
  pattern(/^([\w.-]+\/){0,2}[\w.-]+$/, 'a stack name such as "acme/eks/prod" (<organization>/<project>/<stack>)');
/** Name of an output of the referenced stack; null: that value does not come from the reference. */
const outputName = () => nonEmptyText("an output name of the referenced stack, or null").nullable();

const nonEmptyList = <T extends z.ZodType>(item: T, form: string) =>
  list(item, form).min(1, { error: `expected a non-empty list of ${form}` });

export const clusterSections = {
  aws: plainSection({
    description: "AWS: region (and account guard) of the stack's AWS provider, tags on every AWS resource, the VPC, private subnets, cluster security groups and data-subnet CIDRs the data stores use, the worker's IAM role (IRSA).",
    schema: section({
      region: region().optional(),
      accountId: accountId().optional(),
      tags: stringMap(),
      vpcId: vpcId().optional(),
      privateSubnetIds: nonEmptyList(subnetId(), "subnet ids").optional(),
      clusterSecurityGroupIds: nonEmptyList(securityGroupId(), "security group ids").optional(),
      dataSubnetCidrs: nonEmptyList(ipv4Cidr(), "IPv4 CIDRs").optional(),
      workerRoleArn: roleArn().optional(),
    }),
    defaults: { all: { tags: {} } },
  }),
  cluster: plainSection({
    description: "A stack (e.g. the one that creates the EKS cluster) whose outputs give the kubeconfig and the network ids; `outputs` names them (null: not taken from it).",
    schema: section({
      stackReference: stackName().optional(),
      outputs: section({
        kubeconfig: outputName(),
        vpcId: outputName(),
        privateSubnetIds: outputName(),
        clusterSecurityGroupIds: z.array(nonEmptyText("an output name"), { error: "expected a list of output names" }),
      }),
    }),
    defaults: {
      all: {
        outputs: {
          kubeconfig: "kubeconfig",
          vpcId: "vpcId",
          privateSubnetIds: "privateSubnetIds",
          clusterSecurityGroupIds: ["clusterSecurityGroupId"],
        },
      },
    },
  }),
} as const;

/** The network fields and where each comes from: the stack config, the referenced stack, or nowhere. */
export type NetworkSource = "config" | "reference" | undefined;

export function networkSources(c: Pick<ApexConfig, "aws" | "cluster">) {
  const ref = c.cluster.stackReference !== undefined;
  const from = (configured: boolean, output: boolean): NetworkSource => (configured ? "config" : ref && output ? "reference" : undefined);
  return {
    vpcId: from(c.aws.vpcId !== undefined, c.cluster.outputs.vpcId !== null),
    privateSubnetIds: from(c.aws.privateSubnetIds !== undefined, c.cluster.outputs.privateSubnetIds !== null),
    clusterSecurityGroupIds: from(c.aws.clusterSecurityGroupIds !== undefined, c.cluster.outputs.clusterSecurityGroupIds.length > 0),
    dataSubnetCidrs: c.aws.dataSubnetCidrs !== undefined ? ("config" as const) : undefined,
  };
}

/** Whether the kubeconfig comes from the referenced stack. */
export const kubeconfigFromReference = (c: Pick<ApexConfig, "cluster">): boolean =>
  c.cluster.stackReference !== undefined && c.cluster.outputs.kubeconfig !== null;

const expectedForms = {
  vpcId: "a VPC id",
  privateSubnetIds: "a list of subnet ids",
  clusterSecurityGroupIds: "a list of security group ids",
  dataSubnetCidrs: "a list of IPv4 CIDRs (plain: NetworkPolicy egress is built from them)",
} as const;

/** Rules across the cluster keys, run with the other cross-key checks. */
export function clusterCrossChecks(c: ApexConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const kubernetesOnly = (key: string, set: boolean) => {
    if (set && c.target !== "kubernetes") problems.push({ key, message: `only used on target "kubernetes": expected it unset on target "${c.target}", got a value` });
  };
  kubernetesOnly("apex:cluster.stackReference", c.cluster.stackReference !== undefined);
  kubernetesOnly("apex:aws.workerRoleArn", c.aws.workerRoleArn !== undefined);

  if (kubeconfigFromReference(c) && c.kubeconfig !== undefined) {
    problems.push({
      key: "apex:kubeconfig",
      message: `expected either apex:kubeconfig or the kubeconfig of apex:cluster.stackReference (output "${c.cluster.outputs.kubeconfig}"), got both; set apex:cluster.outputs.kubeconfig to null to keep the secret`,
    });
  }

  // The network is all or nothing: the data stores need every part of it.
  const sources = networkSources(c);
  const present = Object.entries(sources).filter(([, s]) => s !== undefined).map(([k]) => k);
  if (present.length > 0) {
    for (const [field, source] of Object.entries(sources) as [keyof typeof sources, NetworkSource][]) {
      if (source !== undefined) continue;
      const why = field === "dataSubnetCidrs" && c.cluster.stackReference !== undefined
        ? "required in config even with apex:cluster.stackReference"
        : `required with apex:aws.${present[0]}`;
      problems.push({ key: `apex:aws.${field}`, message: `${why}: expected ${expectedForms[field]}, got nothing` });
    }
    if (c.aws.region === undefined) {
      problems.push({ key: "apex:aws.region", message: `required with apex:aws.${present[0]} (the network's region): expected an AWS region such as "eu-west-1", got nothing` });
    }
  }
  return problems;
}
