import type * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import { kubeconfigFromReference, networkSources } from "../../config/cluster";
import type { ApexConfig } from "../../config";
import { ApexCluster, type ApexClusterArgs, type ClusterNetwork } from "./cluster";

export type { ClusterNetwork } from "./cluster";

/** What the stack takes from the cluster it deploys to. */
export interface ClusterWiring {
  /** Kubeconfig (secret) for the Kubernetes provider: `apex:kubeconfig`, or the referenced stack's. Undefined: the ambient kubeconfig. */
  readonly kubeconfig?: pulumi.Output<string>;
  /** Undefined when neither the config nor the referenced stack gives one. */
  readonly network?: ClusterNetwork;
  /** The provider every AWS resource of the stack uses (region from `apex:aws.region`). Undefined when no region is set. */
  readonly awsProvider?: aws.Provider;
  /** IAM role of the apex-worker ServiceAccount (IRSA, `eks.amazonaws.com/role-arn`). */
  readonly workerRoleArn?: string;
  /** The component holding the AWS provider and the stack reference, when there is one. */
  readonly component?: ApexCluster;
}

/**
 * From the stack config: the kubeconfig (secret) for the provider, the network (undefined when
 * not configured), the AWS provider, the worker's IAM role. Creates the `apex:aws:Cluster`
 * component only when there is a region or a stack reference; config/cluster.ts has already
 * checked that the network is complete.
 */
export function clusterFromConfig(config: ApexConfig): ClusterWiring {
  const { aws: a, cluster: c } = config;
  const fromReference = kubeconfigFromReference(config);
  const sources = networkSources(config);
  const needsComponent = a.region !== undefined || c.stackReference !== undefined;
  if (!needsComponent) {
    return { kubeconfig: config.kubeconfig, workerRoleArn: a.workerRoleArn };
  }
  const from = <T>(source: "config" | "reference" | undefined, value: T | undefined, output: string | null) =>
    source === "config" ? { config: value as T } : { output: output as string };
  const network: ApexClusterArgs["network"] = sources.vpcId && sources.privateSubnetIds && sources.clusterSecurityGroupIds && a.dataSubnetCidrs
    ? {
        vpcId: from(sources.vpcId, a.vpcId, c.outputs.vpcId),
        privateSubnetIds: from(sources.privateSubnetIds, a.privateSubnetIds, c.outputs.privateSubnetIds),
        clusterSecurityGroupIds: sources.clusterSecurityGroupIds === "config"
          ? { config: a.clusterSecurityGroupIds ?? [] }
          : { outputs: c.outputs.clusterSecurityGroupIds },
        dataSubnetCidrs: a.dataSubnetCidrs,
      }
    : undefined;
  const component = new ApexCluster("apex-cluster", {
    stack: config.stack,
    environment: config.environment,
    region: a.region,
    accountId: a.accountId,
    tags: a.tags,
    stackReference: c.stackReference,
    kubeconfigOutput: fromReference ? (c.outputs.kubeconfig ?? undefined) : undefined,
    network,
  });
  return {
    kubeconfig: fromReference ? component.kubeconfig : config.kubeconfig,
    network: component.network,
    awsProvider: component.awsProvider,
    workerRoleArn: a.workerRoleArn,
    component,
  };
}
