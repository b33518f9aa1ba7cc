/* eslint-disable @typescript-eslint/no-explicit-any */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { parse } from "yaml";
import { runtimeEnv, secretKeys, services } from "../app/src/contract";
import { kubeletVolumeStatsOffWarning } from "../components/observability/kubelet-volume-stats";
import { MOCK_AWS, PROD_IMAGE_TAG, PROD_RUNBOOK_BASE_URL, runStack, type RecordedResource, type StackRun } from "./harness";
import { NetworkPolicyEvaluator, type Endpoint } from "./harness/network-policy";

const SECRETS = {
  openaiApiKey: "sk-openai-KNOWN-0a1b2c3d4e5f",
  anthropicApiKey: "sk-ant-KNOWN-9f8e7d6c5b4a",
  postgresPassword: "pg-KNOWN-Zr8qL2mX7vT4",
  registryPassword: "registry-KNOWN-t0k3n",
  bootstrapAdminKey: "apex-admin-KNOWN-Q7w8E9r0T1y2U3i4",
  alertmanagerPagerdutyRoutingKey: "pd-KNOWN-routing-0123456789abcdef",
  alertmanagerSlackUrl: "https://hooks.slack.com/services/T000/B000/KNOWN-prod-slack",
};

let run: StackRun;
const NS = "apex";

const workload = (name: string): RecordedResource =>
  run.one("kubernetes:apps/v1:Deployment", (r) => r.inputs.metadata.name === name);
const statefulSet = (name: string): RecordedResource =>
  run.one("kubernetes:apps/v1:StatefulSet", (r) => r.inputs.metadata.name === name);
const container = (w: RecordedResource): any => w.inputs.spec.template.spec.containers[0];
const envOf = (w: RecordedResource, name: string): any => container(w).env.find((e: any) => e.name === name);
const workloads = () => [...run.ofType("kubernetes:apps/v1:Deployment"), ...run.ofType("kubernetes:apps/v1:StatefulSet")];
const foundation = (r: RecordedResource) => ["apex-api", "apex-worker", "postgres", "redis"].includes(r.inputs.metadata.name);

/** The Service selecting the pods of the workload running `image`, which prod pins by digest (`image@sha256:...`). */
function serviceForImage(image: string): RecordedResource {
  const w = workloads().find((x) => new RegExp(`^${image}@sha256:[a-f0-9]{64}$`).test(container(x).image));
  if (!w) throw new Error(`no workload runs ${image}`);
  const podLabels = w.inputs.spec.template.metadata.labels as Record<string, string>;
  return run.one("kubernetes:core/v1:Service", (s) =>
    Object.entries(s.inputs.spec.selector as Record<string, string>).every(([k, v]) => podLabels[k] === v));
}

/** What the program logged with pulumi.log.warn while Pulumi.prod.yaml was evaluated. */
const warnings: string[] = [];

beforeAll(async () => {
  const warn = vi.spyOn(pulumi.log, "warn").mockImplementation(async (message: string) => { warnings.push(message); });
  try {
    // The in-cluster data stores (Pulumi.prod.yaml says managed: tests/aws-data-stores.test.ts).
    run = await runStack({ stack: "prod", secrets: SECRETS, config: { dataStores: "in-cluster" } });
  } finally {
    warn.mockRestore();
  }
});

