import type * as pulumi from "@pulumi/pulumi";
import { runtimeEnv } from "../../app/src/contract";
import type { ApexConfig } from "../../config";
import { sandboxQuota } from "../../config/sandbox";
import type { ImageTarget } from "../registry/from-config";
import type { Platform } from "../service";
import type { SandboxRuntime, SandboxRuntimeArgs } from "./sandbox";

/** SandboxRuntime's arguments from the stack config. */
export function sandboxArgsFromConfig(
  config: ApexConfig,
  platform: Platform,
  /** The sandbox image's repository and push credentials (components/registry/from-config.ts). */
  target: ImageTarget,
): SandboxRuntimeArgs {
  const runtimeImage = config.images.runtime;
  // config/images.ts refuses a prod stack without a tag; dev defaults to "dev".
  if (runtimeImage.tag === undefined) throw new Error("sandboxArgsFromConfig: apex:images.runtime.tag is not set");
  const image = {
    repository: target.repository,
    tag: runtimeImage.tag,
    push: runtimeImage.push,
    platform: runtimeImage.platform,
    registry: target.registry,
    // Dev: build on the engine the worker starts sandbox containers on.
    provider: platform.target === "docker" ? platform.provider : undefined,
  };
  if (platform.target === "docker") return { image };
  return {
    image,
    kubernetes: {
      provider: platform.provider,
      protection: platform.protection,
      labels: platform.labels,
      dns: config.kubernetes.dns,
      egressAllowlist: config.sandbox.egressAllowlist,
      privateRanges: config.sandbox.privateRanges,
      runtimeClass: config.sandbox.runtimeClass,
      nodePool: config.sandbox.nodePool,
      quota: sandboxQuota(config),
    },
  };
}

/**
 * Env telling the workers' sandbox drivers which image, RuntimeClass and node pool the stack
 * provides (the pool as JSON, parsed and checked by the runtime's app/src/config.ts).
 */
export function sandboxEnv(sandbox: Pick<SandboxRuntime, "imageRef" | "runtimeClassName" | "nodePool">): Record<string, pulumi.Input<string>> {
  return {
    [runtimeEnv.sandboxImage]: sandbox.imageRef,
    ...(sandbox.runtimeClassName ? { [runtimeEnv.sandboxRuntimeClass]: sandbox.runtimeClassName } : {}),
    ...(sandbox.nodePool
      ? {
        [runtimeEnv.sandboxNodeSelector]: JSON.stringify(sandbox.nodePool.nodeSelector),
        [runtimeEnv.sandboxTolerations]: JSON.stringify(sandbox.nodePool.tolerations),
      }
      : {}),
  };
}
