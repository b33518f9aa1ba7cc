import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as vault from "@pulumi/vault";
import { secretKeys, services } from "../../app/src/contract";
import { deployService, DockerService, type DockerPlatform, type ServiceSpec } from "../service";
import { apexVaultPolicies, renderVaultPolicy, vaultLayout } from "./vault-policies";

/** A dev-mode Vault container on the stack's Docker engine (in-memory, unsealed, root token). */
export interface DevVaultArgs {
  readonly kind: "dev";
  readonly platform: DockerPlatform;
  /** Image of the dev server, e.g. "hashicorp/vault:1.15.6". */
  readonly image: string;
  /** Published on the platform's publish address (127.0.0.1) for the provider. */
  readonly hostPort: number;
}

/** A Vault the organisation already runs. */
export interface ExistingVaultArgs {
  readonly kind: "existing";
  readonly address: string;
  /** Unset: the provider reads VAULT_TOKEN from the environment. */
  readonly token?: pulumi.Input<string>;
}

/** Kubernetes auth for the workloads' ServiceAccounts. */
export interface VaultKubernetesAuthArgs {
  /** Auth mount path, e.g. "kubernetes". */
  readonly path: string;
  /** API server address Vault sends TokenReviews to. */
  readonly kubernetesHost: string;
  /** PEM CA of the API server; unset: Vault's own in-cluster CA. */
  readonly kubernetesCaCert?: pulumi.Input<string>;
  readonly tokenTtlSeconds: number;
  /** One Vault role per workload ServiceAccount. */
  readonly roles: readonly { readonly name: string; readonly serviceAccount: string; readonly namespace: string }[];
}

export interface ApexVaultArgs {
  readonly server: DevVaultArgs | ExistingVaultArgs;
  /** Create the KV v2 mount `secret`. False when it already exists (dev-mode Vault pre-mounts it). */
  readonly manageKvMount: boolean;
  /** Kubernetes target only. */
  readonly kubernetesAuth?: VaultKubernetesAuthArgs;
  /** The LLM keys (Pulumi secrets); stored with the provider's write-only field, so no plaintext in Vault's state. */
  readonly llmKeys: {
    readonly openaiApiKey?: pulumi.Input<string>;
    readonly anthropicApiKey?: pulumi.Input<string>;
    /** `dataJsonWoVersion`: bump it to write rotated keys (write-only data is not diffed). */
    readonly version: number;
  };
}

const devRootTokenSecret = "vault-dev";

/**
 * Vault for Apex: the KV v2 mount, the apex-read and per-role policies, the LLM keys as a KV v2
 * secret, Kubernetes auth roles for the workloads; in dev also the dev-mode server itself.
 */
export class ApexVault extends pulumi.ComponentResource {
  public readonly provider: vault.Provider;
  /** Address people and the provider use. */
  public readonly address: pulumi.Output<string>;
  /** Dev only: the root token (secret). */
  public readonly devRootToken?: pulumi.Output<string>;
  public readonly policies: Record<keyof typeof apexVaultPolicies, vault.Policy>;
  public readonly kvMount?: vault.Mount;
  public readonly llmKeysSecret?: vault.kv.SecretV2;
  public readonly kubernetesAuthBackend?: vault.AuthBackend;
  public readonly kubernetesRoles: vault.kubernetes.AuthBackendRole[] = [];

