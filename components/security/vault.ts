import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as vault from "@pulumi/vault";
import { secretKeys, services } from "../../app/src/contract";
import { deployService, DockerService, type DockerPlatform, type ServiceSpec } from "../service";
import { keepOptions, unprotected, type Protection } from "../platform/protection";
import { apexVaultPolicies, renderVaultPolicy, vaultLayout, type ApexVaultPolicyKey, type VaultPolicyDoc } from "./vault-policies";

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

/** A Vault mount the program creates (`manage: true`, protected per apex:protection) or adopts by path. */
export interface VaultMountRef {
  readonly path: string;
  /** False: the mount exists already and is not the program's; nothing is created or deleted there. */
  readonly manage: boolean;
}

/** A Vault role bound to one Kubernetes ServiceAccount. */
export interface VaultKubernetesRole {
  readonly name: string;
  readonly serviceAccount: string;
  readonly namespace: string;
  /** Apex policy the role's tokens carry. */
  readonly policy: ApexVaultPolicyKey;
  /** `aud` the login JWT must carry; unset: any audience the API server accepts. */
  readonly audience?: string;
}

/** Kubernetes auth for the workloads' ServiceAccounts. */
export interface VaultKubernetesAuthArgs {
  /** Auth mount: a dedicated one (default `kubernetes-apex`) or an existing one by path (then only roles are created). */
  readonly mount: VaultMountRef;
  /** API server address Vault sends TokenReviews to (required when the program configures the mount). */
  readonly kubernetesHost?: string;
  /** PEM CA of that API server. Unset: Vault trusts its own service account's CA (Vault inside the cluster). */
  readonly kubernetesCaCert?: string;
  readonly tokenTtlSeconds: number;
  readonly roles: readonly VaultKubernetesRole[];
}

export interface ApexVaultArgs {
  readonly server: DevVaultArgs | ExistingVaultArgs;
  /** Apex's KV v2 mount: a dedicated one (default `apex`) or an existing one by path. */
  readonly kvMount: VaultMountRef;
  /** Kubernetes target only. */
  readonly kubernetesAuth?: VaultKubernetesAuthArgs;
  /** The LLM keys (Pulumi secrets); stored with the provider's write-only field, so no plaintext in Vault's state. */
  readonly llmKeys: {
    readonly openaiApiKey?: pulumi.Input<string>;
    readonly anthropicApiKey?: pulumi.Input<string>;
    /** `dataJsonWoVersion`: bump it to write rotated keys (write-only data is not diffed). */
    readonly version: number;
  };
  /** Guards on the mounts the program creates. Default: none. */
  readonly protection?: Protection;
}

const devRootTokenSecret = "vault-dev";

/**
 * Vault for Apex: its KV v2 mount (created and protected, or adopted by path), the apex-read and
 * per-role policies on that mount, the LLM keys as a KV v2 secret, Kubernetes auth (mount created
 * and configured with the API server and its CA, or adopted) with roles for the workloads and the
 * secrets operator; in dev also the dev-mode server itself.
 */
export class ApexVault extends pulumi.ComponentResource {
  public readonly provider: vault.Provider;
  /** Address people and the provider use. */
  public readonly address: pulumi.Output<string>;
  /** Dev only: the root token (secret). */
  public readonly devRootToken?: pulumi.Output<string>;
  public readonly policies: Record<ApexVaultPolicyKey, vault.Policy>;
  /** Path of Apex's KV v2 mount. */
  public readonly kvMountPath: string;
  /** Only when the program manages the mount. */
  public readonly kvMount?: vault.Mount;
  public readonly llmKeysSecret?: vault.kv.SecretV2;
  /** Path of the Kubernetes auth mount (Kubernetes target). */
  public readonly kubernetesAuthPath?: string;
  /** Only when the program manages the auth mount. */
  public readonly kubernetesAuthBackend?: vault.AuthBackend;
  public readonly kubernetesRoles: vault.kubernetes.AuthBackendRole[] = [];
  /** The same roles by role name. */
  public readonly kubernetesRoleByName = new Map<string, vault.kubernetes.AuthBackendRole>();

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

    const protection = args.protection ?? unprotected;
    this.kvMountPath = args.kvMount.path;
    if (args.kvMount.manage) {
      this.kvMount = new vault.Mount(`${name}-kv`, {
        path: args.kvMount.path,
        type: "kv",
        options: { version: "2" },
        description: "KV v2 secrets of Apex (apex:vault.kvMount)",
      }, { ...child, ...keepOptions(protection) });
    }
    const mountPath = this.kvMount?.path ?? pulumi.output(args.kvMount.path);

    const docs = apexVaultPolicies(args.kvMount.path);
    const policies = {} as Record<ApexVaultPolicyKey, vault.Policy>;
    for (const [key, doc] of Object.entries(docs) as [ApexVaultPolicyKey, VaultPolicyDoc][]) {
      // A policy on a mount the program creates waits for it (the paths name it).
      policies[key] = new vault.Policy(`${name}-${doc.name}`, { name: doc.name, policy: renderVaultPolicy(doc) }, { ...child, dependsOn: this.kvMount ? [this.kvMount] : [] });
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
      this.kubernetesAuthPath = auth.mount.path;
      let backend: pulumi.Input<string> = auth.mount.path;
      const roleDeps: pulumi.Resource[] = [];
      if (auth.mount.manage) {
        if (auth.kubernetesHost === undefined) {
          throw new Error(`vault: the Kubernetes auth mount "${auth.mount.path}" is configured by the program, which needs kubernetesHost`);
        }
        this.kubernetesAuthBackend = new vault.AuthBackend(`${name}-kubernetes-auth`, {
          type: "kubernetes",
          path: auth.mount.path,
          description: "Apex workloads and the secrets operator log in with their ServiceAccount tokens",
        }, { ...child, ...keepOptions(protection) });
        backend = this.kubernetesAuthBackend.path;
        // No token_reviewer_jwt: Vault reviews each login with the client's own short-lived JWT, so
        // no long-lived reviewer token exists anywhere; the logging-in ServiceAccount needs
        // system:auth-delegator (SecretsSync binds it for the operator's). docs/security.md.
        roleDeps.push(new vault.kubernetes.AuthBackendConfig(`${name}-kubernetes-auth-config`, {
          backend,
          kubernetesHost: auth.kubernetesHost,
          kubernetesCaCert: auth.kubernetesCaCert,
          // With a CA from config Vault never falls back to its own pod's files; without one (dev:
          // Vault inside a local cluster) it trusts the CA of its own service account.
          disableLocalCaJwt: auth.kubernetesCaCert !== undefined,
        }, child));
      }
      for (const role of auth.roles) {
        const created = new vault.kubernetes.AuthBackendRole(`${name}-role-${role.name}`, {
          backend,
          roleName: role.name,
          boundServiceAccountNames: [role.serviceAccount],
          boundServiceAccountNamespaces: [role.namespace],
          audience: role.audience,
          tokenPolicies: [policies[role.policy].name],
          tokenTtl: auth.tokenTtlSeconds,
          tokenMaxTtl: auth.tokenTtlSeconds * 4,
        }, { ...child, dependsOn: roleDeps });
        this.kubernetesRoles.push(created);
        this.kubernetesRoleByName.set(role.name, created);
      }
    }

    this.registerOutputs({
      address: this.address,
      kvMountPath: this.kvMountPath,
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