describe("prod stack (kubernetes)", () => {
  it("pages PagerDuty and Slack for critical alerts, Slack for warnings, with absolute runbook links", () => {
    const secret = run.one("kubernetes:core/v1:Secret", (r) => r.inputs.metadata.name === "apex-observability");
    const am = parse(secret.inputs.stringData.ALERTMANAGER_CONFIG);
    const receiver = (name: string) => am.receivers.find((r: any) => r.name === name);
    expect(receiver("critical").pagerduty_configs[0].routing_key).toBe(SECRETS.alertmanagerPagerdutyRoutingKey);
    expect(receiver("critical").slack_configs[0]).toMatchObject({ api_url: SECRETS.alertmanagerSlackUrl, channel: "#apex-alerts" });
    expect(receiver("warning").slack_configs[0].api_url).toBe(SECRETS.alertmanagerSlackUrl);
    expect(receiver("warning").pagerduty_configs).toBeUndefined();
    const prometheus = run.one("kubernetes:core/v1:ConfigMap", (r) => r.inputs.metadata.name === "prometheus-config");
    const rules = parse(prometheus.inputs.data["rules.apex-alerts.yml"]);
    for (const rule of rules.groups.flatMap((g: any) => g.rules)) {
      expect(rule.annotations.runbook_url).toBe(`${PROD_RUNBOOK_BASE_URL}/${rule.alert}.md`);
    }
    // Alertmanager may reach the receivers (public HTTPS) through the default-deny namespace.
    expect(run.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", (r) => r.inputs.metadata.name === "alertmanager-to-receivers-egress").inputs.spec.egress[0].ports).toEqual([{ port: 443, protocol: "TCP" }]);
  });

  it("previews Pulumi.prod.yaml with no warning but the kubelet volume stats one (Grafana's content from files, no Grafana API call)", () => {
    // apex:observability.kubeletVolumeStats is off by default: the preview says what that leaves out.
    expect(warnings).toEqual([kubeletVolumeStatsOffWarning]);
    expect(run.outputs.grafanaUrl).toBe("https://grafana.apex.example.com");
    expect(run.outputs.jaegerUrl).toBe("https://jaeger.apex.example.com");
    expect(run.resources.filter((r) => r.type.startsWith("grafana:") || r.type === "pulumi:providers:grafana")).toEqual([]);
    expect(run.one("kubernetes:core/v1:ConfigMap", (r) => r.inputs.metadata.name === "grafana-config").inputs.data).toHaveProperty("provisioning-datasources.apex.yaml");
  });

  it("serves Grafana and Jaeger only to apex:observability.uiSourceRanges, on their own Ingress; Grafana signs in through OIDC", () => {
    const open = run.one("kubernetes:networking.k8s.io/v1:Ingress", (r) => r.inputs.metadata.name === "apex");
    const restricted = run.one("kubernetes:networking.k8s.io/v1:Ingress", (r) => r.inputs.metadata.name === "apex-restricted");
    expect(restricted.inputs.metadata.annotations["nginx.ingress.kubernetes.io/whitelist-source-range"]).toBe("203.0.113.0/24");
    expect(open.inputs.metadata.annotations["nginx.ingress.kubernetes.io/whitelist-source-range"]).toBeUndefined();
    const route = (host: string, name: string, port: number) => ({ host, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name, port: { number: port } } } }] } });
    expect(restricted.inputs.spec.rules).toEqual([
      route("grafana.apex.example.com", services.grafana.name, services.grafana.port),
      route("jaeger.apex.example.com", services.jaeger.name, services.jaeger.uiPort),
    ]);
    for (const host of ["grafana.apex.example.com", "jaeger.apex.example.com"]) expect(open.inputs.spec.rules.map((r: any) => r.host)).not.toContain(host);
    // Its own certificate Secret (cert-manager writes one per Ingress), same issuer and class.
    expect(restricted.inputs.spec.tls).toEqual([{ hosts: ["grafana.apex.example.com", "jaeger.apex.example.com"], secretName: "apex-api-tls-restricted" }]);
    expect(restricted.inputs.spec.ingressClassName).toBe("nginx");
    expect(restricted.inputs.metadata.annotations["cert-manager.io/cluster-issuer"]).toBe("letsencrypt-prod");
    const grafana = run.one("kubernetes:apps/v1:StatefulSet", (r) => r.inputs.metadata.name === "grafana").inputs.spec.template.spec.containers[0];
    const env = (name: string) => grafana.env.find((e: any) => e.name === name);
    expect(env("GF_AUTH_GENERIC_OAUTH_ENABLED").value).toBe("true");
    expect(env("GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET").valueFrom.secretKeyRef).toEqual({ name: "apex-observability", key: "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET" });
  });

  it("exports the endpoints a user needs, without credentials", () => {
    expect(run.outputs.target).toBe("kubernetes");
    expect(run.outputs.apiUrl).toBe("https://api.apex.example.com");
    expect(run.outputs.grpcEndpoint).toBe("grpc.apex.example.com:443");
    expect(run.outputs.internal.postgres).toMatchObject({ host: "postgres", port: 5432, database: "apex" });
    expect(run.outputs.internal.postgres.url).not.toContain(SECRETS.postgresPassword);
    expect(run.outputs.runtimeImage).toMatch(new RegExp(`^${MOCK_AWS.accountId}\\.dkr\\.ecr\\.${MOCK_AWS.region}\\.amazonaws\\.com/apex/runtime@sha256:[0-9a-f]{64}$`));
  });

  it("points DATABASE_URL and REDIS_URL of api and workers (from apex-secrets) at this stack's Postgres and Redis Services", () => {
    const pgService = serviceForImage("postgres:16-alpine");
    const redisService = serviceForImage("redis:7-alpine");
    const stringData = run.one("kubernetes:core/v1:Secret", (r) => r.inputs.metadata.name === "apex-secrets").inputs.stringData;
    for (const name of [services.api.name, services.worker.name]) {
      const w = workload(name);
      const fromSecret = (env: string) => {
        const ref = envOf(w, env).valueFrom.secretKeyRef;
        expect(ref.name).toBe("apex-secrets");
        return stringData[ref.key] as string;
      };
      const db = new URL(fromSecret(runtimeEnv.databaseUrl));
      expect(db.protocol).toBe("postgres:");
      expect(db.hostname).toBe(pgService.inputs.metadata.name);
      expect(pgService.inputs.spec.ports.map((p: any) => p.port)).toContain(Number(db.port));
      expect(db.password).toBe(SECRETS.postgresPassword);
      const dbUser = envOf(statefulSet(pgService.inputs.metadata.name), "POSTGRES_USER").value;
      const dbName = envOf(statefulSet(pgService.inputs.metadata.name), "POSTGRES_DB").value;
      expect(db.username).toBe(dbUser);
      expect(db.pathname).toBe(`/${dbName}`);
      const redis = new URL(fromSecret(runtimeEnv.redisUrl));
      expect(redis.hostname).toBe(redisService.inputs.metadata.name);
      expect(redisService.inputs.spec.ports.map((p: any) => p.port)).toContain(Number(redis.port));
      expect(pgService.inputs.metadata.namespace).toBe(w.inputs.metadata.namespace);
    }
  });

  it("hands credentials over by secretKeyRef: the stack's to apex-secrets, the LLM keys (in Vault) to the Secret the operator syncs", () => {
    const secret = run.one("kubernetes:core/v1:Secret", (r) => r.inputs.metadata.name === "apex-secrets");
    expect(secret.inputs.stringData[secretKeys.postgresPassword]).toBe(SECRETS.postgresPassword);
    expect(secret.inputs.stringData[secretKeys.openaiApiKey]).toBeUndefined();
    expect(secret.inputs.stringData[secretKeys.anthropicApiKey]).toBeUndefined();
    expect(secret.plainInputs.stringData).toBe("[secret]");
    const inVault = JSON.parse(run.one("vault:kv/secretV2:SecretV2").inputs.dataJsonWo);
    expect(inVault).toEqual({ [secretKeys.openaiApiKey]: SECRETS.openaiApiKey, [secretKeys.anthropicApiKey]: SECRETS.anthropicApiKey });
    const ref = (w: RecordedResource, env: string) => envOf(w, env)?.valueFrom?.secretKeyRef;
    for (const name of [services.api.name, services.worker.name]) {
      const w = workload(name);
      expect(envOf(w, "PGPASSWORD")).toBeUndefined();
      expect(ref(w, runtimeEnv.databaseUrl)).toEqual({ name: "apex-secrets", key: runtimeEnv.databaseUrl });
      expect(ref(w, runtimeEnv.openaiApiKey)).toEqual({ name: "apex-llm-keys", key: secretKeys.openaiApiKey });
      expect(ref(w, runtimeEnv.anthropicApiKey)).toEqual({ name: "apex-llm-keys", key: secretKeys.anthropicApiKey });
    }
    expect(ref(statefulSet("postgres"), "POSTGRES_PASSWORD")).toEqual({ name: "apex-secrets", key: secretKeys.postgresPassword });
    for (const w of workloads()) {
      for (const e of container(w).env ?? []) {
        if (e.value !== undefined) expect(Object.values(secretKeys), `${w.name} ${e.name}`).not.toContain(e.name);
      }
    }
  });

  it("never puts a secret value in a plain input", () => {
    const known = [...Object.values(SECRETS), ...run.secretValues];
    const inAnyInput = known.filter((s) => run.resources.some((r) => JSON.stringify(r.inputs).includes(s)));
    expect(inAnyInput.length).toBeGreaterThan(0); // the search below looks at real data
    for (const r of run.resources) {
      const plain = JSON.stringify(r.plainInputs);
      for (const s of known) expect(plain.includes(s), `${r.type} ${r.name} carries a secret in plain state`).toBe(false);
    }
    expect(run.secretOutputs).toContain("bootstrapAdminKey");
    const plainOutputs = Object.fromEntries(Object.entries(run.outputs).filter(([k]) => !run.secretOutputs.includes(k)));
    for (const s of known) expect(JSON.stringify(plainOutputs)).not.toContain(s);
  });

  it("autoscales api and workers, replicas unset: the API with a CPU HPA, the workers with KEDA (tests/worker-scaling.test.ts)", () => {
    expect(run.ofType("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").filter((r) => r.inputs.spec.scaleTargetRef.name === services.worker.name)).toEqual([]);
    expect(workload(services.worker.name).inputs.spec.replicas).toBeUndefined();
    for (const name of [services.api.name]) {
      const d = workload(name);
      const hpa = run.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", (r) => r.inputs.spec.scaleTargetRef.name === name);
      expect(hpa.inputs.spec.scaleTargetRef).toEqual({ apiVersion: d.inputs.apiVersion, kind: d.inputs.kind, name: d.inputs.metadata.name });
      expect(hpa.inputs.metadata.namespace).toBe(d.inputs.metadata.namespace);
      expect(hpa.inputs.spec).toMatchObject({ minReplicas: 2, maxReplicas: 10 });
      expect(hpa.inputs.spec.metrics).toEqual([
        { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } },
      ]);
      expect(d.inputs.spec.replicas).toBeUndefined();
      const pdb = run.one("kubernetes:policy/v1:PodDisruptionBudget", (r) => r.inputs.metadata.name === name);
      const podLabels = d.inputs.spec.template.metadata.labels;
      for (const [k, v] of Object.entries(pdb.inputs.spec.selector.matchLabels)) expect(podLabels[k]).toBe(v);
    }
    expect(run.ofType("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
      .filter((r) => ["postgres", "redis"].includes(r.inputs.spec.scaleTargetRef.name))).toEqual([]);
  });

  it("gives every container requests, limits and the restricted security context (and ours probes)", () => {
    expect(workloads().filter(foundation)).toHaveLength(4);
    for (const w of workloads()) {
      const pod = w.inputs.spec.template.spec;
      for (const c of pod.containers) {
        const where = `${w.inputs.metadata.name}/${c.name}`;
        expect(c.resources?.requests, where).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
        expect(c.resources?.limits, where).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
        if (foundation(w)) {
          expect(c.readinessProbe, where).toBeDefined();
          expect(c.livenessProbe, where).toBeDefined();
        }
        expect(c.securityContext, where).toMatchObject({
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
        });
        expect(c.securityContext.seccompProfile?.type ?? pod.securityContext?.seccompProfile?.type, where).toBe("RuntimeDefault");
      }
      expect(pod.securityContext.runAsNonRoot, w.name).toBe(true);
    }
    for (const name of [services.api.name, services.worker.name]) {
      expect(container(workload(name)).resources).toEqual({
        requests: { cpu: "500m", memory: "512Mi" },
        limits: { cpu: "2", memory: "2Gi" },
      });
    }
    const api = container(workload(services.api.name));
    expect(api.readinessProbe.httpGet).toEqual({ path: "/readyz", port: services.api.httpPort });
    expect(api.livenessProbe.httpGet).toEqual({ path: "/healthz", port: services.api.httpPort });
    expect(api.volumeMounts).toContainEqual({ name: "tmp", mountPath: "/tmp" });
    expect(api.args).toEqual(["node", "dist/bin/apex-api.js"]);
    const apiPod = workload(services.api.name).inputs.spec.template.spec;
    expect(apiPod.topologySpreadConstraints.map((t: any) => t.topologyKey)).toEqual(["kubernetes.io/hostname", "topology.kubernetes.io/zone"]);
    expect(apiPod.topologySpreadConstraints[0]).toMatchObject({
      maxSkew: 1,
      whenUnsatisfiable: "ScheduleAnyway",
      labelSelector: { matchLabels: workload(services.api.name).inputs.spec.selector.matchLabels },
    });
    expect(statefulSet("postgres").inputs.spec.template.spec.topologySpreadConstraints).toBeUndefined();
    expect(api.command).toBeUndefined();
    const worker = container(workload(services.worker.name));
    expect(worker.args).toEqual(["node", "dist/bin/apex-worker.js"]);
    expect(worker.readinessProbe.httpGet).toEqual({ path: "/readyz", port: services.worker.metricsPort });
    expect(worker.ports).toEqual([{ name: "metrics", containerPort: services.worker.metricsPort, protocol: "TCP" }]);
  });

  it("mounts a ServiceAccount token only where the Kubernetes API is used (the sandbox-creating workers)", () => {
    for (const w of workloads().filter(foundation)) {
      const name = w.inputs.metadata.name;
      const sa = run.one("kubernetes:core/v1:ServiceAccount", (r) => r.inputs.metadata.name === w.inputs.spec.template.spec.serviceAccountName);
      const expected = name === services.worker.name;
      expect(sa.inputs.automountServiceAccountToken, name).toBe(expected);
      expect(w.inputs.spec.template.spec.automountServiceAccountToken, name).toBe(expected);
    }
  });

  it("labels every object with the recommended app.kubernetes.io labels", () => {
    // Patches of objects the stack does not own (e.g. a namespace's default ServiceAccount) are exempt.
    for (const r of run.resources.filter((x) => x.type.startsWith("kubernetes:") && !x.type.endsWith("Patch") && x.inputs.metadata)) {
      const labels = r.inputs.metadata.labels ?? {};
      expect(labels["app.kubernetes.io/part-of"], r.name).toBe("apex");
      expect(labels["app.kubernetes.io/managed-by"], r.name).toBe("pulumi");
      expect(labels["app.kubernetes.io/instance"], r.name).toBe("apex-prod");
    }
    const api = workload(services.api.name);
    expect(api.inputs.spec.template.metadata.labels).toMatchObject({
      "app.kubernetes.io/name": "apex-api",
      "app.kubernetes.io/component": "api",
    });
  });

  it("runs Postgres 16 as a StatefulSet with a PVC and exposes nothing through a LoadBalancer", () => {
    const pg = statefulSet("postgres");
    expect(pg.inputs.spec.serviceName).toBe(serviceForImage("postgres:16-alpine").inputs.metadata.name);
    expect(pg.inputs.spec.volumeClaimTemplates).toEqual([expect.objectContaining({
      spec: { accessModes: ["ReadWriteOnce"], storageClassName: "gp3", resources: { requests: { storage: "50Gi" } } },
    })]);
    expect(container(pg).volumeMounts).toContainEqual({ name: "data", mountPath: "/var/lib/postgresql/data" });
    expect(container(workload("redis")).image).toMatch(/^redis:7-alpine@sha256:[a-f0-9]{64}$/);
    for (const s of run.ofType("kubernetes:core/v1:Service")) expect(s.inputs.spec.type ?? "ClusterIP", s.name).toBe("ClusterIP");
  });

  it("routes the Ingress hosts to the API's HTTP and gRPC ports with TLS from cert-manager", () => {
    const apiService = run.one("kubernetes:core/v1:Service", (r) => r.inputs.metadata.name === services.api.name);
    const ports = Object.fromEntries(apiService.inputs.spec.ports.map((p: any) => [p.name, p.port]));
    const http = run.one("kubernetes:networking.k8s.io/v1:Ingress", (r) => r.inputs.metadata.name === "apex");
    const grpc = run.one("kubernetes:networking.k8s.io/v1:Ingress", (r) => r.inputs.metadata.name === "apex-grpc");
    for (const [ing, host, port] of [[http, "api.apex.example.com", ports.http], [grpc, "grpc.apex.example.com", ports.grpc]] as const) {
      expect(ing.inputs.spec.ingressClassName).toBe("nginx");
      // The HTTP Ingress also carries the UI hosts (apex:observability.hosts): check the API's rule.
      expect(ing.inputs.spec.rules.filter((r: any) => r.host === host)).toEqual([{ host, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: services.api.name, port: { number: port } } } }] } }]);
      expect(ing.inputs.spec.tls[0].hosts).toContain(host);
      expect(ing.inputs.metadata.annotations["cert-manager.io/cluster-issuer"]).toBe("letsencrypt-prod");
    }
    expect(http.inputs.spec.tls[0].secretName).toBe("apex-api-tls");
    expect(grpc.inputs.metadata.annotations["nginx.ingress.kubernetes.io/backend-protocol"]).toBe("GRPC");
    expect(http.inputs.metadata.annotations["nginx.ingress.kubernetes.io/backend-protocol"]).toBeUndefined();
  });

  it("builds the runtime image from app/Dockerfile, pushes it to ECR tagged with the commit, and runs it by digest", () => {
    const image = run.one("docker:index/image:Image", (r) => r.inputs.build?.dockerfile === "app/Dockerfile");
    const ecrHost = `${MOCK_AWS.accountId}.dkr.ecr.${MOCK_AWS.region}.amazonaws.com`;
    expect(image.inputs.build).toMatchObject({ context: ".", dockerfile: "app/Dockerfile", platform: "linux/amd64" });
    expect(image.inputs.imageName).toBe(`${ecrHost}/apex/runtime:${PROD_IMAGE_TAG}`);
    expect(image.inputs.skipPush).toBe(false);
    expect(image.inputs.registry).toMatchObject({ server: ecrHost, username: "AWS", password: "mock-ecr-password" });
    expect(image.plainInputs.registry).toBe("[secret]");
    expect(run.outputs.runtimeImage).toMatch(new RegExp(`^${ecrHost}/apex/runtime@sha256:[a-f0-9]{64}$`));
    for (const name of [services.api.name, services.worker.name]) expect(container(workload(name)).image).toBe(run.outputs.runtimeImage);
  });
});

