import * as pulumi from "@pulumi/pulumi";
import {
  defaultLlmRequestTimeoutMs,
  httpPaths,
  minWorkerShutdownGraceMs,
  podTerminationGraceSeconds,
  runtimeEnv,
  services,
} from "../../app/src/contract";
import { STACK_SECRET_NAME, stackSecretKeys } from "../platform/secrets";
import {
  deployService,
  type AutoscalingSpec,
  type DeployedService,
  type Platform,
  type ResourceSpec,
  type SecretRef,
  type ServiceSpec,
  type VolumeSpec,
} from "../service";

/**
 * How each process starts inside the runtime image: the image's CMD (WORKDIR /app, see
 * app/Dockerfile), passed as args so the node image's entrypoint stays in place.
 */
export const runtimeCommands = {
  api: ["node", "dist/bin/apex-api.js"],
  worker: ["node", "dist/bin/apex-worker.js"],
} as const;

export interface ProcessSettings {
  /** Fixed replicas (Docker always; Kubernetes when `autoscaling` is null). */
  readonly replicas: number;
  readonly autoscaling: AutoscalingSpec | null;
  readonly resources: ResourceSpec;
}

/**
 * How DATABASE_URL and REDIS_URL reach the processes. Kubernetes: the URLs, credentials inside, by
 * secretKeyRef. Docker has no secret references (every env value lands in the container's config),
 * so the URLs without credentials are plain env and the passwords come as DATABASE_PASSWORD /
 * REDIS_PASSWORD, which the runtime splices in (app/src/config.ts).
 */
export type DataStoreEnv = (
  | { readonly databaseUrl: SecretRef; readonly redisUrl: SecretRef }
  | {
      readonly databaseUrl: pulumi.Input<string>;
      readonly databasePassword: SecretRef;
      readonly redisUrl: pulumi.Input<string>;
      readonly redisPassword: SecretRef;
    }
) & {
  /** CA bundle the clients verify the servers with (managed RDS), mounted read-only. */
  readonly caVolume?: VolumeSpec;
};

export interface ApexRuntimeArgs {
  readonly platform: Platform;
  /** Runtime image reference (RuntimeImage.ref). */
  readonly image: pulumi.Input<string>;
  /** Where the data stores are and their credentials, by reference only (components/data/access.ts). */
  readonly dataStores: DataStoreEnv;
  readonly api: ProcessSettings;
  readonly workers: ProcessSettings & {
    readonly concurrency: number;
    readonly sandboxDriver: "local" | "docker" | "kubernetes";
    /** APEX_SANDBOX_HARDENED, set when the driver is `local` (the others isolate by container/Pod). Default: the runtime's `auto`. */
    readonly sandboxHardened?: "auto" | "required" | "off";
    /** Group owning the Docker socket (sandbox driver "docker", dev only). */
    readonly dockerSocketGid?: number;
    /** Who scales an autoscaled worker on Kubernetes: `keda` (a WorkerAutoscaler's ScaledObject; no HPA here) or `cpu` (our HPA). Default `cpu`. */
    readonly autoscaler?: "keda" | "cpu";
    /** SIGTERM drain (s); default and minimum: the LLM request timeout + the drain margin (contract/worker-drain.ts). */
    readonly shutdownGraceSeconds?: number;
    /** IAM role of the worker's ServiceAccount (IRSA, `apex:aws.workerRoleArn`). Default: none. */
    readonly iamRoleArn?: string;
  };
  readonly logLevel: string;
  readonly llm: {
    readonly openaiBaseUrl?: string;
    readonly anthropicBaseUrl?: string;
    /** APEX_LLM_RATE_LIMITS of the workers (they make the calls); empty or unset = not set. */
    readonly rateLimits?: Readonly<Record<string, { readonly requestsPerMinute?: number; readonly tokensPerMinute?: number } | undefined>>;
    /** APEX_LLM_BREAKER of the workers; empty or unset = the runtime's defaults. */
    readonly breaker?: { readonly failureThreshold?: number; readonly cooldownMs?: number; readonly probeLeaseMs?: number; readonly probeTimeoutMs?: number };
    /** APEX_LLM_TIMEOUT_MS of the workers; default the runtime's (120 s). */
    readonly requestTimeoutMs?: number;
  };
  /** Tool settings both processes need (the API validates submissions against the same registry). */
  readonly tools?: {
    /** APEX_TOOL_HTTP_ALLOWLIST; empty or unset = no http_fetch tool. */
    readonly httpFetchAllowHosts?: readonly string[];
  };
  /** Keys present in `apex-secrets` (unset LLM keys are left out of the env). */
  readonly secretKeysPresent: readonly string[];
  /**
   * Where OPENAI_API_KEY/ANTHROPIC_API_KEY come from when a secrets operator syncs them from Vault:
   * the Secret it writes and the keys it holds. Unset: `apex-secrets` (keys in secretKeysPresent).
   */
  readonly llmKeys?: { readonly secret: string; readonly keys: readonly string[] };
  /** Env for both processes from other components (e.g. OTEL_EXPORTER_OTLP_ENDPOINT from observability). */
  readonly extraEnv?: Readonly<Record<string, pulumi.Input<string>>>;
}

