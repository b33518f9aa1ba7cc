import type * as pulumi from "@pulumi/pulumi";
import { secretKeys, services } from "../../app/src/contract";
import type { ApexConfig } from "../../config";
import type { Platform } from "../service";
import type { KubernetesRbacArgs } from "./rbac";
import { SECRETS_SYNC_SERVICE_ACCOUNT, VAULT_TOKEN_AUDIENCE, type SecretsSyncArgs } from "./secrets-operator";
import type { ApexVault, ApexVaultArgs, VaultKubernetesRole } from "./vault";
import { vaultLayout } from "./vault-policies";

/** The LLM keys configured for the stack (Vault secret properties and env names alike). */
export const configuredLlmKeys = (config: ApexConfig): Record<string, pulumi.Output<string>> =>
  Object.fromEntries(Object.entries({ [secretKeys.openaiApiKey]: config.openaiApiKey, [secretKeys.anthropicApiKey]: config.anthropicApiKey })
    .filter((e): e is [string, pulumi.Output<string>] => e[1] !== undefined));

/** ApexVault's arguments from the stack config: a dev-mode server on Docker, the configured Vault on Kubernetes. */
export function vaultArgsFromConfig(config: ApexConfig, platform: Platform): ApexVaultArgs {
  const llmKeys = {
    openaiApiKey: config.openaiApiKey,
    anthropicApiKey: config.anthropicApiKey,
    version: config.vault.llmKeysVersion,
  };
  const common = { kvMount: config.vault.kvMount, llmKeys, protection: config.protection };
  if (platform.target === "docker") {
    return { ...common, server: { kind: "dev", platform, image: config.vault.devImage, hostPort: config.vault.devHostPort } };
  }
  if (config.vaultAddress === undefined) throw new Error('apex:vaultAddress: required when apex:target is "kubernetes"');
  const namespace = platform.namespaceName;
  const roles: VaultKubernetesRole[] = [services.api.name, services.worker.name].map((sa) => ({ name: sa, serviceAccount: sa, namespace, policy: "read" }));
  if (config.vault.secretsOperator !== "none") {
    roles.push({ name: SECRETS_SYNC_SERVICE_ACCOUNT, serviceAccount: SECRETS_SYNC_SERVICE_ACCOUNT, namespace, policy: "sync", audience: VAULT_TOKEN_AUDIENCE });
  }
  return {
    ...common,
    server: { kind: "existing", address: config.vaultAddress, token: config.vaultToken },
    kubernetesAuth: {
      mount: config.vault.kubernetesAuth,
      kubernetesHost: config.vault.kubernetesHost,
      kubernetesCaCert: config.vault.kubernetesCaCert,
      tokenTtlSeconds: config.vault.tokenTtlSeconds,
      roles,
    },
  };
}

/**
 * SecretsSync's arguments when apex:vault.secretsOperator names an operator (Kubernetes only);
 * undefined with `none`, where the runtime reads its LLM keys from apex-secrets.
 */
export function secretsSyncArgsFromConfig(config: ApexConfig, platform: Platform, vault: ApexVault): SecretsSyncArgs | undefined {
  const kind = config.vault.secretsOperator;
  if (kind === "none" || platform.target !== "kubernetes") return undefined;
  if (config.vaultAddress === undefined || vault.kubernetesAuthPath === undefined) throw new Error('apex:vault.secretsOperator: needs apex:vaultAddress and Kubernetes auth');
  const role = vault.kubernetesRoleByName.get(SECRETS_SYNC_SERVICE_ACCOUNT);
  return {
    kind,
    platform,
    vault: {
      address: config.vaultAddress,
      caCert: config.vault.caCert,
      kvMount: vault.kvMountPath,
      authMount: vault.kubernetesAuthPath,
      role: SECRETS_SYNC_SERVICE_ACCOUNT,
    },
    apiAudience: config.vault.kubernetesAudience,
    source: { path: vaultLayout.llmKeysPath, keys: Object.keys(configuredLlmKeys(config)) },
    restartDeployments: [services.api.name, services.worker.name],
    dependsOn: [...(role ? [role] : []), ...(vault.llmKeysSecret ? [vault.llmKeysSecret] : [])],
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
