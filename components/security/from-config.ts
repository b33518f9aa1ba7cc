import type * as pulumi from "@pulumi/pulumi";
import { secretKeys, services } from "../../app/src/contract";
import type { ApexConfig } from "../../config";
import type { Platform } from "../service";
import type { KubernetesRbacArgs } from "./rbac";
import type { ApexVaultArgs } from "./vault";

/** ApexVault's arguments from the stack config: a dev-mode server on Docker, the configured Vault on Kubernetes. */
export function vaultArgsFromConfig(config: ApexConfig, platform: Platform, stackSecrets: Readonly<Record<string, pulumi.Output<string>>>): ApexVaultArgs {
  const llmKeys = {
    openaiApiKey: stackSecrets[secretKeys.openaiApiKey],
    anthropicApiKey: stackSecrets[secretKeys.anthropicApiKey],
    version: config.vault.llmKeysVersion,
  };
  if (platform.target === "docker") {
    return {
      server: { kind: "dev", platform, image: config.vault.devImage, hostPort: config.vault.devHostPort },
      manageKvMount: config.vault.manageKvMount,
      llmKeys,
    };
  }
  if (config.vaultAddress === undefined) throw new Error('apex:vaultAddress: required when apex:target is "kubernetes"');
  return {
    server: { kind: "existing", address: config.vaultAddress, token: config.vaultToken },
    manageKvMount: config.vault.manageKvMount,
    kubernetesAuth: {
      path: config.vault.kubernetesAuthPath,
      kubernetesHost: config.vault.kubernetesHost,
      tokenTtlSeconds: config.vault.tokenTtlSeconds,
      roles: [services.api.name, services.worker.name].map((sa) => ({ name: sa, serviceAccount: sa, namespace: platform.namespaceName })),
    },
    llmKeys,
  };
}

/** KubernetesRbac's arguments: config's groups, the platform and sandbox namespaces, the worker's ServiceAccount. */
export function rbacArgsFromConfig(
  config: ApexConfig,
  platform: Extract<Platform, { target: "kubernetes" }>,
  sandboxNamespace: pulumi.Input<string>,
): KubernetesRbacArgs {
  return {
    provider: platform.provider,
    labels: platform.labels,
    namespaces: { platform: platform.namespace, sandbox: sandboxNamespace },
    groups: { admin: config.rbac.adminGroups, operator: config.rbac.operatorGroups, viewer: config.rbac.viewerGroups },
    // KubernetesService names each workload's ServiceAccount after the service.
    worker: { serviceAccount: services.worker.name, namespace: platform.namespace },
  };
}
