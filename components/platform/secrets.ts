import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { runtimeEnv, secretKeys } from "../../app/src/contract";

/** The Secret the runtime's credentials live in (seed §3), referenced by name, never inlined. */
export const STACK_SECRET_NAME = "apex-secrets";

/** Keys of `apex-secrets`: the seed's three, the first admin API key, the Redis password. */
export const stackSecretKeys = { ...secretKeys, bootstrapAdminKey: runtimeEnv.bootstrapAdminKey, redisPassword: "REDIS_PASSWORD" } as const;

export interface StackSecretsArgs {
  /** From `apex:openaiApiKey`; the key is left out of the Secret when unset (dev). */
  readonly openaiApiKey?: pulumi.Input<string>;
  readonly anthropicApiKey?: pulumi.Input<string>;
  /** From `apex:postgresPassword`; default: a generated 32-character password. */
  readonly postgresPassword?: pulumi.Input<string>;
  /** From `apex:bootstrapAdminKey`; default: a generated 48-character key. */
  readonly bootstrapAdminKey?: pulumi.Input<string>;
}

/**
 * The stack's secret values: configured ones, or generated with @pulumi/random (kept encrypted in
 * state). The targets turn `values` into the `apex-secrets` Secret (Kubernetes) or secret
 * container env (Docker).
 */
export class StackSecrets extends pulumi.ComponentResource {
  /** Key of `apex-secrets` -> secret value. */
  public readonly values: Readonly<Record<string, pulumi.Output<string>>>;

  constructor(name: string, args: StackSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:platform:StackSecrets", name, {}, opts);
    const generated = (suffix: string, length: number) =>
      new random.RandomPassword(`${name}-${suffix}`, { length, special: false }, { parent: this }).result;
    const values: Record<string, pulumi.Output<string>> = {
      [stackSecretKeys.postgresPassword]: pulumi.secret(args.postgresPassword ?? generated("postgres-password", 32)),
      [stackSecretKeys.bootstrapAdminKey]: pulumi.secret(args.bootstrapAdminKey ?? generated("bootstrap-admin-key", 48)),
      // requirepass of the in-cluster Redis / auth token of ElastiCache (16-128 chars, alphanumeric here).
      [stackSecretKeys.redisPassword]: pulumi.secret(generated("redis-password", 32)),
    };
    if (args.openaiApiKey !== undefined) values[stackSecretKeys.openaiApiKey] = pulumi.secret(args.openaiApiKey);
    if (args.anthropicApiKey !== undefined) values[stackSecretKeys.anthropicApiKey] = pulumi.secret(args.anthropicApiKey);
    this.values = values;
    this.registerOutputs({});
  }

  has(key: string): boolean {
    return key in this.values;
  }
}
