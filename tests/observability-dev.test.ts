/* eslint-disable @typescript-eslint/no-explicit-any */
import { existsSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { httpPaths, metrics, runtimeEnv, services } from "../app/src/contract";
import { rulesFor } from "../alerts";
import { grafanaProvisioningPaths } from "../components/observability/grafana-provisioning";
import { runStack, type RecordedResource, type StackRun } from "./harness";
import { datasourceFileProblems, interpolated, providerFileProblems } from "./grafana/provisioning";

const SLACK_URL = "https://hooks.slack.com/services/T000/B000/KNOWN-slack-secret";
const WEBHOOK_URL = "https://alerts.example.com/hook?token=KNOWN-webhook-secret";
const GRAFANA_PASSWORD = "grafana-KNOWN-pw-123456";
let run: StackRun;
const PREFIX = "apex-dev";

const containers = () => run.ofType("docker:index/container:Container");
const container = (service: string): RecordedResource => run.one("docker:index/container:Container", (r) => r.inputs.name === `${PREFIX}-${service}`);
const aliasesOf = (c: RecordedResource): string[] => c.inputs.networksAdvanced.flatMap((n: any) => n.aliases ?? []);
const upload = (c: RecordedResource, file: string): string => {
  const u = (c.inputs.uploads ?? []).find((x: any) => x.file === file);
  if (!u) throw new Error(`${c.inputs.name} has no upload ${file}`);
  return u.content;
};
const envOf = (c: RecordedResource): Record<string, string> =>
  Object.fromEntries((c.inputs.envs as string[]).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
/** The container a `host:port` reaches on the stack network, checked against the contract port. */
const reachable = (hostPort: string, contractPort: number): RecordedResource[] => {
  const [host, port] = hostPort.split(":");
  expect(Number(port), hostPort).toBe(contractPort);
  const hits = containers().filter((c) => aliasesOf(c).includes(host!));
  expect(hits.length, `no container answers to ${host}`).toBeGreaterThan(0);
  return hits;
};

beforeAll(async () => {
  run = await runStack({
    stack: "dev",
    config: { observability: { alerting: { critical: ["slack"], warning: ["webhook"], slackChannel: "#apex-alerts" } } },
    secrets: { alertmanagerSlackUrl: SLACK_URL, alertmanagerWebhookUrl: WEBHOOK_URL, grafanaAdminPassword: GRAFANA_PASSWORD },
  });
});

describe("dev stack (docker): observability", () => {
  it("uploads config files only into writable volume mounts (the engine refuses a read-only root), and replaces containers delete-first", () => {
    let uploads = 0;
    for (const c of containers()) {
      expect(c.deleteBeforeReplace, `${c.inputs.name}: fixed name, needs deleteBeforeReplace`).toBe(true);
      if (!c.inputs.readOnly) continue;
      const mounts = (c.inputs.volumes ?? []).filter((m: any) => m.volumeName !== undefined && !m.readOnly);
      for (const u of c.inputs.uploads ?? []) {
        uploads++;
        const inVolume = mounts.some((m: any) => u.file.startsWith(`${m.containerPath}/`));
        expect(inVolume, `${c.inputs.name}: upload ${u.file} is not inside a writable volume mount`).toBe(true);
      }
    }
    // Prometheus (config + rules), Loki and promtail at least.
    expect(uploads).toBeGreaterThanOrEqual(4);
  });

  it("runs Jaeger, Prometheus, Alertmanager, postgres_exporter, Loki, promtail and Grafana with the configured images", () => {
    const images = Object.fromEntries(run.ofType("docker:index/remoteImage:RemoteImage").map((r) => [r.name, r.inputs.name]));
    const expected: Record<string, string> = {
      [services.jaeger.name]: "jaegertracing/all-in-one:1.53",
      [services.prometheus.name]: "prom/prometheus:v2.48.1",
      [services.alertmanager.name]: "prom/alertmanager:v0.26.0",
      [services.postgresExporter.name]: "quay.io/prometheuscommunity/postgres-exporter:v0.15.0",
      [services.loki.name]: "grafana/loki:2.9.3",
      promtail: "grafana/promtail:2.9.3",
      [services.grafana.name]: "grafana/grafana:10.2.3",
    };
    for (const [service, image] of Object.entries(expected)) {
      const c = container(service);
      expect(aliasesOf(c)).toContain(service);
      expect(Object.values(images)).toContain(image);
      expect(c.inputs.readOnly).toBe(true);
    }
  });

  it("publishes the UIs on 127.0.0.1 only: Grafana on 3001 (seed), Jaeger UI 16686 and OTLP 4317", () => {
    const published = (service: string) => container(service).inputs.ports.map((p: any) => `${p.ip}:${p.external}->${p.internal}`);
    expect(published(services.grafana.name)).toEqual([`127.0.0.1:${services.grafana.devHostPort}->${services.grafana.port}`]);
    expect(published(services.jaeger.name)).toEqual(expect.arrayContaining([`127.0.0.1:4317->4317`, `127.0.0.1:16686->16686`]));
    expect(published(services.prometheus.name)).toEqual(["127.0.0.1:9090->9090"]);
    expect(published(services.loki.name)).toEqual([]);
  });

  it("keeps Prometheus, Grafana, Loki and Alertmanager data in named volumes", () => {
    const volumes = run.ofType("docker:index/volume:Volume").map((v) => v.inputs.name);
    for (const s of ["prometheus", "grafana", "loki", "alertmanager"]) expect(volumes).toContain(`${PREFIX}-${s}-data`);
    const prom = container(services.prometheus.name);
    expect(prom.inputs.volumes).toContainEqual(expect.objectContaining({ volumeName: `${PREFIX}-prometheus-data`, containerPath: "/prometheus" }));
    expect(prom.inputs.command).toEqual(expect.arrayContaining(["--config.file=/etc/prometheus/config/prometheus.yml", "--storage.tsdb.retention.time=7d"]));
  });

  it("scrapes apex-api, every apex-worker replica, postgres_exporter and Alertmanager at this stack's names and ports", () => {
    const config = parse(upload(container(services.prometheus.name), "/etc/prometheus/config/prometheus.yml"));
    const jobs = Object.fromEntries(config.scrape_configs.map((j: any) => [j.job_name, j]));
    expect(Object.keys(jobs).sort()).toEqual(["alertmanager", "apex-api", "apex-worker", "postgres-exporter", "prometheus"]);
    const api = jobs["apex-api"].dns_sd_configs[0];
    expect(reachable(`${api.names[0]}:${api.port}`, services.api.httpPort)).toHaveLength(1);
    const worker = jobs["apex-worker"].dns_sd_configs[0];
    // One DNS name, every replica behind it: the worker's three containers share the alias.
    expect(reachable(`${worker.names[0]}:${worker.port}`, services.worker.metricsPort)).toHaveLength(3);
    expect(jobs["apex-worker"].metrics_path).toBe(httpPaths.metrics);
    reachable(jobs["postgres-exporter"].static_configs[0].targets[0], services.postgresExporter.port);
    reachable(config.alerting.alertmanagers[0].static_configs[0].targets[0], services.alertmanager.port);
    const alertmanager = jobs.alertmanager.dns_sd_configs[0];
    expect(reachable(`${alertmanager.names[0]}:${alertmanager.port}`, services.alertmanager.port)).toHaveLength(1);
    expect(config.rule_files).toEqual(["/etc/prometheus/rules/*.yml"]);
    expect(config.global.external_labels).toEqual({ stack: "dev" });
    // The worker really listens where it is scraped.
    expect(envOf(container(`${services.worker.name}-1`))[runtimeEnv.metricsPort]).toBe(String(worker.port));
  });

  it("mounts the alert rules next to the config", () => {
    const rules = parse(upload(container(services.prometheus.name), "/etc/prometheus/rules/apex-alerts.yml"));
    expect(rules.groups[0].rules.map((r: any) => r.alert)).toEqual(rulesFor("docker").map((r) => r.alert));
    expect(rules.groups[0].rules.map((r: any) => r.alert)).toEqual(expect.arrayContaining(["Watchdog", "NoActiveAgents", "TaskQueueStalled", "DatabaseDown"]));
  });

  it("links each alert's runbook in this checkout by an absolute file:// URL (dev default)", () => {
    const rules = parse(upload(container(services.prometheus.name), "/etc/prometheus/rules/apex-alerts.yml"));
    const runbooks = pathToFileURL(resolvePath(__dirname, "../docs/runbooks")).href;
    for (const r of rules.groups[0].rules) {
      expect(r.annotations.runbook_url).toBe(`${runbooks}/${r.alert}.md`);
      expect(existsSync(fileURLToPath(r.annotations.runbook_url)), r.alert).toBe(true);
    }
  });

  it("points postgres_exporter at the stack's Postgres, password from apex-secrets (secret)", () => {
    const c = container(services.postgresExporter.name);
    const env = envOf(c);
    const [hostPort] = env.DATA_SOURCE_URI!.split("/");
    reachable(hostPort!, services.postgres.port);
    expect(env.DATA_SOURCE_USER).toBe(services.postgres.user);
    expect(env.DATA_SOURCE_PASS).toMatch(/\S/);
    expect(JSON.stringify(c.plainInputs)).not.toContain(env.DATA_SOURCE_PASS);
  });

  it("sends the runtime's spans to Jaeger's OTLP port", () => {
    for (const name of [services.api.name, `${services.worker.name}-1`]) {
      const url = new URL(envOf(container(name))[runtimeEnv.otlpEndpoint]!);
      reachable(url.host, services.jaeger.otlpGrpcPort);
      expect(container(services.jaeger.name).inputs.envs).toContain("COLLECTOR_OTLP_ENABLED=true");
    }
  });

  it("ships container logs to Loki through the engine socket, for this stack's containers only", () => {
    const c = container("promtail");
    expect(c.inputs.volumes).toContainEqual({ hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock", readOnly: true });
    const config = parse(upload(c, "/etc/promtail/config/promtail.yml"));
    reachable(new URL(config.clients[0].url).host, services.loki.port);
    const relabel = config.scrape_configs[0].relabel_configs;
    expect(relabel[0]).toEqual({ source_labels: ["__meta_docker_container_label_app_kubernetes_io_instance"], regex: "apex-dev", action: "keep" });
    expect(relabel).toContainEqual({ source_labels: ["__meta_docker_container_label_app_kubernetes_io_name"], target_label: "service_name" });
    expect(containers().every((x) => x.inputs.labels.some((l: any) => l.label === "app.kubernetes.io/instance" && l.value === "apex-dev"))).toBe(true);
  });

  it("provisions Grafana's data sources from a file uploaded into the container, at this stack's service names and ports", () => {
    const grafana = container(services.grafana.name);
    const text = upload(grafana, `${grafanaProvisioningPaths.datasources}/apex.yaml`);
    expect(datasourceFileProblems(text)).toEqual([]);
    const ds = Object.fromEntries((interpolated(parse(text).datasources) as any[]).map((d) => [d.type, d]));
    expect(reachable(new URL(ds.prometheus.url).host, services.prometheus.port)[0]?.inputs.name).toBe(`${PREFIX}-prometheus`);
    expect(reachable(new URL(ds.jaeger.url).host, services.jaeger.uiPort)[0]?.inputs.name).toBe(`${PREFIX}-jaeger`);
    expect(reachable(new URL(ds.loki.url).host, services.loki.port)[0]?.inputs.name).toBe(`${PREFIX}-loki`);
    // trace_id links both ways, template variables intact after Grafana's env interpolation.
    expect(ds.loki.jsonData.derivedFields[0]).toMatchObject({ datasourceUid: ds.jaeger.uid, url: "${__value.raw}" });
    expect(new RegExp(ds.loki.jsonData.derivedFields[0].matcherRegex).exec('{"level":"INFO","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}')?.[1]).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(ds.jaeger.jsonData.tracesToLogsV2).toMatchObject({ datasourceUid: ds.loki.uid });
    expect(ds.jaeger.jsonData.tracesToLogsV2.query).toContain('trace_id="${__trace.traceId}"');
  });

  it("uploads the dashboard provider (folder Apex) and the four dashboards where it reads them; pulumi never calls Grafana's API", () => {
    const grafana = container(services.grafana.name);
    const providers = upload(grafana, `${grafanaProvisioningPaths.dashboardProviders}/apex.yaml`);
    expect(providerFileProblems(providers)).toEqual([]);
    const [provider] = parse(providers).providers;
    expect(provider).toMatchObject({ folder: "Apex", folderUid: "apex", options: { path: grafanaProvisioningPaths.dashboards } });
    const dashboards = (grafana.inputs.uploads as any[]).filter((u) => u.file.startsWith(`${provider.options.path}/`));
    expect(dashboards.map((u) => JSON.parse(u.content).uid).sort()).toEqual(["apex-cost", "apex-errors", "apex-overview", "apex-performance"]);
    for (const u of dashboards) expect(u.file).toBe(`${provider.options.path}/${JSON.parse(u.content).uid}.json`);
    expect(dashboards.some((u) => u.content.includes(metrics.costTotal.name))).toBe(true);
    // Each provisioning folder is its own volume mount, so the image's other provisioning folders stay.
    const mounts = (grafana.inputs.volumes as any[]).map((m) => m.containerPath);
    expect(mounts).toEqual(expect.arrayContaining(Object.values(grafanaProvisioningPaths)));
    expect(run.resources.filter((r) => r.type.startsWith("grafana:") || r.type === "pulumi:providers:grafana")).toEqual([]);
  });

  it("keeps the Grafana password and the receiver URLs out of plain state; Alertmanager gets them as a secret", () => {
    const am = container(services.alertmanager.name);
    const config = parse(envOf(am).ALERTMANAGER_CONFIG!);
    expect(config.receivers.find((r: any) => r.name === "critical").slack_configs[0]).toMatchObject({ api_url: SLACK_URL, channel: "#apex-alerts" });
    expect(config.receivers.find((r: any) => r.name === "warning").webhook_configs[0].url).toBe(WEBHOOK_URL);
    expect(envOf(container(services.grafana.name)).GF_SECURITY_ADMIN_PASSWORD).toBe(GRAFANA_PASSWORD);
    const plain = JSON.stringify(run.resources.map((r) => r.plainInputs)) + JSON.stringify({ ...run.outputs, grafanaAdminPassword: undefined });
    for (const secret of [SLACK_URL, WEBHOOK_URL, GRAFANA_PASSWORD, "KNOWN-slack-secret"]) expect(plain).not.toContain(secret);
  });

  it("sends critical and warning alerts to the alert-receiver (runtime image) by default, the Watchdog to the dead man's switch", () => {
    const receiver = container("alert-receiver");
    const api = container(services.api.name);
    expect(receiver.inputs.image).toBe(api.inputs.image);
    expect(receiver.inputs.entrypoints).toEqual(["node", "dist/bin/alert-receiver.js"]);
    expect(envOf(receiver).APEX_ALERT_RECEIVER_PORT).toBe("9095");
    expect(receiver.inputs.healthcheck.tests.join(" ")).toContain("127.0.0.1:9095/healthz");
    const config = parse(envOf(container(services.alertmanager.name)).ALERTMANAGER_CONFIG!);
    const hooks = (name: string) => config.receivers.find((r: any) => r.name === name).webhook_configs?.map((w: any) => w.url) ?? [];
    for (const severity of ["critical", "warning"]) {
      const [url] = hooks(severity).filter((u: string) => u.includes("alert-receiver"));
      const { host, pathname } = new URL(url);
      expect(pathname).toBe("/alerts");
      expect(reachable(host, 9095).map((c) => c.inputs.name)).toEqual([`${PREFIX}-alert-receiver`]);
    }
    expect(hooks("warning")).toContain(WEBHOOK_URL);
    // No dead man's switch configured in dev: the Watchdog's receiver exists and notifies nobody.
    expect(config.route.routes[0]).toMatchObject({ receiver: "deadmansswitch", matchers: ['alertname="Watchdog"'], repeat_interval: "1m" });
    expect(config.receivers.find((r: any) => r.name === "deadmansswitch")).toEqual({ name: "deadmansswitch" });
  });

  it("runs one Prometheus and one Alertmanager with clustering off (no replica label, no peers)", () => {
    const prom = container(services.prometheus.name);
    expect(prom.inputs.entrypoints).toBeUndefined();
    const config = parse(upload(prom, "/etc/prometheus/config/prometheus.yml"));
    expect(config.global.external_labels).toEqual({ stack: "dev" });
    expect(config.alerting.alert_relabel_configs).toBeUndefined();
    expect(config.remote_write).toBeUndefined();
    const am = container(services.alertmanager.name);
    const start = am.inputs.command.join(" ");
    expect(start).toMatch(/ --cluster\.listen-address=$/);
    expect(start).not.toContain("--cluster.peer");
    expect(containers().filter((c) => String(c.inputs.name).startsWith(`${PREFIX}-alertmanager`))).toHaveLength(1);
  });

  it("leaves the alert-receiver out with alerting.devReceiver false", async () => {
    const off = await runStack({ stack: "dev", config: { observability: { alerting: { devReceiver: false } } } });
    expect(off.ofType("docker:index/container:Container").some((c) => c.inputs.name === `${PREFIX}-alert-receiver`)).toBe(false);
    const am = off.one("docker:index/container:Container", (c) => c.inputs.name === `${PREFIX}-alertmanager`);
    const config = parse((am.inputs.envs as string[]).find((e) => e.startsWith("ALERTMANAGER_CONFIG="))!.slice("ALERTMANAGER_CONFIG=".length));
    expect(JSON.stringify(config)).not.toContain("alert-receiver");
  });

  it("outputs the UI URLs", () => {
    expect(run.outputs).toMatchObject({
      grafanaUrl: "http://127.0.0.1:3001",
      jaegerUrl: "http://127.0.0.1:16686",
      prometheusUrl: "http://127.0.0.1:9090",
      alertmanagerUrl: "http://127.0.0.1:9093",
    });
  });

  it("refuses a receiver whose secret is not set, naming the key", async () => {
    await expect(runStack({ stack: "dev", config: { observability: { alerting: { critical: ["pagerduty"], warning: [] } } } })).rejects.toThrow(/apex:alertmanagerPagerdutyRoutingKey/);
  });

  it("provisions an external Grafana instead of deploying one when grafana.deploy is false", async () => {
    const external = await runStack({
      stack: "dev",
      config: { observability: { grafana: { deploy: false, url: "https://grafana.example.com" } } },
      secrets: { grafanaAdminPassword: "external-KNOWN-password" },
    });
    expect(external.ofType("docker:index/container:Container").some((c) => c.inputs.name === `${PREFIX}-grafana`)).toBe(false);
    const provider = external.one("pulumi:providers:grafana");
    expect(provider.inputs.url).toBe("https://grafana.example.com");
    expect(provider.inputs.auth).toBe("admin:external-KNOWN-password");
    expect(provider.plainInputs.auth).toBe("[secret]");
    expect(external.outputs.grafanaUrl).toBe("https://grafana.example.com");
    // Through the API: the folder, the three data sources (same uids and links as the files), the dashboards.
    const folder = external.one("grafana:oss/folder:Folder");
    expect(folder.inputs).toMatchObject({ title: "Apex", uid: "apex" });
    const ds = Object.fromEntries(external.ofType("grafana:oss/dataSource:DataSource").map((d) => [d.inputs.type, d.inputs]));
    expect(Object.fromEntries(Object.entries(ds).map(([type, d]) => [type, (d as { uid: string }).uid]))).toEqual({ prometheus: "apex-prometheus", loki: "apex-loki", jaeger: "apex-jaeger" });
    expect(JSON.parse(ds.loki.jsonDataEncoded).derivedFields[0]).toMatchObject({ datasourceUid: "apex-jaeger", url: "${__value.raw}" });
    const dashboards = external.ofType("grafana:oss/dashboard:Dashboard");
    expect(dashboards.map((d) => JSON.parse(d.inputs.configJson).uid).sort()).toEqual(["apex-cost", "apex-errors", "apex-overview", "apex-performance"]);
    for (const d of dashboards) expect(d.inputs.folder).toBe("apex");
  });

  it("signs in to the deployed Grafana through OIDC from config, the client secret from the secret map", async () => {
    const oidc = {
      authUrl: "http://127.0.0.1:8081/realms/apex/protocol/openid-connect/auth",
      tokenUrl: "http://127.0.0.1:8081/realms/apex/protocol/openid-connect/token",
      apiUrl: "http://127.0.0.1:8081/realms/apex/protocol/openid-connect/userinfo",
      clientId: "grafana",
      roleAttributePath: "'Viewer'",
    };
    const withOidc = await runStack({ stack: "dev", config: { observability: { grafana: { oidc } } }, secrets: { grafanaOidcClientSecret: "oidc-KNOWN-client-secret" } });
    const gf = withOidc.one("docker:index/container:Container", (c) => c.inputs.name === `${PREFIX}-grafana`);
    const env = envOf(gf);
    expect(env).toMatchObject({ GF_AUTH_GENERIC_OAUTH_ENABLED: "true", GF_AUTH_GENERIC_OAUTH_NAME: "SSO", GF_AUTH_GENERIC_OAUTH_TOKEN_URL: oidc.tokenUrl, GF_AUTH_GENERIC_OAUTH_SCOPES: "openid profile email", GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET: "oidc-KNOWN-client-secret", GF_SERVER_ROOT_URL: "http://127.0.0.1:3001" });
    expect(JSON.stringify(withOidc.resources.map((r) => r.plainInputs))).not.toContain("oidc-KNOWN-client-secret");
  });

  it("rejects bad observability config naming the key", async () => {
    await expect(runStack({ stack: "dev", config: { observability: { hosts: { grafana: "grafana.example.com" } } } })).rejects.toThrow(/apex:observability\.hosts\.grafana/);
    await expect(runStack({ stack: "dev", config: { observability: { scrapeInterval: "15 seconds" } } })).rejects.toThrow(/apex:observability\.scrapeInterval.*Prometheus duration/);
    await expect(runStack({ stack: "dev", config: { observability: { grafana: { deploy: false } } } })).rejects.toThrow(/apex:observability\.grafana\.url/);
    const oidc = { authUrl: "https://idp.example.com/auth", tokenUrl: "https://idp.example.com/token", apiUrl: "https://idp.example.com/userinfo", clientId: "grafana", roleAttributePath: "'Viewer'" };
    await expect(runStack({ stack: "dev", config: { observability: { grafana: { oidc } } } })).rejects.toThrow(/apex:grafanaOidcClientSecret: required when apex:observability\.grafana\.oidc is set/);
    await expect(runStack({ stack: "dev", config: { observability: { grafana: { oidc: { ...oidc, tokenUrl: "http://idp.example.com/token" } } } }, secrets: { grafanaOidcClientSecret: "x" } })).rejects.toThrow(/apex:observability\.grafana\.oidc\.tokenUrl.*https/);
    await expect(runStack({ stack: "dev", config: { observability: { grafana: { oidc: { ...oidc, allowedGroups: ["ops"] } } } }, secrets: { grafanaOidcClientSecret: "x" } })).rejects.toThrow(/apex:observability\.grafana\.oidc\.groupsAttributePath/);
    await expect(runStack({ stack: "dev", secrets: { grafanaOidcClientSecret: "x" } })).rejects.toThrow(/apex:grafanaOidcClientSecret: only used with apex:observability\.grafana\.oidc/);
  });
});
