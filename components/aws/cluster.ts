import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { awsIdPatterns } from "../../config/cluster";
import { stackLabels } from "../service";

/** The network the AWS data stores join (docs/cluster.md). */
export interface ClusterNetwork {
  readonly vpcId: pulumi.Input<string>;
  /** Private subnets for the data stores' subnet groups. */
  readonly privateSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** Security groups of the cluster's nodes/pods: the only sources the data stores admit. */
  readonly clusterSecurityGroupIds: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Plain CIDRs of the subnets the data stores live in (Kubernetes NetworkPolicy egress from
   * api/workers/postgres-exporter). Always from the stack config, also with a stack reference:
   * NetworkPolicy ipBlocks are built from them, and a reference's outputs are not plain values.
   */
  readonly dataSubnetCidrs: readonly string[];
}

/** A value the cluster wiring takes from the stack config, or from an output of the referenced stack. */
export type FromConfigOrReference<T> = { readonly config: T } | { readonly output: string };

export interface ApexClusterArgs {
  readonly stack: string;
  /** `apex:environment` (dev or prod): the `apex.dev/environment` label on everything the stack creates. */
  readonly environment: string;
  /** Region of the AWS provider. Default: no provider (the ambient AWS configuration). */
  readonly region?: string;
  /** The only account the AWS provider may act in. Default: any. */
  readonly accountId?: string;
  /** Tags on every AWS resource, over the stack labels. Default: the stack labels only. */
  readonly tags?: Readonly<Record<string, string>>;
  /** `<organization>/<project>/<stack>` whose outputs the `output` sources below read. */
  readonly stackReference?: string;
  /** Output of the referenced stack holding the kubeconfig (a string, or an object as pulumi-eks exports it). */
  readonly kubeconfigOutput?: string;
  /** The network, all parts set or none. Default: no network (in-cluster data stores). */
  readonly network?: {
    readonly vpcId: FromConfigOrReference<string>;
    readonly privateSubnetIds: FromConfigOrReference<readonly string[]>;
    /** Each output may hold one id or a list of ids. */
    readonly clusterSecurityGroupIds: { readonly config: readonly string[] } | { readonly outputs: readonly string[] };
    readonly dataSubnetCidrs: readonly string[];
  };
}

/**
 * What the stack needs from the cluster it deploys to: the AWS provider (region, account guard,
 * default tags), the referenced stack and what it exports (kubeconfig kept secret, network ids
 * checked against the id patterns the stack config uses).
 */
export class ApexCluster extends pulumi.ComponentResource {
  public readonly awsProvider?: aws.Provider;
  public readonly reference?: pulumi.StackReference;
  /** The referenced stack's kubeconfig, as a secret. */
  public readonly kubeconfig?: pulumi.Output<string>;
  public readonly network?: ClusterNetwork;

  constructor(name: string, args: ApexClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:aws:Cluster", name, {}, opts);
    if (args.region !== undefined) {
      this.awsProvider = new aws.Provider(`${name}-aws`, {
        region: args.region,
        allowedAccountIds: args.accountId === undefined ? undefined : [args.accountId],
        defaultTags: { tags: { ...stackLabels(args.stack, args.environment), ...args.tags } },
      }, { parent: this });
    }
    const reference = args.stackReference === undefined
      ? undefined
      : new pulumi.StackReference(`${name}-reference`, { name: args.stackReference }, { parent: this });
    this.reference = reference;
    const where = (outputName: string) => `apex:cluster.stackReference "${args.stackReference}", output "${outputName}"`;
    const output = (outputName: string): pulumi.Output<unknown> => {
      if (reference === undefined) throw new Error(`${name}: output "${outputName}" needs apex:cluster.stackReference`);
      return reference.requireOutput(outputName);
    };
    const ids = (outputName: string, pattern: RegExp, form: string, count: "one" | "many") =>
      output(outputName).apply((v) => checkedIds(v, pattern, form, where(outputName), count));

    if (args.kubeconfigOutput !== undefined) {
      const outputName = args.kubeconfigOutput;
      // Secret whether or not the referenced stack marked it so.
      this.kubeconfig = pulumi.secret(output(outputName).apply((v) => kubeconfigText(v, where(outputName))));
    }

    const n = args.network;
    if (n !== undefined) {
      const sgs = n.clusterSecurityGroupIds;
      this.network = {
        vpcId: "config" in n.vpcId ? n.vpcId.config : ids(n.vpcId.output, awsIdPatterns.vpc, "a VPC id", "one").apply((v) => v[0]!),
        privateSubnetIds: "config" in n.privateSubnetIds
          ? [...n.privateSubnetIds.config]
          : ids(n.privateSubnetIds.output, awsIdPatterns.subnet, "a list of subnet ids", "many"),
        clusterSecurityGroupIds: "config" in sgs
          ? [...sgs.config]
          : pulumi
              .all(sgs.outputs.map((o) => ids(o, awsIdPatterns.securityGroup, "a security group id or a list of them", "many")))
              .apply((lists) => [...new Set(lists.flat())]),
        dataSubnetCidrs: [...n.dataSubnetCidrs],
      };
    }
    this.registerOutputs({
      region: args.region,
      vpcId: this.network?.vpcId,
      privateSubnetIds: this.network?.privateSubnetIds,
      clusterSecurityGroupIds: this.network?.clusterSecurityGroupIds,
    });
  }
}

/** A referenced id or list of ids, checked as the stack config checks its own: a wrong output fails the update, naming it. */
export function checkedIds(value: unknown, pattern: RegExp, form: string, where: string, count: "one" | "many"): string[] {
  const values = Array.isArray(value) ? value : [value];
  const bad = values.length === 0 || (count === "one" && values.length !== 1) || values.some((v) => typeof v !== "string" || !pattern.test(v));
  if (bad) throw new Error(`${where}: expected ${form}, got ${JSON.stringify(value)}`);
  return values as string[];
}

/** The kubeconfig as the Kubernetes provider takes it: text (pulumi-eks exports `kubeconfig` as an object). */
export function kubeconfigText(value: unknown, where: string): string {
  if (typeof value === "string" && value.trim() !== "") return value;
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return JSON.stringify(value);
  // Never echo it: a malformed kubeconfig may still hold credentials.
  throw new Error(`${where}: expected a kubeconfig (YAML/JSON text or an object), got ${value === undefined || value === null ? "nothing" : `a ${typeof value}`}`);
}
