/**
 * The Apex Pulumi program. `pulumi up --stack dev` deploys to the local Docker engine,
 * `--stack prod` to Kubernetes; the stack config (namespace `apex`) decides, and is read once,
 * here. Pulumi calls the exported function and uses its result as the stack outputs.
 *
 * Layout: platform (deploy context) -> data stores -> runtime -> other components -> exposure
 * and network policies -> outputs. A component joins in the "Components" block with one
 * instantiation, contributing Kubernetes NetworkPolicy flows to `flows` and ingress routes to
 * `routes` where it needs them.
 */
import * as pulumi from "@pulumi/pulumi";
import { runtimeEnv, services } from "./app/src/contract";
import { clusterFromConfig } from "./components/aws/cluster-network";
import { managedDataStoresFromConfig } from "./components/aws/data-store-access";
import { browserUiUrls, consoleLinkEnv, dashboardFromConfig } from "./components/dashboard";
import { loadConfig } from "./config";
import { dataStoreSecretKeys, inClusterDataStoreAccess, managedDataStoreFlows } from "./components/data/access";
import { Postgres } from "./components/data/postgres";
import { Redis } from "./components/data/redis";
import { Observability, otlpEndpoint } from "./components/observability";
import { ingressFlows, PlatformIngress, type IngressRoute } from "./components/ingress";
import { DockerPlatformResources } from "./components/platform/docker";
import { KubernetesPlatformResources } from "./components/platform/kubernetes";
import { dnsFlow, NetworkFlows, type NetworkFlow } from "./components/platform/network-flows";
import { STACK_SECRET_NAME, StackSecrets, stackSecretKeys } from "./components/platform/secrets";
import { runtimeFlows } from "./components/runtime/flows";
import { imageTargetsFromConfig } from "./components/registry/from-config";
import { RuntimeImage, runtimeImageArgs } from "./components/runtime/image";
import { ApexRuntime } from "./components/runtime/runtime";
import { workerAutoscalerFromConfig } from "./components/runtime/worker-autoscaler";
import { sandboxArgsFromConfig, sandboxEnv } from "./components/sandbox/from-config";
import { SandboxRuntime } from "./components/sandbox/sandbox";
import { rbacArgsFromConfig, secretsSyncArgsFromConfig, vaultArgsFromConfig } from "./components/security/from-config";
import { SecretsSync } from "./components/security/secrets-operator";
import { KubernetesRbac } from "./components/security/rbac";
import { ApexVault } from "./components/security/vault";

