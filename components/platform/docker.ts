import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { stackLabels, type DockerPlatform } from "../service";
import { unprotected, type Protection } from "./protection";
import { STACK_SECRET_NAME } from "./secrets";

export interface DockerPlatformArgs {
  readonly stack: string;
  /** `apex:environment` (dev or prod): the `apex.dev/environment` label on everything the stack creates. */
  readonly environment: string;
  /** Prefix of engine-global names; `<namespace>-<stack>`. */
  readonly namePrefix: string;
  /** Docker engine address. Default: the ambient engine (DOCKER_HOST or the local socket). */
  readonly host?: string;
  /** Address published ports bind to. */
  readonly publishAddress: string;
  /** Values of `apex-secrets` (StackSecrets.values). */
  readonly secrets: Readonly<Record<string, pulumi.Input<string>>>;
  /** apex:protection, handed to services through the platform. Default: none. */
  readonly protection?: Protection;
}

/**
 * The dev deploy context: an explicit Docker provider and the stack's user-defined bridge network
 * (the Compose default network), so containers reach each other by service name.
 */
export class DockerPlatformResources extends pulumi.ComponentResource {
  public readonly provider: docker.Provider;
  public readonly network: docker.Network;
  public readonly platform: DockerPlatform;

  constructor(name: string, args: DockerPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:platform:DockerPlatform", name, {}, opts);
    const labels = stackLabels(args.stack, args.environment);
    this.provider = new docker.Provider(`${name}-provider`, { host: args.host }, { parent: this });
    this.network = new docker.Network(`${name}-network`, {
      name: args.namePrefix,
      driver: "bridge",
      labels: Object.entries(labels).map(([label, value]) => ({ label, value })),
    }, { parent: this, provider: this.provider });
    this.platform = {
      target: "docker",
      stack: args.stack,
      labels,
      deployed: new Map(),
      provider: this.provider,
      networkName: this.network.name,
      namePrefix: args.namePrefix,
      publishAddress: args.publishAddress,
      secrets: { [STACK_SECRET_NAME]: args.secrets },
      protection: args.protection ?? unprotected,
    };
    this.registerOutputs({ network: this.network.name });
  }
}
