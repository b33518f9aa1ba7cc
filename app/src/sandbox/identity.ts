/**
 * How every sandbox a worker starts is named and labelled (Pod, Docker container, cgroup), taken
 * from the contract so the infrastructure, the NetworkPolicies and cleanup select the same things:
 * the sandbox's app name is its image name (`sandboxSpec.image`), the manager is the worker service.
 */
import { randomBytes } from "node:crypto";
import { sandboxSpec, services } from "../contract";

/** Labels every sandbox Pod and container carries. */
export const sandboxLabels = {
  "app.kubernetes.io/name": sandboxSpec.image,
  "app.kubernetes.io/component": "sandbox",
  "app.kubernetes.io/part-of": "apex",
  "app.kubernetes.io/managed-by": services.worker.name,
} as const;

/** A fresh sandbox name (a DNS-1123 label, also a valid container name): `<image>-<12 hex>`. */
export function newSandboxName(): string {
  return `${sandboxSpec.image}-${randomBytes(6).toString("hex")}`;
}

/** Directory name of the cgroup parent and prefix of the local driver's work directories. */
export const sandboxGroupName = sandboxSpec.image;
