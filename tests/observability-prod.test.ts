/* eslint-disable @typescript-eslint/no-explicit-any */
import { createHash } from "node:crypto";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { runtimeEnv, services } from "../app/src/contract";
import { rulesFor } from "../alerts";
import { datasourceUids } from "../components/observability/grafana-datasources";
import { grafanaProvisioningPaths, provisioningFile } from "../components/observability/grafana-provisioning";
import { CONFIG_HASH_ANNOTATION } from "../components/service/kubernetes";
import { grafanaProblems } from "./grafana/check-dashboard";
import { grafana1023 } from "./grafana/grafana-10.2.3";
import { datasourceFileProblems, interpolated, providerFileProblems } from "./grafana/provisioning";
import { PROD_RUNBOOK_BASE_URL, runStack, type RecordedResource, type StackRun } from "./harness";
import { NetworkPolicyEvaluator, type Endpoint } from "./harness/network-policy";

const SECRETS = {
  openaiApiKey: "sk-openai-KNOWN-0a1b2c3d4e5f",
  anthropicApiKey: "sk-ant-KNOWN-9f8e7d6c5b4a",
  postgresPassword: "pg-KNOWN-Zr8qL2mX7vT4",
  registryPassword: "registry-KNOWN-t0k3n",
  bootstrapAdminKey: "apex-admin-KNOWN-Q7w8E9r0T1y2U3i4",
  alertmanagerPagerdutyRoutingKey: "pd-KNOWN-routing-key-42",
  alertmanagerSlackUrl: "https://hooks.slack.com/services/KNOWN-slack",
  alertmanagerDeadMansSwitchUrl: "https://hc-ping.com/KNOWN-dead-mans-switch-uuid",
};
const NS = "apex";
const HOSTS = { grafana: "grafana.apex.example.com", jaeger: "jaeger.apex.example.com" };
let run: StackRun;

const ofKind = (kind: string) => run.ofType(`kubernetes:apps/v1:${kind}`);
const workload = (name: string): RecordedResource => {
  const hits = [...ofKind("Deployment"), ...ofKind("StatefulSet")].filter((r) => r.inputs.metadata.name === name);
  if (hits.length !== 1) throw new Error(`expected one workload ${name}, found ${hits.length}`);
  return hits[0]!;
};
const container = (w: RecordedResource): any => w.inputs.spec.template.spec.containers[0];
const service = (name: string): RecordedResource => run.one("kubernetes:core/v1:Service", (r) => r.inputs.metadata.name === name);
const configMap = (name: string): RecordedResource => run.one("kubernetes:core/v1:ConfigMap", (r) => r.inputs.metadata.name === name);
const podLabels = (w: RecordedResource): Record<string, string> => w.inputs.spec.template.metadata.labels;
const grafanaConfig = (): Record<string, string> => configMap("grafana-config").inputs.data;
/** The data sources as Grafana reads them from its provisioning file (after its env interpolation). */
const provisionedDatasources = (): any[] => interpolated(parse(grafanaConfig()[`provisioning-datasources.${provisioningFile}`]!).datasources) as any[];
const selects = (svc: RecordedResource, w: RecordedResource) =>
  Object.entries(svc.inputs.spec.selector as Record<string, string>).every(([k, v]) => podLabels(w)[k] === v);

/** `host:port` (host = Service name, optionally `.ns.svc`) -> the workload behind it, checked against the contract port. */
function resolve(hostPort: string, contractPort: number): RecordedResource {
  const [host, port] = hostPort.split(":");
  expect(Number(port), hostPort).toBe(contractPort);
  const [name, ns] = host!.split(".");
  if (ns !== undefined) expect(ns).toBe(NS);
  const svc = service(name!);
  expect(svc.inputs.spec.ports.map((p: any) => p.port), `${name} ports`).toContain(contractPort);
  const w = [...ofKind("Deployment"), ...ofKind("StatefulSet")].filter((x) => selects(svc, x));
  expect(w, `Service ${name} selects one workload`).toHaveLength(1);
  return w[0]!;
}

beforeAll(async () => {
  run = await runStack({
    stack: "prod",
    secrets: SECRETS,
    // uiSourceRanges removed: these tests route every UI host on the open Ingress (foundation-prod covers the allowlist).
    // In-cluster data stores: the exporter's target and flow are this stack's Postgres (RDS: tests/aws-data-stores.test.ts).
    config: { dataStores: "in-cluster", observability: { hosts: HOSTS, uiSourceRanges: undefined, alerting: { critical: ["pagerduty", "slack"], warning: ["slack"] } } },
  });
});

/** Kubernetes memory quantity in MiB (Mi/Gi only: what the stack uses). */
const mib = (q: string): number => {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`unexpected memory quantity ${q}`);
  return Number(m[1]) * (m[2] === "Gi" ? 1024 : 1);
};

