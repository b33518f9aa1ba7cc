import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { KubernetesPlatform } from "../service";

/**
 * The LLM keys from Vault into a Kubernetes Secret through a secrets operator the platform team
 * installed (a prerequisite, docs/security.md): the External Secrets Operator (SecretStore +
 * ExternalSecret, external-secrets.io/v1, ESO >= 0.16) or the Vault Secrets Operator
 * (VaultConnection + VaultAuth + VaultStaticSecret, secrets.hashicorp.com/v1beta1). Only the
 * operator's objects are declared here, with the ServiceAccount it logs in to Vault as.
 */
export type SecretsOperatorKind = "external-secrets" | "vault-secrets-operator";

/** The ServiceAccount the operator requests Vault login tokens for (and the Vault role's name). */
export const SECRETS_SYNC_SERVICE_ACCOUNT = "apex-secrets-sync";
/** The Secret the operator writes and the runtime reads its LLM keys from. */
export const LLM_KEYS_SECRET = "apex-llm-keys";
/** Audience Vault's role requires on the login token. */
export const VAULT_TOKEN_AUDIENCE = "vault";

export interface SecretsSyncArgs {
  readonly kind: SecretsOperatorKind;
  readonly platform: KubernetesPlatform;
  readonly vault: {
    readonly address: string;
    /** PEM CA of Vault's TLS certificate; unset: the operator's system trust store. */
    readonly caCert?: string;
    /** KV v2 mount holding the keys. */
    readonly kvMount: string;
    /** Kubernetes auth mount and the role bound to SECRETS_SYNC_SERVICE_ACCOUNT. */
    readonly authMount: string;
    readonly role: string;
  };
  /**
   * The API server's own token audience. Vault reviews each login with the client's JWT (no
   * reviewer token), so the token must be accepted by the API server as well as carry `vault`.
   */
  readonly apiAudience: string;
  /** Path of the secret inside the KV mount and the keys (properties) to copy, each under its own name. */
  readonly source: { readonly path: string; readonly keys: readonly string[] };
  /** Name of the Secret written. Default LLM_KEYS_SECRET. */
  readonly targetSecret?: string;
  /** How often the operator re-reads Vault. Default "1h". */
  readonly refreshInterval?: string;
  /** Deployments restarted when the synced values change (VSO only; with ESO, restart them yourself). */
  readonly restartDeployments?: readonly string[];
  /** Vault resources the objects need first (the role, the written keys). */
  readonly dependsOn?: readonly pulumi.Resource[];
}

/**
 * The operator's objects for Apex's LLM keys: ServiceAccount, its `system:auth-delegator` binding
 * (the client-JWT token reviewer mode of Vault's Kubernetes auth), and the operator's CRD objects.
 * With ESO Pulumi waits for the ExternalSecret's Ready condition (`pulumi.com/waitFor`), so
 * workloads depending on `ready` start with the Secret in place; with VSO pods wait for the Secret.
 */
export class SecretsSync extends pulumi.ComponentResource {
  public readonly serviceAccount: k8s.core.v1.ServiceAccount;
  public readonly authDelegator: k8s.rbac.v1.ClusterRoleBinding;
  /** The operator's objects, in creation order; the last one produces the Secret. */
  public readonly objects: k8s.apiextensions.CustomResource[];
  /** Name of the Secret the runtime reads. */
  public readonly secretName: string;
  /** The object whose readiness means the Secret is synced. */
  public readonly ready: pulumi.Resource;