  constructor(name: string, args: ApexVaultArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:security:Vault", name, {}, opts);

    if (args.server.kind === "dev") {
      const server = args.server;
      const rootToken = new random.RandomPassword(`${name}-dev-root-token`, { length: 32, special: false }, { parent: this });
      const platform: DockerPlatform = {
        ...server.platform,
        secrets: { ...server.platform.secrets, [devRootTokenSecret]: { rootToken: rootToken.result } },
      };
      const deployed = deployService(`${name}-dev`, devVaultSpec(server), platform, { parent: this });
      const container = deployed.resource instanceof DockerService ? deployed.resource.containers[0] : undefined;
      if (container === undefined) throw new Error("vault: the dev-mode service rendered no container");
      // Known only once the container exists, so a first preview does not dial a Vault that is not running yet.
      this.address = container.id.apply(() => `http://${server.platform.publishAddress}:${server.hostPort}`);
      this.devRootToken = pulumi.secret(rootToken.result);
      this.provider = new vault.Provider(`${name}-provider`, {
        address: this.address,
        token: this.devRootToken,
        skipChildToken: true,
      }, { parent: this, dependsOn: [deployed.resource] });
    } else {
      this.address = pulumi.output(args.server.address);
      this.provider = new vault.Provider(`${name}-provider`, {
        address: args.server.address,
        token: args.server.token === undefined ? undefined : pulumi.secret(args.server.token),
      }, { parent: this });
    }
    const child = { parent: this, provider: this.provider };

    if (args.manageKvMount) {
      this.kvMount = new vault.Mount(`${name}-kv`, {
        path: vaultLayout.mount,
        type: "kv",
        options: { version: "2" },
        description: "KV v2 secrets; Apex keeps its own under apex/",
      }, child);
    }
    const mountPath = this.kvMount?.path ?? pulumi.output(vaultLayout.mount);

    const policies = {} as Record<keyof typeof apexVaultPolicies, vault.Policy>;
    for (const [key, doc] of Object.entries(apexVaultPolicies) as [keyof typeof apexVaultPolicies, (typeof apexVaultPolicies)[keyof typeof apexVaultPolicies]][]) {
      policies[key] = new vault.Policy(`${name}-${doc.name}`, { name: doc.name, policy: renderVaultPolicy(doc) }, child);
    }
    this.policies = policies;

    const keys = Object.entries({ [secretKeys.openaiApiKey]: args.llmKeys.openaiApiKey, [secretKeys.anthropicApiKey]: args.llmKeys.anthropicApiKey })
      .filter((e): e is [string, pulumi.Input<string>] => e[1] !== undefined);
    if (keys.length > 0) {
      const data = pulumi.all(keys.map(([k, v]) => pulumi.output(v).apply((value) => [k, value] as const)))
        .apply((entries) => JSON.stringify(Object.fromEntries(entries)));
      this.llmKeysSecret = new vault.kv.SecretV2(`${name}-llm-keys`, {
        mount: mountPath,
        name: vaultLayout.llmKeysPath,
        dataJsonWo: pulumi.secret(data),
        dataJsonWoVersion: args.llmKeys.version,
        deleteAllVersions: true,
      }, child);
    }

    if (args.kubernetesAuth) {
      const auth = args.kubernetesAuth;
      this.kubernetesAuthBackend = new vault.AuthBackend(`${name}-kubernetes-auth`, {
        type: "kubernetes",
        path: auth.path,
        description: "Apex workloads log in with their ServiceAccount tokens",
      }, child);
      const config = new vault.kubernetes.AuthBackendConfig(`${name}-kubernetes-auth-config`, {
        backend: this.kubernetesAuthBackend.path,
        kubernetesHost: auth.kubernetesHost,
        kubernetesCaCert: auth.kubernetesCaCert,
      }, child);
      for (const role of auth.roles) {
        this.kubernetesRoles.push(new vault.kubernetes.AuthBackendRole(`${name}-role-${role.name}`, {
          backend: this.kubernetesAuthBackend.path,
          roleName: role.name,
          boundServiceAccountNames: [role.serviceAccount],
          boundServiceAccountNamespaces: [role.namespace],
          tokenPolicies: [policies.read.name],
          tokenTtl: auth.tokenTtlSeconds,
          tokenMaxTtl: auth.tokenTtlSeconds * 4,
        }, { ...child, dependsOn: [config] }));
      }
    }

    this.registerOutputs({
      address: this.address,
      policies: Object.values(this.policies).map((p) => p.name),
      kubernetesRoles: this.kubernetesRoles.map((r) => r.roleName),
    });
  }
}

/** The dev-mode server as a ServiceSpec: unprivileged, read-only root, in-memory storage. */
function devVaultSpec(server: DevVaultArgs): ServiceSpec {
  const port = services.vault.port;
  return {
    name: services.vault.name,
    component: "secrets",
    image: server.image,
    args: ["server", "-dev"],
    ports: [{ name: "http", port, hostPort: server.hostPort, appProtocol: "http" }],
    env: {
      VAULT_DEV_LISTEN_ADDRESS: `0.0.0.0:${port}`,
      // Running unprivileged: no setcap (dev mode disables mlock), token helper file under /tmp.
      SKIP_SETCAP: "true",
      HOME: "/tmp",
    },
    secretEnv: { VAULT_DEV_ROOT_TOKEN_ID: { secret: devRootTokenSecret, key: "rootToken" } },
    resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
    probes: { readiness: { http: { path: "/v1/sys/health", port } }, liveness: { http: { path: "/v1/sys/health", port } } },
    scaling: { replicas: 1 },
    volumes: [{ kind: "tmp", name: "tmp", mountPath: "/tmp", sizeLimit: "16Mi" }],
  };
}
