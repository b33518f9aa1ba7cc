import type * as pulumi from "@pulumi/pulumi";

/**
 * How the stack guards what holds data (`apex:protection`, docs/protection.md). prod: both on;
 * dev: both off, so `pulumi destroy --stack dev` cleans up.
 */
export interface Protection {
  /** `protect`: `pulumi destroy`, or an update that would delete or replace the resource, stops on it. */
  readonly protect: boolean;
  /** `retainOnDelete`: when Pulumi does delete the resource, the object in the cloud/cluster stays. */
  readonly retainOnDelete: boolean;
}

/** No guard (unit tests of a single component, throwaway stacks). */
export const unprotected: Protection = { protect: false, retainOnDelete: false };

/**
 * Options for a resource whose loss loses data and which is never replaced in normal operation:
 * the database, the cache, a namespace, a Vault mount.
 */
export const keepOptions = (p: Protection): Pick<pulumi.CustomResourceOptions, "protect" | "retainOnDelete"> => ({
  protect: p.protect,
  retainOnDelete: p.retainOnDelete,
});

/**
 * Options for a stateful resource that legitimate changes replace (a StatefulSet whose immutable
 * fields change): `protect` would block those, so only `retainOnDelete`.
 */
export const retainOptions = (p: Protection): Pick<pulumi.CustomResourceOptions, "retainOnDelete"> => ({
  retainOnDelete: p.retainOnDelete,
});