describe("prod stack (kubernetes): observability", () => {
  it("gives every Go observability binary a GOMEMLIMIT below its memory limit", () => {
    const goServices = ["jaeger", "prometheus", "alertmanager", "postgres-exporter", "loki", "alloy", "grafana"];
    for (const name of goServices) {
      const c = container(workload(name));
      const env = (c.env as any[]).find((e) => e.name === "GOMEMLIMIT");
      expect(env, `${name}: GOMEMLIMIT`).toBeDefined();
      const [, value] = /^(\d+)MiB$/.exec(env.value) ?? [];
      const limit = mib(c.resources.limits.memory);
      expect(Number(value), name).toBeGreaterThanOrEqual(Math.floor(limit * 0.8));
      expect(Number(value), name).toBeLessThan(limit);
    }
  });

  it("runs Prometheus, Grafana, Loki, Alertmanager and Jaeger as StatefulSets with PVCs, the exporter and Alloy as Deployments", () => {
    const pvc = (name: string) => workload(name).inputs.spec.volumeClaimTemplates.map((t: any) => `${t.metadata.name}:${t.spec.resources.requests.storage}:${t.spec.storageClassName}`);
    expect(pvc("prometheus")).toEqual(["data:20Gi:gp3"]);
    expect(pvc("grafana")).toEqual(["data:1Gi:gp3"]);
    expect(pvc("loki")).toEqual(["data:20Gi:gp3"]);
    expect(pvc("alertmanager")).toEqual(["data:1Gi:gp3"]);
    expect(pvc("jaeger")).toEqual(["data:10Gi:gp3"]);
    for (const name of ["postgres-exporter", "alloy"]) expect(workload(name).type).toBe("kubernetes:apps/v1:Deployment");
    // Pulumi.prod.yaml pins third-party images by digest (docs/images.md).
    expect(container(workload("jaeger")).image).toMatch(/^jaegertracing\/all-in-one:1\.53@sha256:[a-f0-9]{64}$/);
    expect(container(workload("prometheus")).args).toContain("--storage.tsdb.retention.time=15d");
    expect(container(workload("grafana")).image).toMatch(/^grafana\/grafana:10\.2\.\d+@sha256:[a-f0-9]{64}$/);
  });

  it("mounts the generated Prometheus config and rules from a ConfigMap into sibling directories", () => {
    const pod = workload("prometheus").inputs.spec.template.spec;
    const mounts = Object.fromEntries(container(workload("prometheus")).volumeMounts.map((m: any) => [m.name, m.mountPath]));
    expect(mounts).toMatchObject({ config: "/etc/prometheus/config", rules: "/etc/prometheus/rules", data: "/prometheus" });
    const cm = configMap("prometheus-config");
    expect(pod.volumes.find((v: any) => v.name === "rules").configMap.items).toEqual([{ key: "rules.apex-alerts.yml", path: "apex-alerts.yml" }]);
    const rules = parse(cm.inputs.data["rules.apex-alerts.yml"]).groups[0].rules;
    expect(rules.map((r: any) => r.alert)).toEqual(rulesFor("kubernetes").map((r) => r.alert));
    expect(rules.map((r: any) => r.alert)).toEqual(expect.arrayContaining(["Watchdog", "ApexPodOOMKilled", "ApexPodCrashLooping", "ApexHpaAtMaxReplicas"]));
    // Not scraped by default (apex:observability.kubeletVolumeStats; tests/observability-kube.test.ts), so not rendered.
    expect(rules.map((r: any) => r.alert)).not.toContain("ApexPvcFillingUp");
    // The pod alerts watch this stack's namespace, not the tool sandboxes'.
    expect(rules.find((r: any) => r.alert === "ApexPodOOMKilled").expr).toContain(`namespace="${NS}"`);
  });

  it("scrapes every apex-api, apex-worker and Alertmanager pod through headless Services, and the exporter by Service", () => {
    const config = parse(configMap("prometheus-config").inputs.data["config.prometheus.yml"]);
    const jobs = Object.fromEntries(config.scrape_configs.map((j: any) => [j.job_name, j]));
    const replicated = [[services.api.name, services.api.httpPort], [services.worker.name, services.worker.metricsPort], [services.alertmanager.name, services.alertmanager.port]] as const;
    for (const [job, contractPort] of replicated) {
      const sd = jobs[job].dns_sd_configs[0];
      expect(sd.port).toBe(contractPort);
      const [name, ns] = String(sd.names[0]).split(".");
      expect(ns).toBe(NS);
      const headless = service(name!);
      expect(headless.inputs.spec.clusterIP).toBe("None");
      expect(headless.inputs.spec.ports.map((p: any) => p.port)).toContain(contractPort);
      const w = workload(job);
      expect(selects(headless, w), `${name} selects ${job}'s pods`).toBe(true);
      expect(container(w).ports.map((p: any) => p.containerPort)).toContain(contractPort);
    }
    expect(container(resolve(jobs["postgres-exporter"].static_configs[0].targets[0], services.postgresExporter.port)).image).toContain("postgres-exporter");
  });

  it("runs 2 Prometheus replicas, each with its own PVC and a per-pod `replica` external label that alerts leave out", () => {
    const prom = workload("prometheus");
    expect(prom.type).toBe("kubernetes:apps/v1:StatefulSet");
    expect(prom.inputs.spec.replicas).toBe(2);
    expect(prom.inputs.spec.volumeClaimTemplates.map((t: any) => t.metadata.name)).toEqual(["data"]);
    const c = container(prom);
    expect(c.command.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
    expect(c.command[2]).toMatch(/export PROMETHEUS_REPLICA="\$\(hostname\)" && exec \/bin\/prometheus "\$@"$/);
    expect(c.args).toContain("--enable-feature=expand-external-labels");
    const config = parse(configMap("prometheus-config").inputs.data["config.prometheus.yml"]);
    expect(config.global.external_labels).toEqual({ stack: "prod", replica: "${PROMETHEUS_REPLICA}" });
    expect(config.alerting.alert_relabel_configs).toEqual([{ action: "labeldrop", regex: "replica" }]);
    // Grafana keeps querying the Service, which balances over both replicas.
    const ds = provisionedDatasources().find((d) => d.type === "prometheus");
    expect(new URL(ds.url).hostname).toBe("prometheus");
    expect(service("prometheus").inputs.spec.clusterIP).toBeUndefined();
    expect(run.one("kubernetes:policy/v1:PodDisruptionBudget", (r) => r.inputs.metadata.name === "prometheus").inputs.spec.maxUnavailable).toBe(1);
  });

  it("runs 3 clustered Alertmanagers: peers through a headless Service, gossip on 9094, Prometheus sending to every replica", () => {
    const am = workload("alertmanager");
    expect(am.type).toBe("kubernetes:apps/v1:StatefulSet");
    expect(am.inputs.spec.replicas).toBe(3);
    expect(am.inputs.spec.volumeClaimTemplates.map((t: any) => `${t.metadata.name}:${t.spec.resources.requests.storage}`)).toEqual(["data:1Gi"]);
    const start: string = container(am).args[0];
    expect(start).toContain("--cluster.listen-address=0.0.0.0:9094");
    expect(start).toContain("--cluster.advertise-address=$(hostname -i):9094");
    const peers = [...start.matchAll(/--cluster\.peer=(\S+)/g)].map((m) => m[1]!);
    expect(peers).toEqual([`alertmanager-headless.${NS}.svc:9094`]);
    const headless = service("alertmanager-headless");
    expect(headless.inputs.spec).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });
    expect(headless.inputs.spec.ports.map((p: any) => `${p.port}/${p.protocol}`)).toEqual(["9093/TCP", "9094/TCP", "9094/UDP"]);
    expect(selects(headless, am)).toBe(true);
    expect(container(am).ports.map((p: any) => p.containerPort)).toEqual([9093, 9094]);
    // Prometheus resolves the headless name: one target per replica, not the load-balanced Service.
    const config = parse(configMap("prometheus-config").inputs.data["config.prometheus.yml"]);
    expect(config.alerting.alertmanagers).toEqual([{ dns_sd_configs: [{ names: [`alertmanager-headless.${NS}.svc`], type: "A", port: 9093, refresh_interval: "30s" }] }]);
    expect(config.alerting.alertmanagers[0].static_configs).toBeUndefined();
  });

  it("routes the Watchdog every minute to the dead man's switch from apex:alertmanagerDeadMansSwitchUrl, and severity none to no one", () => {
    const secret = run.one("kubernetes:core/v1:Secret", (r) => r.inputs.metadata.name === "apex-observability");
    const config = parse(secret.inputs.stringData.ALERTMANAGER_CONFIG);
    expect(config.route.routes[0]).toEqual({ receiver: "deadmansswitch", matchers: ['alertname="Watchdog"'], group_wait: "0s", group_interval: "1m", repeat_interval: "1m" });
    expect(config.route.routes[1]).toEqual({ receiver: "blackhole", matchers: ['severity="none"'] });
    expect(config.receivers.find((r: any) => r.name === "deadmansswitch")).toEqual({ name: "deadmansswitch", webhook_configs: [{ url: SECRETS.alertmanagerDeadMansSwitchUrl, send_resolved: false }] });
    // Prod has no dev receiver.
    expect(JSON.stringify(config)).not.toContain("alert-receiver");
    expect([...ofKind("Deployment"), ...ofKind("StatefulSet")].some((w) => w.inputs.metadata.name === "alert-receiver")).toBe(false);
    expect(JSON.stringify(run.resources.map((r) => r.plainInputs))).not.toContain("KNOWN-dead-mans-switch");
  });

  it("lets the Alertmanager replicas gossip with each other on 9094 TCP and UDP, and no one else", () => {
    const ev = new NetworkPolicyEvaluator(run.resources);
    const am = (id: string): Endpoint => ({ id, namespace: NS, labels: { "app.kubernetes.io/name": "alertmanager" } });
    for (const protocol of ["TCP", "UDP"] as const) expect(ev.allows(am("am-0"), am("am-1"), 9094, protocol), protocol).toBe(true);
    expect(ev.allows({ id: "prom", namespace: NS, labels: { "app.kubernetes.io/name": "prometheus" } }, am("am-0"), 9094, "TCP")).toBe(false);
    expect(ev.allows(am("am-0"), am("am-1"), 9095, "TCP")).toBe(false);
  });

  it("keeps the Alertmanager config (receiver URLs and keys) in a Secret, never a ConfigMap", () => {
    const secret = run.one("kubernetes:core/v1:Secret", (r) => r.inputs.metadata.name === "apex-observability");
    const config = parse(secret.inputs.stringData.ALERTMANAGER_CONFIG);
    const critical = config.receivers.find((r: any) => r.name === "critical");
    expect(critical.pagerduty_configs[0].routing_key).toBe(SECRETS.alertmanagerPagerdutyRoutingKey);
    expect(critical.slack_configs[0].api_url).toBe(SECRETS.alertmanagerSlackUrl);
    // Grafana's OIDC client secret too: Pulumi.prod.yaml signs Grafana in through OIDC.
    expect(Object.keys(secret.inputs.stringData).sort()).toEqual(["ALERTMANAGER_CONFIG", "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET", "GF_SECURITY_ADMIN_PASSWORD"]);
    expect(secret.plainInputs.stringData).toBe("[secret]");
    const env = container(workload("alertmanager")).env.find((e: any) => e.name === "ALERTMANAGER_CONFIG");
    expect(env.valueFrom.secretKeyRef).toEqual({ name: "apex-observability", key: "ALERTMANAGER_CONFIG" });
    const configMaps = JSON.stringify(run.ofType("kubernetes:core/v1:ConfigMap").map((c) => c.inputs));
    for (const s of [SECRETS.alertmanagerPagerdutyRoutingKey, SECRETS.alertmanagerSlackUrl]) expect(configMaps).not.toContain(s);
    const plain = JSON.stringify(run.resources.map((r) => r.plainInputs));
    for (const s of [SECRETS.alertmanagerPagerdutyRoutingKey, SECRETS.alertmanagerSlackUrl, SECRETS.postgresPassword]) expect(plain).not.toContain(s);
  });

  it("gives Grafana its admin password and postgres_exporter the database password by secretKeyRef", () => {
    const gf = container(workload("grafana")).env.find((e: any) => e.name === "GF_SECURITY_ADMIN_PASSWORD");
    expect(gf.valueFrom.secretKeyRef).toEqual({ name: "apex-observability", key: "GF_SECURITY_ADMIN_PASSWORD" });
    const exporter = container(workload("postgres-exporter")).env;
    expect(exporter.find((e: any) => e.name === "DATA_SOURCE_PASS").valueFrom.secretKeyRef).toEqual({ name: "apex-secrets", key: "POSTGRES_PASSWORD" });
    const uri = exporter.find((e: any) => e.name === "DATA_SOURCE_URI").value as string;
    expect(container(resolve(uri.split("/")[0]!, services.postgres.port)).name).toBe("postgres");
  });

  it("points Grafana's provisioned data sources at this stack's Services and ports; pulumi never calls Grafana's API", () => {
    expect(datasourceFileProblems(grafanaConfig()[`provisioning-datasources.${provisioningFile}`]!)).toEqual([]);
    const ds = Object.fromEntries(provisionedDatasources().map((d) => [d.type, d]));
    expect(container(resolve(new URL(ds.prometheus.url).host, services.prometheus.port)).name).toBe("prometheus");
    expect(container(resolve(new URL(ds.jaeger.url).host, services.jaeger.uiPort)).name).toBe("jaeger");
    expect(container(resolve(new URL(ds.loki.url).host, services.loki.port)).name).toBe("loki");
    expect(Object.fromEntries(Object.entries(ds).map(([type, d]) => [type, (d as { uid: string }).uid]))).toEqual({ prometheus: datasourceUids.prometheus, loki: datasourceUids.loki, jaeger: datasourceUids.jaeger });
    expect(ds.loki.jsonData.derivedFields[0]).toMatchObject({ datasourceUid: datasourceUids.jaeger, url: "${__value.raw}" });
    expect(run.resources.filter((r) => r.type.startsWith("grafana:") || r.type === "pulumi:providers:grafana" || r.type === "apex:observability:GrafanaContent")).toEqual([]);
  });

  it("mounts the provisioning files read-only from Grafana's ConfigMap at the provisioning paths, and rolls Grafana when they change", () => {
    const gf = workload("grafana");
    const pod = gf.inputs.spec.template.spec;
    const cm = configMap("grafana-config");
    // What Grafana finds at each path: the ConfigMap items of the volume mounted there.
    const at = (path: string): Record<string, string> => {
      const mount = container(gf).volumeMounts.find((m: any) => m.mountPath === path);
      expect(mount, path).toBeDefined();
      expect(mount.readOnly, path).toBe(true);
      const volume = pod.volumes.find((v: any) => v.name === mount.name);
      expect(volume.configMap.name).toBe(cm.inputs.metadata.name);
      return Object.fromEntries(volume.configMap.items.map((i: any) => [i.path, cm.inputs.data[i.key]]));
    };
    const providers = at(grafanaProvisioningPaths.dashboardProviders)[provisioningFile]!;
    expect(providerFileProblems(providers)).toEqual([]);
    const [provider] = parse(providers).providers;
    expect(provider).toMatchObject({ folder: "Apex", folderUid: "apex", allowUiUpdates: false });
    const dashboards = at(provider.options.path);
    expect(Object.keys(dashboards).sort()).toEqual(["apex-cost.json", "apex-errors.json", "apex-overview.json", "apex-performance.json"]);
    // Each file as provisioned passes Grafana 10.2.3's rules, referring only to the provisioned data sources.
    const uids = provisionedDatasources().map((d) => d.uid);
    for (const [file, json] of Object.entries(dashboards)) {
      const model = JSON.parse(json);
      expect(`${model.uid}.json`).toBe(file);
      expect(grafanaProblems(model, grafana1023, { datasourceUids: uids }), file).toEqual([]);
    }
    expect(at(grafanaProvisioningPaths.datasources)[provisioningFile]).toBe(grafanaConfig()[`provisioning-datasources.${provisioningFile}`]);
    // The pod template carries a digest of the ConfigMap: new content, new template, rolled pod.
    const digest = createHash("sha256");
    for (const key of Object.keys(cm.inputs.data).sort()) digest.update(key).update("\0").update(cm.inputs.data[key]).update("\0");
    expect(gf.inputs.spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION]).toBe(digest.digest("hex"));
    // Under the 1 MiB a ConfigMap may hold.
    expect(Buffer.byteLength(JSON.stringify(cm.inputs.data))).toBeLessThan(1024 * 1024);
  });

  it("routes the configured UI hosts through the stack's Ingress with TLS, and outputs their URLs", () => {
    const ingress = run.one("kubernetes:networking.k8s.io/v1:Ingress", (r) => r.inputs.metadata.name === "apex");
    const rules = Object.fromEntries(ingress.inputs.spec.rules.map((r: any) => [r.host, r.http.paths[0].backend.service]));
    expect(rules[HOSTS.grafana]).toEqual({ name: services.grafana.name, port: { number: services.grafana.port } });
    expect(rules[HOSTS.jaeger]).toEqual({ name: services.jaeger.name, port: { number: services.jaeger.uiPort } });
    expect(ingress.inputs.spec.tls[0].hosts).toEqual(expect.arrayContaining([HOSTS.grafana, HOSTS.jaeger]));
    expect(run.outputs).toMatchObject({
      grafanaUrl: `https://${HOSTS.grafana}`,
      jaegerUrl: `https://${HOSTS.jaeger}`,
      prometheusUrl: `http://prometheus.${NS}.svc.cluster.local:9090`,
      alertmanagerUrl: `http://alertmanager.${NS}.svc.cluster.local:9093`,
    });
  });

  it("tails pod logs with Alloy through the API: a Role on pods and pods/log, Loki as the sink", () => {
    const alloy = workload("alloy");
    expect(alloy.inputs.spec.template.spec.automountServiceAccountToken).toBe(true);
    expect(alloy.inputs.spec.template.spec.volumes.some((v: any) => v.hostPath)).toBe(false);
    const role = run.one("kubernetes:rbac.authorization.k8s.io/v1:Role", (r) => r.inputs.metadata.name === "alloy-pod-logs");
    expect(role.inputs.rules).toEqual([{ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list", "watch"] }]);
    const binding = run.one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", (r) => r.inputs.metadata.name === "alloy-pod-logs");
    expect(binding.inputs.subjects).toEqual([{ kind: "ServiceAccount", name: alloy.inputs.spec.template.spec.serviceAccountName, namespace: NS }]);
    const config: string = configMap("alloy-config").inputs.data["config.config.alloy"];
    const push = /url = "([^"]+)"/.exec(config)?.[1];
    expect(container(resolve(new URL(push!).host, services.loki.port)).name).toBe("loki");
    expect(config).toContain(`names = ["${NS}"]`);
  });

  it("sends the runtime's spans to Jaeger's OTLP port", () => {
    for (const name of [services.api.name, services.worker.name]) {
      const url = new URL(container(workload(name)).env.find((e: any) => e.name === runtimeEnv.otlpEndpoint).value);
      expect(container(resolve(url.host, services.jaeger.otlpGrpcPort)).name).toBe("jaeger");
    }
  });

  it("admits the observability flows through the default-deny namespace, and nothing more", () => {
    const pod = (id: string, name: string): Endpoint => ({ id, namespace: NS, labels: { "app.kubernetes.io/name": name } });
    const ev = new NetworkPolicyEvaluator(run.resources);
    const p = pod("prometheus", "prometheus");
    const api = pod("api", services.api.name);
    const worker = pod("worker", services.worker.name);
    const grafana = pod("grafana", "grafana");
    const stranger = pod("stranger", "stranger");
    expect(ev.allows(p, api, services.api.httpPort, "TCP")).toBe(true);
    expect(ev.allows(p, worker, services.worker.metricsPort, "TCP")).toBe(true);
    expect(ev.allows(p, pod("exporter", "postgres-exporter"), 9187, "TCP")).toBe(true);
    expect(ev.allows(p, pod("am", "alertmanager"), 9093, "TCP")).toBe(true);
    expect(ev.allows(worker, pod("jaeger", "jaeger"), 4317, "TCP")).toBe(true);
    expect(ev.allows(grafana, p, 9090, "TCP")).toBe(true);
    expect(ev.allows(grafana, pod("loki", "loki"), 3100, "TCP")).toBe(true);
    expect(ev.allows(pod("alloy", "alloy"), pod("loki", "loki"), 3100, "TCP")).toBe(true);
    expect(ev.allows(pod("alloy", "alloy"), { id: "kube-apiserver", ip: "10.0.0.1" }, 443, "TCP")).toBe(true);
    expect(ev.allows(grafana, { id: "kube-apiserver", ip: "10.0.0.1" }, 443, "TCP")).toBe(false);
    expect(ev.allows(pod("exporter", "postgres-exporter"), pod("pg", "postgres"), 5432, "TCP")).toBe(true);
    expect(ev.allows({ id: "nginx", namespace: "ingress-nginx", labels: {} }, grafana, 3000, "TCP")).toBe(true);
    expect(ev.allows(pod("am", "alertmanager"), { id: "pagerduty", ip: "52.1.2.3" }, 443, "TCP")).toBe(true);
    // Not opened: strangers scraping, Prometheus on other ports, Grafana straight to the database.
    expect(ev.allows(stranger, p, 9090, "TCP")).toBe(false);
    expect(ev.allows(stranger, api, services.api.httpPort, "TCP")).toBe(false);
    expect(ev.allows(p, api, services.api.grpcPort, "TCP")).toBe(false);
    expect(ev.allows(grafana, pod("pg", "postgres"), 5432, "TCP")).toBe(false);
    expect(ev.allows(pod("am", "alertmanager"), { id: "metadata", ip: "169.254.169.254" }, 443, "TCP")).toBe(false);
  });

  it("links each alert's runbook under apex:observability.runbookBaseUrl", () => {
    const rules = parse(configMap("prometheus-config").inputs.data["rules.apex-alerts.yml"]);
    for (const r of rules.groups[0].rules) expect(r.annotations.runbook_url).toBe(`${PROD_RUNBOOK_BASE_URL}/${r.alert}.md`);
  });

  it("requires apex:observability.runbookBaseUrl, absolute and not a placeholder, naming the key", async () => {
    const refused = (runbookBaseUrl: string | undefined) => runStack({ stack: "prod", secrets: SECRETS, config: { observability: { runbookBaseUrl } } });
    await expect(refused(undefined)).rejects.toThrow(/apex:observability\.runbookBaseUrl: expected the absolute URL of your docs\/runbooks.*\(required in prod\), got nothing/);
    await expect(refused("docs/runbooks")).rejects.toThrow(/apex:observability\.runbookBaseUrl: .*not an absolute URL.*got "docs\/runbooks"/);
    await expect(refused("https://github.com/example/apex/blob/main/docs/runbooks")).rejects.toThrow(/apex:observability\.runbookBaseUrl: .*placeholder github\.com\/example/);
    await expect(refused("https://runbooks.example.com/apex")).rejects.toThrow(/apex:observability\.runbookBaseUrl: .*placeholder host "runbooks\.example\.com"/);
    await expect(refused("ftp://files.ops.internal/runbooks")).rejects.toThrow(/apex:observability\.runbookBaseUrl: .*scheme "ftp:"/);
  });

  it("builds each concern as its own component under Observability: Tracing, MetricsAndAlerting, Logging, Grafana", () => {
    const byUrn = new Map(run.resources.map((r) => [r.urn, r]));
    /** Types of the components above `r`, outermost first. */
    const chain = (r: RecordedResource): string[] => {
      const types: string[] = [];
      for (let p = byUrn.get(r.parentUrn); p; p = byUrn.get(p.parentUrn)) types.unshift(p.type);
      return types;
    };
    const under = (name: string) => chain(workload(name));
    const obs = "apex:observability:Observability";
    expect(under("jaeger").slice(0, 2)).toEqual([obs, "apex:observability:Tracing"]);
    for (const name of ["prometheus", "alertmanager", "postgres-exporter"]) expect(under(name).slice(0, 2), name).toEqual([obs, "apex:observability:MetricsAndAlerting"]);
    for (const name of ["loki", "alloy"]) expect(under(name).slice(0, 2), name).toEqual([obs, "apex:observability:Logging"]);
    expect(under("grafana").slice(0, 2)).toEqual([obs, "apex:observability:Grafana"]);
    expect(chain(configMap("grafana-config")).slice(0, 2)).toEqual([obs, "apex:observability:Grafana"]);
    // Child names derive from their component's name.
    const concerns = run.resources.filter((r) => /^apex:observability:(Tracing|MetricsAndAlerting|Logging|Grafana)$/.test(r.type));
    expect(concerns.map((c) => c.name).sort()).toEqual(["apex-observability-grafana", "apex-observability-logging", "apex-observability-metrics", "apex-observability-tracing"]);
    for (const c of concerns) {
      for (const child of run.resources.filter((r) => r.parentUrn === c.urn)) expect(child.name.startsWith(`${c.name}-`), `${child.name} under ${c.name}`).toBe(true);
    }
  });

  it("keeps traces for apex:observability.traceRetention on a storage.jaeger volume", async () => {
    expect(container(workload("jaeger")).env.find((e: any) => e.name === "BADGER_SPAN_STORE_TTL").value).toBe("72h");
    const longer = await runStack({ stack: "prod", secrets: SECRETS, config: { observability: { traceRetention: "336h", storage: { jaeger: "40Gi" } } } });
    const jaeger = longer.one("kubernetes:apps/v1:StatefulSet", (r) => r.inputs.metadata.name === "jaeger");
    expect(jaeger.inputs.spec.template.spec.containers[0].env.find((e: any) => e.name === "BADGER_SPAN_STORE_TTL").value).toBe("336h");
    expect(jaeger.inputs.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe("40Gi");
    await expect(runStack({ stack: "prod", secrets: SECRETS, config: { observability: { traceRetention: "14d" } } })).rejects.toThrow(/apex:observability\.traceRetention: expected a Go duration such as "72h"/);
  });

  it("uses no service discovery that needs RBAC for Prometheus", () => {
    const prom = workload("prometheus");
    expect(prom.inputs.spec.template.spec.automountServiceAccountToken).toBe(false);
    expect(configMap("prometheus-config").inputs.data["config.prometheus.yml"]).not.toContain("kubernetes_sd_configs");
  });
});

