/** What RDS and ElastiCache share: the network they join, their cluster-only security group, their KMS key. */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** The network the data stores join (components/aws/cluster-network.ts ClusterNetwork satisfies it). */
export interface DataStoreNetwork {
  readonly vpcId: pulumi.Input<string>;
  readonly privateSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** Security groups of the cluster's nodes/pods: the only sources admitted. */
  readonly clusterSecurityGroupIds: pulumi.Input<pulumi.Input<string>[]>;
}

/** A security group admitting `port` from the cluster's security groups only, with no egress (the stores never dial out). */
export function clusterOnlySecurityGroup(
  name: string,
  args: { readonly owner: string; readonly what: string; readonly port: number; readonly network: DataStoreNetwork },
  opts: pulumi.CustomResourceOptions,
): aws.ec2.SecurityGroup {
  return new aws.ec2.SecurityGroup(name, {
    description: `${args.owner}: ${args.what} from the cluster only`,
    vpcId: args.network.vpcId,
    ingress: [{
      description: `${args.what} from the cluster's nodes/pods`,
      protocol: "tcp",
      fromPort: args.port,
      toPort: args.port,
      securityGroups: args.network.clusterSecurityGroupIds,
    }],
    egress: [],
  }, opts);
}

/** The configured KMS key's ARN, or a key created here (rotation on, 30-day deletion window). */
export function dataStoreKmsKeyArn(
  name: string,
  args: { readonly configured?: pulumi.Input<string>; readonly description: string },
  opts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
  if (args.configured !== undefined) return pulumi.output(args.configured);
  return new aws.kms.Key(name, { description: args.description, enableKeyRotation: true, deletionWindowInDays: 30 }, opts).arn;
}