  constructor(name: string, args: SecretsSyncArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:security:SecretsSync", name, {}, opts);
    const { platform } = args;
    const child = { parent: this, provider: platform.provider };
    const namespace = platform.namespace;
    const labels = { ...platform.labels, "app.kubernetes.io/component": "secrets-sync" };
    const meta = (objectName: string) => ({ name: objectName, namespace, labels });
    this.secretName = args.targetSecret ?? LLM_KEYS_SECRET;
    const refreshInterval = args.refreshInterval ?? "1h";
    const audiences = [VAULT_TOKEN_AUDIENCE, args.apiAudience];

    this.serviceAccount = new k8s.core.v1.ServiceAccount(`${name}-sa`, {
      metadata: meta(SECRETS_SYNC_SERVICE_ACCOUNT),
      // The operator requests short-lived tokens for it (TokenRequest); no pod mounts one.
      automountServiceAccountToken: false,
    }, child);
    this.authDelegator = new k8s.rbac.v1.ClusterRoleBinding(`${name}-auth-delegator`, {
      metadata: { name: `${platform.namespaceName}-${platform.stack}-secrets-sync-auth-delegator`, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" },
      subjects: [{ kind: "ServiceAccount", name: SECRETS_SYNC_SERVICE_ACCOUNT, namespace }],
    }, child);
    const deps = [this.serviceAccount, this.authDelegator, ...(args.dependsOn ?? [])];
    const waitFor = { "pulumi.com/waitFor": "condition=Ready" };

    if (args.kind === "external-secrets") {
      const store = new k8s.apiextensions.CustomResource(`${name}-store`, {
        apiVersion: "external-secrets.io/v1",
        kind: "SecretStore",
        metadata: meta("apex-vault"),
        spec: {
          provider: {
            vault: {
              server: args.vault.address,
              path: args.vault.kvMount,
              version: "v2",
              caBundle: args.vault.caCert === undefined ? undefined : Buffer.from(args.vault.caCert).toString("base64"),
              auth: {
                kubernetes: {
                  mountPath: args.vault.authMount,
                  role: args.vault.role,
                  // ESO always adds `vault`; the API server's audience makes the token its own reviewer.
                  serviceAccountRef: { name: SECRETS_SYNC_SERVICE_ACCOUNT, audiences: [args.apiAudience] },
                },
              },
            },
          },
        },
      }, { ...child, dependsOn: deps });
      const externalSecret = new k8s.apiextensions.CustomResource(`${name}-external-secret`, {
        apiVersion: "external-secrets.io/v1",
        kind: "ExternalSecret",
        metadata: { ...meta(this.secretName), annotations: waitFor },
        spec: {
          refreshInterval,
          secretStoreRef: { kind: "SecretStore", name: "apex-vault" },
          target: { name: this.secretName, creationPolicy: "Owner", deletionPolicy: "Retain" },
          data: args.source.keys.map((key) => ({ secretKey: key, remoteRef: { key: args.source.path, property: key } })),
        },
      }, { ...child, dependsOn: [store] });
      this.objects = [store, externalSecret];
    } else {
      const objects: k8s.apiextensions.CustomResource[] = [];
      let caSecret: k8s.core.v1.Secret | undefined;
      if (args.vault.caCert !== undefined) {
        // VaultConnection takes the CA from a Secret (key ca.crt); the CA is public.
        caSecret = new k8s.core.v1.Secret(`${name}-vault-ca`, {
          metadata: meta("apex-vault-ca"),
          type: "Opaque",
          stringData: { "ca.crt": args.vault.caCert },
        }, child);
      }
      const connection = new k8s.apiextensions.CustomResource(`${name}-connection`, {
        apiVersion: "secrets.hashicorp.com/v1beta1",
        kind: "VaultConnection",
        metadata: meta("apex-vault"),
        spec: { address: args.vault.address, caCertSecretRef: caSecret ? "apex-vault-ca" : undefined, skipTLSVerify: false },
      }, { ...child, dependsOn: caSecret ? [caSecret] : [] });
      const auth = new k8s.apiextensions.CustomResource(`${name}-auth`, {
        apiVersion: "secrets.hashicorp.com/v1beta1",
        kind: "VaultAuth",
        metadata: meta("apex-vault"),
        spec: {
          vaultConnectionRef: "apex-vault",
          method: "kubernetes",
          mount: args.vault.authMount,
          kubernetes: { role: args.vault.role, serviceAccount: SECRETS_SYNC_SERVICE_ACCOUNT, audiences },
        },
      }, { ...child, dependsOn: [connection, ...deps] });
      const staticSecret = new k8s.apiextensions.CustomResource(`${name}-static-secret`, {
        apiVersion: "secrets.hashicorp.com/v1beta1",
        kind: "VaultStaticSecret",
        metadata: meta(this.secretName),
        spec: {
          vaultAuthRef: "apex-vault",
          mount: args.vault.kvMount,
          type: "kv-v2",
          path: args.source.path,
          refreshAfter: refreshInterval,
          destination: { name: this.secretName, create: true },
          rolloutRestartTargets: (args.restartDeployments ?? []).map((d) => ({ kind: "Deployment", name: d })),
        },
      }, { ...child, dependsOn: [auth] });
      objects.push(connection, auth, staticSecret);
      this.objects = objects;
    }
    const last = this.objects[this.objects.length - 1];
    if (last === undefined) throw new Error("secrets sync: no operator object rendered");
    this.ready = last;
    this.registerOutputs({ secretName: this.secretName });
  }
}