describe("prod NetworkPolicies", () => {
  const pod = (id: string, name: string): Endpoint => ({ id, namespace: NS, labels: { "app.kubernetes.io/name": name } });
  const endpoints: Endpoint[] = [
    pod("api", services.api.name),
    pod("worker", services.worker.name),
    pod("postgres", services.postgres.name),
    pod("redis", services.redis.name),
    pod("stranger", "some-other-app"),
    { id: "ingress-controller", namespace: "ingress-nginx", labels: { "app.kubernetes.io/name": "ingress-nginx" } },
    { id: "kube-dns", namespace: "kube-system", labels: { "k8s-app": "kube-dns" } },
    { id: "other-namespace-pod", namespace: "default", labels: { app: "x" } },
    { id: "llm-provider", ip: "162.159.140.245" },
    { id: "private-host", ip: "10.20.30.40" },
    { id: "cloud-metadata", ip: "169.254.169.254" },
    { id: "kube-apiserver", ip: "10.0.0.1" },
  ];
  const ports = [
    { port: 53, protocol: "UDP" as const }, { port: 53, protocol: "TCP" as const },
    ...[80, 443, 5432, 6379, 8080, 9464, 50051].map((port) => ({ port, protocol: "TCP" as const })),
  ];

  it("deny everything by default, in both directions", () => {
    const deny = run.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", (r) => r.inputs.metadata.name === "default-deny" && r.inputs.metadata.namespace === NS);
    expect(deny.inputs.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
  });

  it("admit exactly the intended flows", () => {
    const allowed = new NetworkPolicyEvaluator(run.resources).allowedAmong(NS, endpoints, ports);
    const dns = ["api", "worker", "postgres", "redis", "stranger"].flatMap((p) => [`${p} -> kube-dns:53/TCP`, `${p} -> kube-dns:53/UDP`]);
    expect(allowed).toEqual([
      ...dns,
      "api -> postgres:5432/TCP",
      "api -> redis:6379/TCP",
      "ingress-controller -> api:50051/TCP",
      "ingress-controller -> api:8080/TCP",
      "worker -> kube-apiserver:443/TCP",
      "worker -> llm-provider:443/TCP",
      "worker -> postgres:5432/TCP",
      "worker -> redis:6379/TCP",
    ].sort());
  });

  it("the evaluator sees a connection that no policy admits as denied, and one a policy admits as allowed", () => {
    const ev = new NetworkPolicyEvaluator(run.resources);
    const [api, , postgres, , stranger] = endpoints as [Endpoint, Endpoint, Endpoint, Endpoint, Endpoint];
    expect(ev.allows(api, postgres, 5432, "TCP")).toBe(true);
    expect(ev.allows(stranger, postgres, 5432, "TCP")).toBe(false);
    expect(ev.allows(api, postgres, 5433, "TCP")).toBe(false);
    expect(new NetworkPolicyEvaluator([]).allows(stranger, postgres, 5432, "TCP")).toBe(true);
  });
});

describe("prod stack: LLM limits, breaker, sandbox hardening and the http_fetch allowlist reach the runtime env", () => {
  let tuned: StackRun;
  const plainEnv = (r: StackRun, name: string): Record<string, string> => {
    const w = r.one("kubernetes:apps/v1:Deployment", (d) => d.inputs.metadata.name === name);
    return Object.fromEntries((container(w).env as any[]).filter((e) => typeof e.value === "string").map((e) => [e.name, e.value]));
  };
  const newVars = [runtimeEnv.llmRateLimits, runtimeEnv.llmBreaker, runtimeEnv.sandboxHardened, runtimeEnv.toolHttpAllowlist];

  beforeAll(async () => {
    tuned = await runStack({
      stack: "prod",
      secrets: SECRETS,
      config: {
        workers: { sandboxDriver: "local" },
        llm: {
          rateLimits: { openai: { requestsPerMinute: 500, tokensPerMinute: 200_000 }, anthropic: { requestsPerMinute: 50 } },
          breaker: { failureThreshold: 3, cooldownMs: 10_000, probeTimeoutMs: 4_000 },
        },
        tools: { httpFetchAllowHosts: ["docs.python.org", "*.wikipedia.org"] },
      },
    });
  });

  it("by default sets none of them (prod's sandbox driver is kubernetes; no limits or allowlist configured)", () => {
    for (const name of [services.api.name, services.worker.name]) {
      const env = plainEnv(run, name);
      for (const v of newVars) expect(env[v], `${name} ${v}`).toBeUndefined();
    }
  });

  it("renders the workers' LLM settings as the JSON the runtime parses, and the local driver's hardening (prod default: required)", () => {
    const worker = plainEnv(tuned, services.worker.name);
    expect(worker[runtimeEnv.sandboxDriver]).toBe("local");
    expect(worker[runtimeEnv.sandboxHardened]).toBe("required");
    expect(JSON.parse(worker[runtimeEnv.llmRateLimits] ?? "null")).toEqual({
      openai: { requestsPerMinute: 500, tokensPerMinute: 200_000 },
      anthropic: { requestsPerMinute: 50 },
    });
    expect(JSON.parse(worker[runtimeEnv.llmBreaker] ?? "null")).toEqual({ failureThreshold: 3, cooldownMs: 10_000, probeTimeoutMs: 4_000 });
    expect(worker[runtimeEnv.toolHttpAllowlist]).toBe("docs.python.org,*.wikipedia.org");
  });

  it("gives the API the allowlist (it validates submissions against the same tools) but no LLM or sandbox settings", () => {
    const api = plainEnv(tuned, services.api.name);
    expect(api[runtimeEnv.toolHttpAllowlist]).toBe("docs.python.org,*.wikipedia.org");
    for (const v of [runtimeEnv.llmRateLimits, runtimeEnv.llmBreaker, runtimeEnv.sandboxHardened]) expect(api[v], v).toBeUndefined();
  });

  it.each([
    [{ llm: { rateLimits: { openai: { requestsPerMinute: 0 } } } }, /apex:llm\.rateLimits\.openai\.requestsPerMinute: expected a positive integer/],
    [{ llm: { rateLimits: { mistral: { requestsPerMinute: 5 } } } }, /apex:llm\.rateLimits\.mistral/],
    [{ llm: { breaker: { cooldownMs: -1 } } }, /apex:llm\.breaker\.cooldownMs: expected an integer >= 0/],
    [{ llm: { breaker: { probeTimeoutMs: 0 } } }, /apex:llm\.breaker\.probeTimeoutMs: expected a positive integer/],
    [{ workers: { sandboxHardened: "sometimes" } }, /apex:workers\.sandboxHardened: expected one of "auto", "required", "off"/],
    [{ tools: { httpFetchAllowHosts: ["https://docs.python.org"] } }, /apex:tools\.httpFetchAllowHosts\[?\.?0\]?: expected a host name/],
  ])("rejects bad settings naming the key: %j", async (config, message) => {
    await expect(runStack({ stack: "prod", secrets: SECRETS, config })).rejects.toThrow(message);
  });
});
