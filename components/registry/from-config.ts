import type * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import type { ApexConfig } from "../../config";
import type { Protection } from "../platform/protection";
import { sandboxSpec, services } from "../../app/src/contract";
import { EcrRegistry, type RegistryCredentials } from "./ecr";

/** An image beside the runtime image: `<registry>/<path>/<image>`. */
const besideRuntime = (runtimeRepository: string, image: string): string => {
  const slash = runtimeRepository.lastIndexOf("/");
  return slash < 0 ? image : `${runtimeRepository.slice(0, slash)}/${image}`;
};

/** The sandbox image sits beside the runtime image: `<registry>/<path>/apex-sandbox`. */
export const sandboxRepository = (runtimeRepository: string): string => besideRuntime(runtimeRepository, sandboxSpec.image);

/** The console image (apex-dashboard) likewise: `<registry>/<path>/apex-dashboard`. */
export const dashboardRepository = (runtimeRepository: string): string => besideRuntime(runtimeRepository, services.dashboard.name);

/** Where one image goes: its repository (an ECR URL once created) and, when pushed, the credentials. */
export interface ImageTarget {
  readonly repository: pulumi.Input<string>;
  readonly registry?: RegistryCredentials;
}

export interface ImageTargets {
  readonly runtime: ImageTarget;
  readonly sandbox: ImageTarget;
  /** The console image; absent when apex:dashboard.enabled is false. */
  readonly dashboard?: ImageTarget;
  /** Registry kind `ecr` with push on: the repositories this stack owns. */
  readonly ecr?: EcrRegistry;
}

/**
 * The runtime and sandbox images' repositories from `apex:images` and `apex:registry`: local names
 * (no push), the external registry with `apex:registryPassword`, or ECR repositories created here.
 * config/images.ts has checked the combination.
 */
export function imageTargetsFromConfig(
  config: ApexConfig,
  opts: { readonly protection: Protection; readonly provider?: aws.Provider },
): ImageTargets {
  const runtimeRepository = config.images.runtime.repository;
  const local = {
    runtime: { repository: runtimeRepository },
    sandbox: { repository: sandboxRepository(runtimeRepository) },
    ...(config.dashboard.enabled ? { dashboard: { repository: dashboardRepository(runtimeRepository) } } : {}),
  };
  const registry = config.registry;
  if (!config.images.runtime.push || registry === undefined) return local;
  if (registry.kind === "external") {
    if (registry.server === undefined || registry.username === undefined || config.registryPassword === undefined) {
      throw new Error("imageTargetsFromConfig: external registry without server, username or password (config/images.ts checks this)");
    }
    const credentials = { server: registry.server, username: registry.username, password: config.registryPassword };
    return {
      runtime: { ...local.runtime, registry: credentials },
      sandbox: { ...local.sandbox, registry: credentials },
      ...(local.dashboard ? { dashboard: { ...local.dashboard, registry: credentials } } : {}),
    };
  }
  if (registry.ecr === undefined) throw new Error("imageTargetsFromConfig: ECR registry without settings (config/images.ts checks this)");
  const ecr = new EcrRegistry("apex-registry", {
    repositories: {
      runtime: local.runtime.repository,
      sandbox: local.sandbox.repository,
      ...(local.dashboard ? { dashboard: local.dashboard.repository } : {}),
    },
    scanOnPush: registry.ecr.scanOnPush,
    encryption: { type: registry.ecr.encryption, kmsKeyArn: registry.ecr.kmsKeyArn },
    lifecycle: { untaggedExpiryDays: registry.ecr.untaggedExpiryDays, keepTaggedImages: registry.ecr.keepTaggedImages },
    protection: opts.protection,
    provider: opts.provider,
  });
  const { runtime, sandbox, dashboard } = ecr.repositories;
  if (runtime === undefined || sandbox === undefined || (local.dashboard && dashboard === undefined)) throw new Error("imageTargetsFromConfig: ECR repositories missing");
  return {
    runtime: { repository: runtime.repositoryUrl, registry: ecr.credentials },
    sandbox: { repository: sandbox.repositoryUrl, registry: ecr.credentials },
    ...(dashboard ? { dashboard: { repository: dashboard.repositoryUrl, registry: ecr.credentials } } : {}),
    ecr,
  };
}