function apex() {
  const config = loadConfig();
  // The cluster: kubeconfig (secret), AWS provider and network, from config or a referenced stack (docs/cluster.md).
  const cluster = clusterFromConfig(config);

  // ---- Platform: the deploy context every component renders into ----------------------------
  const secrets = new StackSecrets("apex-secrets", {
    // With a secrets operator the LLM keys live in Vault and reach the runtime through its Secret only.
    openaiApiKey: config.vault.secretsOperator === "none" ? config.openaiApiKey : undefined,
    anthropicApiKey: config.vault.secretsOperator === "none" ? config.anthropicApiKey : undefined,
    postgresPassword: config.postgresPassword,
    bootstrapAdminKey: config.bootstrapAdminKey,
  });
  // Data stores: RDS + ElastiCache (apex:dataStores "managed") or the stack's own (below); either
  // way DATABASE_URL and REDIS_URL, credentials inside, are keys of apex-secrets (docs/aws.md).
  const dbCredentials = { postgres: secrets.values[stackSecretKeys.postgresPassword]!, redis: secrets.values[stackSecretKeys.redisPassword]! };
  const dataStores = config.dataStores === "managed"
    ? managedDataStoresFromConfig(config, cluster, dbCredentials)
    : inClusterDataStoreAccess(dbCredentials);
  const stackSecretValues = { ...secrets.values, ...dataStores.secretValues };
  const base = config.target === "docker"
    ? new DockerPlatformResources("apex-docker", {
        stack: config.stack,
        environment: config.environment,
        namePrefix: `${config.namespace}-${config.stack}`,
        host: config.docker.host,
        publishAddress: config.docker.publishAddress,
        secrets: stackSecretValues,
        protection: config.protection,
      })
    : new KubernetesPlatformResources("apex-kubernetes", {
        stack: config.stack,
        environment: config.environment,
        namespace: config.namespace,
        kubeconfig: cluster.kubeconfig,
        context: config.kubernetes.context,
        storageClass: config.kubernetes.storageClass,
        secrets: stackSecretValues,
        protection: config.protection,
      });
  const platform = base.platform;
  /** Workloads start after the Secret they reference exists. */
  const afterSecrets: pulumi.ComponentResourceOptions =
    base instanceof KubernetesPlatformResources ? { dependsOn: [base.secret] } : {};
  /** Kubernetes NetworkPolicy flows (the namespace denies everything else). */
  const flows: NetworkFlow[] = [dnsFlow(config.kubernetes.dns)];
  /** Kubernetes Ingress routes. */
  const routes: IngressRoute[] = [];

  // ---- Components ------------------------------------------------------------------------------
  if (config.dataStores === "in-cluster") {
    new Postgres("apex-postgres", {
      platform,
      image: config.images.postgres,
      storageSize: config.postgres.storageSize,
      resources: config.postgres.resources,
    }, afterSecrets);
    new Redis("apex-redis", { platform, image: config.images.redis, resources: config.redis.resources }, afterSecrets);
  }

  // Images: ECR repositories (prod) or the configured registry, tagged with the commit, run by digest (docs/images.md).
  const imageTargets = imageTargetsFromConfig(config, { protection: config.protection, provider: cluster.awsProvider });
  const image = new RuntimeImage("apex-runtime-image", runtimeImageArgs(config.images.runtime, imageTargets.runtime));
  // The tool sandbox runtime: its image reaches the workers' sandbox drivers through env.
  const sandbox = new SandboxRuntime("apex-sandbox", sandboxArgsFromConfig(config, platform, imageTargets.sandbox));
  // Vault (docs/security.md): Apex's KV mount, policies, the LLM keys, Kubernetes auth; with
  // apex:vault.secretsOperator the operator syncs the keys into the Secret the runtime reads.
  const vault = new ApexVault("apex-vault", vaultArgsFromConfig(config, platform));
  const syncArgs = secretsSyncArgsFromConfig(config, platform, vault);
  const llmKeysSync = syncArgs && new SecretsSync("apex-secrets-sync", syncArgs);
  const runtime = new ApexRuntime("apex-runtime", {
    platform,
    image: image.ref,
    dataStores: platform.target === "kubernetes"
      ? {
          databaseUrl: { secret: STACK_SECRET_NAME, key: dataStoreSecretKeys.databaseUrl },
          redisUrl: { secret: STACK_SECRET_NAME, key: dataStoreSecretKeys.redisUrl },
          caVolume: dataStores.caVolume,
        }
      : {
          databaseUrl: dataStores.postgres.url,
          databasePassword: { secret: STACK_SECRET_NAME, key: stackSecretKeys.postgresPassword },
          redisUrl: dataStores.redis.url,
          redisPassword: { secret: STACK_SECRET_NAME, key: stackSecretKeys.redisPassword },
        },
    api: config.api,
    workers: { ...config.workers, dockerSocketGid: config.docker.socketGid, iamRoleArn: cluster.workerRoleArn },
    logLevel: config.logLevel,
    llm: config.llm,
    tools: config.tools,
    secretKeysPresent: Object.keys(secrets.values),
    llmKeys: llmKeysSync && syncArgs ? { secret: llmKeysSync.secretName, keys: syncArgs.source.keys } : undefined,
    // The console's links to a DAG's trace (Jaeger) and logs (Grafana), where the stack puts those UIs.
    extraEnv: { [runtimeEnv.otlpEndpoint]: otlpEndpoint, ...sandboxEnv(sandbox), ...consoleLinkEnv(browserUiUrls(config)) },
  }, llmKeysSync ? { dependsOn: [...(base instanceof KubernetesPlatformResources ? [base.secret] : []), llmKeysSync.ready] } : afterSecrets);
  flows.push(...runtimeFlows({
    llmEgress: { cidrs: config.network.llmEgressCidrs, except: config.network.llmEgressExcept },
    apiServer: config.workers.sandboxDriver === "kubernetes"
      ? { cidrs: config.network.apiServerCidrs, port: config.network.apiServerPort }
      : undefined,
    managedDataStores: dataStores.cidrs !== undefined,
  }));
  if (dataStores.cidrs !== undefined) flows.push(...managedDataStoreFlows(dataStores.cidrs));
  // KEDA scales the workers on queued work when apex:workers.autoscaler is "keda" (docs/scaling.md).
  flows.push(...(workerAutoscalerFromConfig(config, platform, runtime.worker)?.flows ?? []));

  // Observability: Jaeger, Prometheus + alerts, Alertmanager, postgres_exporter, Loki, Grafana (docs/observability.md).
  const observability = new Observability("apex-observability", {
    platform,
    settings: config.observability,
    database: {
      ...dataStores.postgres,
      password: { secret: STACK_SECRET_NAME, key: stackSecretKeys.postgresPassword },
      caVolume: dataStores.caVolume,
    },
    grafanaAdminPassword: config.grafanaAdminPassword,
    grafanaOidcClientSecret: config.grafanaOidcClientSecret,
    receiverSecrets: {
      alertmanagerWebhookUrl: config.alertmanagerWebhookUrl,
      alertmanagerSlackUrl: config.alertmanagerSlackUrl,
      alertmanagerPagerdutyRoutingKey: config.alertmanagerPagerdutyRoutingKey,
    },
    deadMansSwitchUrl: config.alertmanagerDeadMansSwitchUrl,
    remoteWriteSecret: config.prometheusRemoteWriteSecret,
    runtimeImage: image.ref,
    dockerSocketGid: config.docker.socketGid,
    tls: config.ingress.tls !== undefined,
    receiverEgress: { cidrs: config.network.llmEgressCidrs, except: config.network.llmEgressExcept },
    apiServer: { cidrs: config.network.apiServerCidrs, port: config.network.apiServerPort },
  }, afterSecrets);
  flows.push(...observability.flows);
  routes.push(...observability.routes);

  // Security: Kubernetes RBAC (Vault and the sandbox runtime are above, before the workers; docs/security.md).
  if (platform.target === "kubernetes" && sandbox.kubernetes) {
    new KubernetesRbac("apex-rbac", rbacArgsFromConfig(config, platform, sandbox.kubernetes.namespace.metadata.name));
  }

  // The operator console (apex-dashboard): its image, nginx serving it and proxying /v1 to the API (docs/infrastructure.md).
  const dashboard = dashboardFromConfig(config, platform, imageTargets.dashboard);
  if (dashboard) {
    flows.push(...dashboard.flows);
    routes.push(...dashboard.routes);
  }

  // ---- Exposure and network policies (Kubernetes) ----------------------------------------------
  const { api } = services;
  if (platform.target === "kubernetes") {
    // Both hosts are required on Kubernetes (config/checks.ts); the guard only narrows the types.
    if (config.ingress.host && config.ingress.grpcHost) {
      routes.push(
        { host: config.ingress.host, service: api.name, port: api.httpPort, protocol: "http" },
        { host: config.ingress.grpcHost, service: api.name, port: api.grpcPort, protocol: "grpc" },
      );
    }
    new PlatformIngress("apex-ingress", { platform, className: config.ingress.className, routes, tls: config.ingress.tls });
    flows.push(...ingressFlows(routes, config.ingress.controllerNamespace));
    new NetworkFlows("apex-network", { platform, flows });
  }

  // ---- Outputs -----------------------------------------------------------------------------------
  const tls = config.ingress.tls !== undefined;
  return {
    target: config.target,
    apiUrl: platform.target === "docker"
      ? `http://localhost:${api.httpPort}`
      : `${tls ? "https" : "http"}://${config.ingress.host}`,
    grpcEndpoint: platform.target === "docker" ? `localhost:${api.grpcPort}` : `${config.ingress.grpcHost}:${tls ? 443 : 80}`,
    /** The operator console (absent when apex:dashboard.enabled is false). */
    dashboardUrl: dashboard?.url,
    /** How the runtime reaches its dependencies inside the stack (no credentials). */
    internal: {
      namespace: config.namespace,
      api: { http: runtime.api.endpoint("http"), grpc: runtime.api.endpoint("grpc") },
      workerMetrics: runtime.worker.endpoint("metrics"),
      postgres: dataStores.postgres,
      redis: dataStores.redis,
      secretName: STACK_SECRET_NAME,
    },
    runtimeImage: image.ref,
    dashboardImage: dashboard?.imageRef,
    /** The first admin API key; read with `pulumi stack output --show-secrets bootstrapAdminKey`. */
    bootstrapAdminKey: secrets.values[stackSecretKeys.bootstrapAdminKey],
    /** UIs: published on localhost (dev) / Ingress hosts from apex:observability.hosts (prod). */
    grafanaUrl: observability.grafanaUrl,
    jaegerUrl: observability.jaegerUrl,
    prometheusUrl: observability.prometheusUrl,
    alertmanagerUrl: observability.alertmanagerUrl,
    /** Grafana `admin` password; read with `pulumi stack output --show-secrets grafanaAdminPassword`. */
    grafanaAdminPassword: observability.grafanaAdminPassword,
    /** Vault address and Apex's policies; dev also its root token (secret). */
    vault: { address: vault.address, policies: Object.values(vault.policies).map((p) => p.name), devRootToken: vault.devRootToken },
    /** The tool sandbox: image, Pod template (Kubernetes) or engine settings (Docker). */
    sandbox: {
      image: sandbox.imageRef,
      namespace: sandbox.kubernetes?.namespace.metadata.name,
      runtimeClassName: sandbox.runtimeClassName,
      podTemplate: sandbox.podTemplate,
      dockerSettings: sandbox.dockerSettings,
    },
  };
}

export = apex;
