import { z } from "zod";
import {
  autoscaling,
  bool,
  dnsLabel,
  hostname,
  ipv4Address,
  ipv4Cidr,
  list,
  memoryQuantity,
  nonEmptyText,
  oneOf,
  positiveInt,
  resources,
  section,
  stringMap,
} from "./fields";
import { defaultLlmRequestTimeoutMs } from "../app/src/contract/worker-drain";
import { plainSection, secretSection } from "./section";

/** The seed's resource model for apex-api and apex-worker (requests 500m/512Mi, limits 2/2Gi). */
const seedResources = { requests: { cpu: "500m", memory: "512Mi" }, limits: { cpu: "2", memory: "2Gi" } };
/** The seed's HPA: 2..10 replicas at 70 % CPU. */
const seedAutoscaling = { minReplicas: 2, maxReplicas: 10, targetCpuUtilization: 70 };
/** Everything except public addresses: RFC 1918, loopback, link-local (cloud metadata), CGNAT. */
const nonPublicIpv4 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10"];

/** An http_fetch allowlist entry: a host name, or `*.` + a domain for every name under it. */
const hostPattern = () => {
  const e = { error: 'expected a host name such as "docs.python.org" or "*.wikipedia.org" (no scheme, no port)' };
  return z.string(e).max(253, e).regex(/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, e);
};

/** Per-provider limits shared by all workers (APEX_LLM_RATE_LIMITS); a provider left out is not limited by us. */
const providerRateLimits = () => section({ requestsPerMinute: positiveInt().optional(), tokensPerMinute: positiveInt().optional() }).optional();

/**
 * KEDA ScaledObject of the workers (apex:workers.autoscaler "keda"; docs/scaling.md). The operator
 * queries Prometheus, so its namespace and pod labels open that flow in the NetworkPolicy.
 */
const kedaSettings = () =>
  section({
    /** Queued + running tasks one worker should carry; default apex:workers.concurrency. */
    targetTasksPerReplica: positiveInt().optional(),
    pollingIntervalSeconds: positiveInt(),
    /** Scale-down waits until the desired count stayed lower this long (HPA behavior). */
    scaleDownStabilizationSeconds: z.number(secondsError).int(secondsError).min(0, secondsError).max(3_600, secondsError),
    /** Replicas while Prometheus cannot be queried; default apex:workers.autoscaling.maxReplicas. */
    fallbackReplicas: positiveInt().optional(),
    /** Prometheus the operator queries; default this stack's (`http://prometheus.<namespace>.svc:9090`). */
    prometheusAddress: url().optional(),
    operatorNamespace: dnsLabel(),
    operatorPodLabels: stringMap(),
  });
const kedaDefaults = {
  pollingIntervalSeconds: 15,
  scaleDownStabilizationSeconds: 300,
  operatorNamespace: "keda",
  operatorPodLabels: { app: "keda-operator" },
};
const secondsError = { error: "expected a whole number of seconds from 0 to 3600" };
const llmTimeoutError = { error: "expected milliseconds from 1000 to 3600000" };

const url = () => {
  const e = { error: 'expected an http(s) URL such as "https://api.openai.com/v1"' };
  return z.string(e).regex(/^https?:\/\/[^\s]+$/, e);
};

/**
 * The foundation's config keys (namespace `apex`), with the defaults of each environment.
 * Defaults live here and only here; docs/configuration.md is the reference table.
 */