describe("prod stack (kubernetes): Prometheus remote_write", () => {
  const RW_SECRET = "rw-KNOWN-password-7f3a";
  const remoteWrite = { url: "https://metrics.ops.internal:8443/api/v1/push", auth: "basic", username: "apex-prod" };

  it("writes to apex:observability.remoteWrite, the password read from a memory file filled from the Secret", async () => {
    const rw = await runStack({ stack: "prod", secrets: { ...SECRETS, prometheusRemoteWriteSecret: RW_SECRET }, config: { observability: { remoteWrite } } });
    const prom = rw.one("kubernetes:apps/v1:StatefulSet", (r) => r.inputs.metadata.name === "prometheus");
    const config = parse(rw.one("kubernetes:core/v1:ConfigMap", (r) => r.inputs.metadata.name === "prometheus-config").inputs.data["config.prometheus.yml"]);
    expect(config.remote_write).toEqual([{ url: remoteWrite.url, basic_auth: { username: "apex-prod", password_file: "/run/prometheus/remote-write-secret" } }]);
    const c = prom.inputs.spec.template.spec.containers[0];
    expect(c.command[2]).toMatch(/^printf '%s' "\$PROMETHEUS_REMOTE_WRITE_SECRET" > \/run\/prometheus\/remote-write-secret && unset PROMETHEUS_REMOTE_WRITE_SECRET && /);
    expect(c.env.find((e: any) => e.name === "PROMETHEUS_REMOTE_WRITE_SECRET").valueFrom.secretKeyRef).toEqual({ name: "apex-observability", key: "PROMETHEUS_REMOTE_WRITE_SECRET" });
    const run = prom.inputs.spec.template.spec.volumes.find((v: any) => v.name === "run");
    expect(run.emptyDir).toEqual({ medium: "Memory", sizeLimit: "1Mi" });
    const secret = rw.one("kubernetes:core/v1:Secret", (r) => r.inputs.metadata.name === "apex-observability");
    expect(secret.inputs.stringData.PROMETHEUS_REMOTE_WRITE_SECRET).toBe(RW_SECRET);
    expect(JSON.stringify(rw.resources.map((r) => r.plainInputs))).not.toContain(RW_SECRET);
    expect(JSON.stringify(rw.ofType("kubernetes:core/v1:ConfigMap").map((r) => r.inputs))).not.toContain(RW_SECRET);
    // Egress to the endpoint's port over the public ranges only.
    const ev = new NetworkPolicyEvaluator(rw.resources);
    const p: Endpoint = { id: "prom", namespace: NS, labels: { "app.kubernetes.io/name": "prometheus" } };
    expect(ev.allows(p, { id: "remote", ip: "52.1.2.3" }, 8443, "TCP")).toBe(true);
    expect(ev.allows(p, { id: "remote", ip: "52.1.2.3" }, 443, "TCP")).toBe(false);
    expect(ev.allows(p, { id: "metadata", ip: "169.254.169.254" }, 8443, "TCP")).toBe(false);
  });

  it("takes a bearer token, or no credentials at all", async () => {
    const bearer = await runStack({ stack: "prod", secrets: { ...SECRETS, prometheusRemoteWriteSecret: RW_SECRET }, config: { observability: { remoteWrite: { url: "https://prom.ops.internal/api/v1/write", auth: "bearer" } } } });
    const cfg = (r: StackRun) => parse(r.one("kubernetes:core/v1:ConfigMap", (x) => x.inputs.metadata.name === "prometheus-config").inputs.data["config.prometheus.yml"]);
    expect(cfg(bearer).remote_write).toEqual([{ url: "https://prom.ops.internal/api/v1/write", authorization: { type: "Bearer", credentials_file: "/run/prometheus/remote-write-secret" } }]);
    const open = await runStack({ stack: "prod", secrets: SECRETS, config: { observability: { remoteWrite: { url: "http://mimir.monitoring.svc:8080/api/v1/push" } } } });
    expect(cfg(open).remote_write).toEqual([{ url: "http://mimir.monitoring.svc:8080/api/v1/push" }]);
    const prom = open.one("kubernetes:apps/v1:StatefulSet", (r) => r.inputs.metadata.name === "prometheus").inputs.spec.template.spec.containers[0];
    expect(prom.env.some((e: any) => e.name === "PROMETHEUS_REMOTE_WRITE_SECRET")).toBe(false);
  });

  it("refuses remote_write settings that cannot work, naming the key", async () => {
    const refused = (observability: Record<string, unknown>, secrets: Record<string, string> = SECRETS) => runStack({ stack: "prod", secrets, config: { observability } });
    await expect(refused({ remoteWrite })).rejects.toThrow(/apex:prometheusRemoteWriteSecret: required when apex:observability\.remoteWrite\.auth is "basic"/);
    await expect(refused({ remoteWrite: { url: remoteWrite.url, auth: "basic" } }, { ...SECRETS, prometheusRemoteWriteSecret: RW_SECRET })).rejects.toThrow(/apex:observability\.remoteWrite\.username: required when apex:observability\.remoteWrite\.auth is "basic"/);
    await expect(refused({ remoteWrite: { url: "metrics.ops.internal/push" } })).rejects.toThrow(/apex:observability\.remoteWrite\.url: expected an http\(s\) URL/);
    await expect(refused({ remoteWrite: { url: remoteWrite.url, auth: "token" } })).rejects.toThrow(/apex:observability\.remoteWrite\.auth: expected one of "none", "basic", "bearer"/);
    await expect(refused({}, { ...SECRETS, prometheusRemoteWriteSecret: RW_SECRET })).rejects.toThrow(/apex:prometheusRemoteWriteSecret: only used with apex:observability\.remoteWrite/);
    await expect(refused({ alerting: { deadMansSwitch: "webhook" } }, { ...SECRETS, alertmanagerDeadMansSwitchUrl: "not a url" })).rejects.toThrow(/apex:alertmanagerDeadMansSwitchUrl/);
  });
});