const DOCKER_SOCKET = "/var/run/docker.sock";
const fromSecret = (key: string): SecretRef => ({ secret: STACK_SECRET_NAME, key });
const scratch: VolumeSpec = { kind: "tmp", name: "tmp", mountPath: "/tmp", sizeLimit: "256Mi" };
const caVolumes = (args: ApexRuntimeArgs): VolumeSpec[] => (args.dataStores.caVolume ? [args.dataStores.caVolume] : []);

/** A node-based health check: the runtime image is not guaranteed to ship wget/curl. */
const nodeHealthcheck = (port: number, path: string) => [
  "CMD",
  "node",
  "-e",
  `fetch("http://127.0.0.1:${port}${path}").then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
];

/** JSON of the entries that are set, or undefined when none is (so the runtime's defaults apply). */
function jsonIfSet(value: object | undefined): string | undefined {
  if (value === undefined) return undefined;
  const set = Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
  return Object.keys(set).length > 0 ? JSON.stringify(set) : undefined;
}

const scalingOf = (p: ProcessSettings): ServiceSpec["scaling"] => p.autoscaling ?? { replicas: p.replicas };

/** KEDA scales the workers: the bounds stay (PDB, spread), the HPA is KEDA's own. */
function workerScalingOf(args: ApexRuntimeArgs): ServiceSpec["scaling"] {
  const a = args.workers.autoscaling;
  if (a && args.workers.autoscaler === "keda" && args.platform.target === "kubernetes") {
    return { minReplicas: a.minReplicas, maxReplicas: a.maxReplicas, external: true };
  }
  return scalingOf(args.workers);
}

/**
 * A worker's drain, all from the LLM request timeout: the runtime's grace covers a call started
 * just before SIGTERM, the pod's grace period covers that plus the process's own shutdown.
 */
export function workerDrain(args: Pick<ApexRuntimeArgs, "workers" | "llm">): {
  llmTimeoutMs: number;
  shutdownGraceMs: number;
  terminationGracePeriodSeconds: number;
} {
  const llmTimeoutMs = args.llm.requestTimeoutMs ?? defaultLlmRequestTimeoutMs;
  const minimum = minWorkerShutdownGraceMs(llmTimeoutMs);
  const configured = args.workers.shutdownGraceSeconds;
  if (configured !== undefined && configured * 1000 < minimum) {
    throw new Error(`apex:workers.shutdownGraceSeconds: expected at least ${Math.ceil(minimum / 1000)} (the LLM request timeout + margin), got ${configured}`);
  }
  const shutdownGraceMs = configured === undefined ? minimum : configured * 1000;
  return { llmTimeoutMs, shutdownGraceMs, terminationGracePeriodSeconds: podTerminationGraceSeconds(shutdownGraceMs) };
}

/** The env both processes share: where the data stores are, and the credentials by reference. */
function sharedEnv(args: ApexRuntimeArgs, serviceName: string) {
  const env: Record<string, pulumi.Input<string>> = {
    NODE_ENV: "production",
    [runtimeEnv.serviceName]: serviceName,
    [runtimeEnv.logLevel]: args.logLevel,
    ...(args.llm.openaiBaseUrl ? { [runtimeEnv.openaiBaseUrl]: args.llm.openaiBaseUrl } : {}),
    ...(args.llm.anthropicBaseUrl ? { [runtimeEnv.anthropicBaseUrl]: args.llm.anthropicBaseUrl } : {}),
    ...(args.tools?.httpFetchAllowHosts?.length ? { [runtimeEnv.toolHttpAllowlist]: args.tools.httpFetchAllowHosts.join(",") } : {}),
    ...args.extraEnv,
  };
  const stores = args.dataStores;
  const secretEnv: Record<string, SecretRef> = "databasePassword" in stores
    ? { [runtimeEnv.databasePassword]: stores.databasePassword, [runtimeEnv.redisPassword]: stores.redisPassword }
    : { [runtimeEnv.databaseUrl]: stores.databaseUrl, [runtimeEnv.redisUrl]: stores.redisUrl };
  if ("databasePassword" in stores) {
    env[runtimeEnv.databaseUrl] = stores.databaseUrl;
    env[runtimeEnv.redisUrl] = stores.redisUrl;
  }
  for (const [envName, key] of [
    [runtimeEnv.openaiApiKey, stackSecretKeys.openaiApiKey],
    [runtimeEnv.anthropicApiKey, stackSecretKeys.anthropicApiKey],
  ] as const) {
    if (args.llmKeys) {
      if (args.llmKeys.keys.includes(key)) secretEnv[envName] = { secret: args.llmKeys.secret, key };
    } else if (args.secretKeysPresent.includes(key)) secretEnv[envName] = fromSecret(key);
  }
  return { env, secretEnv };
}

export function apiSpec(args: ApexRuntimeArgs): ServiceSpec {
  const api = services.api;
  const shared = sharedEnv(args, api.name);
  return {
    name: api.name,
    component: "api",
    image: args.image,
    args: [...runtimeCommands.api],
    ports: [
      { name: "http", port: api.httpPort, hostPort: api.httpPort, metrics: true, appProtocol: "http" },
      { name: "grpc", port: api.grpcPort, hostPort: api.grpcPort, appProtocol: "grpc" },
    ],
    env: { ...shared.env, [runtimeEnv.httpPort]: String(api.httpPort), [runtimeEnv.grpcPort]: String(api.grpcPort) },
    secretEnv: { ...shared.secretEnv, [runtimeEnv.bootstrapAdminKey]: fromSecret(stackSecretKeys.bootstrapAdminKey) },
    resources: args.api.resources,
    probes: {
      readiness: { http: { path: httpPaths.ready, port: api.httpPort }, initialDelaySeconds: 5, periodSeconds: 5 },
      liveness: { http: { path: httpPaths.health, port: api.httpPort }, initialDelaySeconds: 15, periodSeconds: 10 },
    },
    dockerHealthcheck: nodeHealthcheck(api.httpPort, httpPaths.ready),
    scaling: scalingOf(args.api),
    dependsOn: [services.postgres.name, services.redis.name],
    volumes: [scratch, ...caVolumes(args)],
  };
}

export function workerSpec(args: ApexRuntimeArgs): ServiceSpec {
  const worker = services.worker;
  const shared = sharedEnv(args, worker.name);
  const dockerSandbox = args.workers.sandboxDriver === "docker";
  const rateLimits = jsonIfSet(args.llm.rateLimits);
  const breaker = jsonIfSet(args.llm.breaker);
  const drain = workerDrain(args);
  // Only workers call LLMs and run tools; the API never does.
  const workerOnly: Record<string, string> = {
    [runtimeEnv.llmTimeoutMs]: String(drain.llmTimeoutMs),
    [runtimeEnv.workerShutdownGraceMs]: String(drain.shutdownGraceMs),
    ...(rateLimits ? { [runtimeEnv.llmRateLimits]: rateLimits } : {}),
    ...(breaker ? { [runtimeEnv.llmBreaker]: breaker } : {}),
    ...(args.workers.sandboxDriver === "local" && args.workers.sandboxHardened ? { [runtimeEnv.sandboxHardened]: args.workers.sandboxHardened } : {}),
  };
  return {
    name: worker.name,
    component: "worker",
    image: args.image,
    args: [...runtimeCommands.worker],
    ports: [{ name: "metrics", port: worker.metricsPort, metrics: true, appProtocol: "http" }],
    env: {
      ...shared.env,
      [runtimeEnv.metricsPort]: String(worker.metricsPort),
      [runtimeEnv.workerConcurrency]: String(args.workers.concurrency),
      [runtimeEnv.sandboxDriver]: args.workers.sandboxDriver,
      ...workerOnly,
    },
    secretEnv: shared.secretEnv,
    resources: args.workers.resources,
    // The worker serves /metrics, /healthz and /readyz on its metrics port (app/src/bin/metrics-server.ts):
    // draining, it turns unready while /healthz stays 200, so liveness never cuts a drain short.
    probes: {
      readiness: { http: { path: httpPaths.ready, port: worker.metricsPort }, initialDelaySeconds: 5, periodSeconds: 10 },
      liveness: { http: { path: httpPaths.health, port: worker.metricsPort }, initialDelaySeconds: 15, periodSeconds: 10 },
    },
    dockerHealthcheck: nodeHealthcheck(worker.metricsPort, httpPaths.health),
    scaling: workerScalingOf(args),
    terminationGracePeriodSeconds: drain.terminationGracePeriodSeconds,
    // The seed's Compose order: workers start once the API (which migrates the schema) is healthy.
    dependsOn: [services.api.name],
    // The kubernetes sandbox driver creates Pods through the API; RBAC comes from the security component.
    kubernetesApiAccess: args.workers.sandboxDriver === "kubernetes",
    // IRSA: EKS's pod identity webhook gives pods of this ServiceAccount the role's credentials.
    serviceAccountAnnotations: args.workers.iamRoleArn ? { "eks.amazonaws.com/role-arn": args.workers.iamRoleArn } : undefined,
    // Dev only: the docker sandbox driver starts sandbox containers through the engine's socket.
    supplementalGroups: dockerSandbox && args.workers.dockerSocketGid !== undefined ? [args.workers.dockerSocketGid] : undefined,
    volumes: [
      scratch,
      ...caVolumes(args),
      ...(dockerSandbox ? [{ kind: "hostPath", name: "docker-socket", hostPath: DOCKER_SOCKET, mountPath: DOCKER_SOCKET } as const] : []),
    ],
  };
}

/** apex-api and apex-worker, rendered from one image and one env on the stack's target. */
export class ApexRuntime extends pulumi.ComponentResource {
  public readonly api: DeployedService;
  public readonly worker: DeployedService;

  constructor(name: string, args: ApexRuntimeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:runtime:ApexRuntime", name, {}, opts);
    this.api = deployService(`${name}-api`, apiSpec(args), args.platform, { parent: this });
    this.worker = deployService(`${name}-worker`, workerSpec(args), args.platform, { parent: this });
    this.registerOutputs({ apiHost: this.api.host, workerHost: this.worker.host });
  }
}