export const coreSections = {
  target: plainSection({
    description: "Where the stack deploys: `docker` (the local engine) or `kubernetes`.",
    schema: oneOf(["docker", "kubernetes"]),
    defaults: { dev: "docker", prod: "kubernetes" },
  }),
  namespace: plainSection({
    description: "Kubernetes namespace of the platform; on Docker, the prefix of container, network and volume names.",
    schema: dnsLabel(),
    defaults: { all: "apex" },
  }),
  logLevel: plainSection({
    description: "LOG_LEVEL of apex-api and apex-worker.",
    schema: oneOf(["trace", "debug", "info", "warn", "error"]),
    defaults: { dev: "debug", prod: "info" },
  }),
  docker: plainSection({
    description: "Docker target: engine address, host address ports are published on, group owning the engine socket.",
    schema: section({
      host: nonEmptyText('a Docker host such as "unix:///var/run/docker.sock"').optional(),
      publishAddress: ipv4Address(),
      socketGid: z.number({ error: "expected a group id (integer >= 0)" }).int({ error: "expected a group id (integer >= 0)" }).min(0, { error: "expected a group id (integer >= 0)" }),
    }),
    defaults: { all: { publishAddress: "127.0.0.1", socketGid: 0 } },
  }),
  kubernetes: plainSection({
    description: "Kubernetes target: kubeconfig context, storage class, where the cluster DNS runs.",
    schema: section({
      context: nonEmptyText().optional(),
      storageClass: nonEmptyText().optional(),
      dns: section({ namespace: dnsLabel(), podLabels: stringMap() }),
    }),
    defaults: { all: { dns: { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } } } },
  }),
  api: plainSection({
    description: "apex-api: fixed replicas (Docker, or Kubernetes with `autoscaling: null`), HPA bounds, requests/limits.",
    schema: section({ replicas: positiveInt(), autoscaling: autoscaling().nullable(), resources: resources() }),
    defaults: {
      all: { resources: seedResources },
      dev: { replicas: 1, autoscaling: null },
      prod: { replicas: 2, autoscaling: seedAutoscaling },
    },
  }),
  workers: plainSection({
    description: "apex-worker: replicas, autoscaling bounds and what scales them (KEDA on queued work, or CPU), requests/limits, task slots per worker, shutdown grace, sandbox driver and the local driver's hardening.",
    schema: section({
      replicas: positiveInt(),
      autoscaling: autoscaling().nullable(),
      /** Kubernetes, with `autoscaling` set: `keda` (a ScaledObject on queued + running tasks) or `cpu` (an HPA at targetCpuUtilization). */
      autoscaler: oneOf(["keda", "cpu"]),
      keda: kedaSettings(),
      /** SIGTERM drain of a worker (s); default apex:llm.requestTimeoutMs + 15 s, never less. */
      shutdownGraceSeconds: positiveInt().optional(),
      resources: resources(),
      concurrency: positiveInt(),
      sandboxDriver: oneOf(["local", "docker", "kubernetes"]),
      /** APEX_SANDBOX_HARDENED of the `local` driver: `required` refuses to start without bubblewrap and cgroups. */
      sandboxHardened: oneOf(["auto", "required", "off"]),
    }),
    defaults: {
      all: { keda: kedaDefaults },
      dev: { replicas: 3, autoscaling: null, autoscaler: "cpu", resources: seedResources, concurrency: 4, sandboxDriver: "docker", sandboxHardened: "auto" },
      prod: { replicas: 2, autoscaling: seedAutoscaling, autoscaler: "keda", resources: seedResources, concurrency: 8, sandboxDriver: "kubernetes", sandboxHardened: "required" },
    },
  }),
  postgres: plainSection({
    description: "In-cluster/container Postgres 16: volume size, storage class, requests/limits.",
    schema: section({ storageSize: memoryQuantity(), resources: resources() }),
    defaults: {
      dev: { storageSize: "1Gi", resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } } },
      prod: { storageSize: "20Gi", resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2", memory: "4Gi" } } },
    },
  }),
  redis: plainSection({
    description: "Redis 7 (rate limits, breaker state, event fan-out; not durable): requests/limits.",
    schema: section({ resources: resources() }),
    defaults: {
      dev: { resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "256Mi" } } },
      prod: { resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } } },
    },
  }),
  ingress: plainSection({
    description: "Kubernetes exposure: IngressClass, API hosts (HTTP and gRPC), the operator console's host (`consoleHost`, required while apex:dashboard.enabled), TLS Secret (issued by a cert-manager ClusterIssuer when `clusterIssuer` is set), the controller's namespace.",
    schema: section({
      className: nonEmptyText(),
      controllerNamespace: dnsLabel(),
      host: hostname().optional(),
      grpcHost: hostname().optional(),
      /** apex-dashboard (the operator console); checked in config/dashboard.ts. */
      consoleHost: hostname().optional(),
      tls: section({ secretName: dnsLabel(), clusterIssuer: nonEmptyText().optional() }).optional(),
    }),
    defaults: { all: { className: "nginx", controllerNamespace: "ingress-nginx" } },
  }),
  network: plainSection({
    description: "Kubernetes egress: workers to the LLM providers on 443 (allowed CIDRs, ranges cut out of them), and to the API server (its CIDRs and port; needed by the kubernetes sandbox driver).",
    schema: section({
      llmEgressCidrs: list(ipv4Cidr(), "IPv4 CIDRs"),
      llmEgressExcept: list(ipv4Cidr(), "IPv4 CIDRs"),
      apiServerCidrs: list(ipv4Cidr(), "IPv4 CIDRs"),
      apiServerPort: positiveInt(),
    }),
    defaults: { all: { llmEgressCidrs: ["0.0.0.0/0"], llmEgressExcept: nonPublicIpv4, apiServerCidrs: [], apiServerPort: 443 } },
  }),
  llm: plainSection({
    description: "LLM providers: base URLs (default: the SDKs' public endpoints), shared rate limits per provider, circuit breaker policy (default: the runtime's).",
    schema: section({
      openaiBaseUrl: url().optional(),
      anthropicBaseUrl: url().optional(),
      rateLimits: section({ openai: providerRateLimits(), anthropic: providerRateLimits(), local: providerRateLimits() }),
      breaker: section({
        failureThreshold: positiveInt().optional(),
        cooldownMs: z.number({ error: "expected an integer >= 0 (milliseconds)" }).int({ error: "expected an integer >= 0 (milliseconds)" }).min(0, { error: "expected an integer >= 0 (milliseconds)" }).optional(),
        probeLeaseMs: positiveInt().optional(),
        probeTimeoutMs: positiveInt().optional(),
      }),
      /** APEX_LLM_TIMEOUT_MS: client timeout of one provider request; the workers' shutdown grace is derived from it. */
      requestTimeoutMs: z.number(llmTimeoutError).int(llmTimeoutError).min(1_000, llmTimeoutError).max(3_600_000, llmTimeoutError),
    }),
    // Empty: no limits of ours (the providers' own 429s still apply) and the runtime's breaker defaults.
    defaults: { all: { requestTimeoutMs: defaultLlmRequestTimeoutMs, rateLimits: {}, breaker: {} } },
  }),
  tools: plainSection({
    description: "Tools: hosts `http_fetch` may GET (https, public addresses only). Empty: no http_fetch tool.",
    schema: section({ httpFetchAllowHosts: list(hostPattern(), "host names") }),
    defaults: { all: { httpFetchAllowHosts: [] } },
  }),
  protection: plainSection({
    description: "Guards on what holds data (database, cache, namespaces, Vault mounts, volumes): `protect` stops `pulumi destroy` and replacements on them; `retainOnDelete` leaves the object in place when Pulumi deletes it.",
    schema: section({ protect: bool(), retainOnDelete: bool() }),
    defaults: { dev: { protect: false, retainOnDelete: false }, prod: { protect: true, retainOnDelete: true } },
  }),
  openaiApiKey: secretSection({ description: "OpenAI API key (secret; stored in `apex-secrets` as OPENAI_API_KEY).", requiredIn: ["prod"] }),
  anthropicApiKey: secretSection({ description: "Anthropic API key (secret; stored in `apex-secrets` as ANTHROPIC_API_KEY).", requiredIn: ["prod"] }),
  postgresPassword: secretSection({
    description: "Postgres password of the `apex` user (secret). Generated (random, 32 chars) when not set.",
    requiredIn: [],
    minLength: 12,
  }),
  bootstrapAdminKey: secretSection({
    description: "First admin API key (secret). Generated when not set; read it with `pulumi stack output --show-secrets bootstrapAdminKey`.",
    requiredIn: [],
    minLength: 16,
  }),
  registryPassword: secretSection({ description: "Password/token for `apex:registry` (secret).", requiredIn: [] }),
  kubeconfig: secretSection({ description: "Kubeconfig contents (secret). Default: the ambient kubeconfig.", requiredIn: [] }),
} as const;