describe("prod stack (kubernetes): Grafana behind the allowlist, signed in through OIDC", () => {
  const OIDC_SECRET = "oidc-KNOWN-client-secret-7f3a";
  const oidc = {
    name: "Okta",
    authUrl: "https://login.example.com/oauth2/v1/authorize",
    tokenUrl: "https://login.example.com/oauth2/v1/token",
    apiUrl: "https://login.example.com/oauth2/v1/userinfo",
    clientId: "apex-grafana",
    roleAttributePath: "contains(groups[*], 'apex-admins') && 'Admin' || 'Viewer'",
    groupsAttributePath: "groups",
    allowedGroups: ["apex-admins", "apex-viewers"],
  };
  let sso: StackRun;
  beforeAll(async () => {
    sso = await runStack({
      stack: "prod",
      secrets: { ...SECRETS, grafanaOidcClientSecret: OIDC_SECRET },
      config: { observability: { hosts: HOSTS, uiSourceRanges: ["203.0.113.0/24"], grafana: { oidc } } },
    });
  });
  const grafana = () => sso.one("kubernetes:apps/v1:StatefulSet", (r) => r.inputs.metadata.name === "grafana").inputs.spec.template.spec.containers[0];

  it("serves Grafana on the restricted Ingress with Jaeger, only to apex:observability.uiSourceRanges", () => {
    const ingress = (name: string) => sso.one("kubernetes:networking.k8s.io/v1:Ingress", (r) => r.inputs.metadata.name === name);
    const restricted = ingress("apex-restricted");
    expect(restricted.inputs.metadata.annotations["nginx.ingress.kubernetes.io/whitelist-source-range"]).toBe("203.0.113.0/24");
    const hosts = Object.fromEntries(restricted.inputs.spec.rules.map((r: any) => [r.host, r.http.paths[0].backend.service]));
    expect(hosts).toEqual({
      [HOSTS.grafana]: { name: services.grafana.name, port: { number: services.grafana.port } },
      [HOSTS.jaeger]: { name: services.jaeger.name, port: { number: services.jaeger.uiPort } },
    });
    expect(ingress("apex").inputs.spec.rules.map((r: any) => r.host)).not.toContain(HOSTS.grafana);
  });

  it("configures Grafana's generic OAuth from config, redirecting under its https host, the client secret by secretKeyRef", () => {
    const env = Object.fromEntries(grafana().env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    expect(env).toMatchObject({
      GF_SERVER_ROOT_URL: `https://${HOSTS.grafana}`,
      GF_AUTH_GENERIC_OAUTH_ENABLED: "true",
      GF_AUTH_GENERIC_OAUTH_NAME: "Okta",
      GF_AUTH_GENERIC_OAUTH_CLIENT_ID: "apex-grafana",
      GF_AUTH_GENERIC_OAUTH_AUTH_URL: oidc.authUrl,
      GF_AUTH_GENERIC_OAUTH_TOKEN_URL: oidc.tokenUrl,
      GF_AUTH_GENERIC_OAUTH_API_URL: oidc.apiUrl,
      GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_PATH: oidc.roleAttributePath,
      GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_STRICT: "true",
      GF_AUTH_GENERIC_OAUTH_ALLOWED_GROUPS: '["apex-admins","apex-viewers"]',
      GF_AUTH_GENERIC_OAUTH_USE_PKCE: "true",
      // Break-glass: the local admin and its form stay.
      GF_AUTH_DISABLE_LOGIN_FORM: "false",
      GF_SECURITY_ADMIN_PASSWORD: { secretKeyRef: { name: "apex-observability", key: "GF_SECURITY_ADMIN_PASSWORD" } },
      GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET: { secretKeyRef: { name: "apex-observability", key: "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET" } },
    });
    const secret = sso.one("kubernetes:core/v1:Secret", (r) => r.inputs.metadata.name === "apex-observability");
    expect(secret.inputs.stringData.GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET).toBe(OIDC_SECRET);
    expect(JSON.stringify(sso.resources.map((r) => r.plainInputs))).not.toContain(OIDC_SECRET);
    expect(JSON.stringify(sso.outputs)).not.toContain(OIDC_SECRET);
  });

  it("refuses OIDC that cannot work, naming the key", async () => {
    const refused = (config: Record<string, unknown>, secrets: Record<string, string> = { ...SECRETS, grafanaOidcClientSecret: OIDC_SECRET }) => runStack({ stack: "prod", secrets, config });
    // Pulumi.prod.yaml's secure: entry removed: OIDC without its client secret.
    await expect(refused({ grafanaOidcClientSecret: undefined }, SECRETS)).rejects.toThrow(/apex:grafanaOidcClientSecret: required when apex:observability\.grafana\.oidc is set/);
    await expect(refused({ observability: { hosts: { grafana: undefined } } })).rejects.toThrow(/apex:observability\.hosts\.grafana: required when apex:observability\.grafana\.oidc is set/);
    await expect(refused({ observability: { grafana: { deploy: false, url: "https://grafana.ops.example.com" } } }, { ...SECRETS, grafanaOidcClientSecret: OIDC_SECRET, grafanaAdminPassword: "external-KNOWN-password" }))
      .rejects.toThrow(/apex:observability\.grafana\.oidc: only used when apex:observability\.grafana\.deploy is true/);
    await expect(refused({ observability: { grafana: { oidc: { apiUrl: "http://login.example.com/userinfo" } } } })).rejects.toThrow(/apex:observability\.grafana\.oidc\.apiUrl: expected an https URL/);
  });
});

describe("prod stack (kubernetes): an external Grafana (grafana.deploy false)", () => {
  it("deploys no Grafana and provisions the external one through its API: provider, folder, three data sources, four dashboards", async () => {
    const external = await runStack({
      stack: "prod",
      secrets: { ...SECRETS, grafanaAdminPassword: "external-KNOWN-password" },
      config: { grafanaOidcClientSecret: undefined, observability: { hosts: { grafana: undefined }, grafana: { deploy: false, url: "https://grafana.ops.example.com", oidc: undefined } } },
    });
    expect(external.ofType("kubernetes:apps/v1:StatefulSet").some((r) => r.inputs.metadata.name === "grafana")).toBe(false);
    expect(external.ofType("kubernetes:core/v1:ConfigMap").some((r) => r.inputs.metadata.name === "grafana-config")).toBe(false);
    const provider = external.one("pulumi:providers:grafana");
    expect(provider.inputs.url).toBe("https://grafana.ops.example.com");
    expect(provider.plainInputs.auth).toBe("[secret]");
    expect(external.one("grafana:oss/folder:Folder").inputs).toMatchObject({ title: "Apex", uid: "apex" });
    const ds = external.ofType("grafana:oss/dataSource:DataSource").map((d) => d.inputs);
    expect(ds.map((d) => d.uid).sort()).toEqual([datasourceUids.jaeger, datasourceUids.loki, datasourceUids.prometheus]);
    // The external Grafana reaches this stack's data sources by their in-cluster names.
    expect(ds.find((d) => d.type === "prometheus")!.url).toBe(`http://${services.prometheus.name}:${services.prometheus.port}`);
    expect(external.ofType("grafana:oss/dashboard:Dashboard").map((d) => JSON.parse(d.inputs.configJson).uid).sort()).toEqual(["apex-cost", "apex-errors", "apex-overview", "apex-performance"]);
    expect(external.outputs.grafanaUrl).toBe("https://grafana.ops.example.com");
  });
});
