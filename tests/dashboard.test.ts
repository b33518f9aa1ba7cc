/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * apex-dashboard in the program: the console image and service on both targets, its flows, its
 * Ingress route, its outputs, the API's link templates, and the config rules of apex:dashboard
 * and apex:ingress.consoleHost.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { runtimeEnv, services } from "../app/src/contract";
import { browserUiUrls, consoleLinkEnv, consoleLinkTemplates, dagLogQuery, LOGS_LINK_RANGE } from "../components/dashboard";
import { datasourceUids } from "../components/observability/grafana-datasources";
import { MOCK_AWS, PROD_IMAGE_TAG, runStack, type RecordedResource, type StackRun } from "./harness";
import { NetworkPolicyEvaluator, type Endpoint } from "./harness/network-policy";

const NS = "apex";
const CONSOLE_HOST = "console.apex.example.com";
const ECR_HOST = `${MOCK_AWS.accountId}.dkr.ecr.${MOCK_AWS.region}.amazonaws.com`;
const DAG_ID = "0f8fad5b-d9cb-469f-a165-70867728950e";
const { dashboard, api } = services;

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const CONTAINER = "docker:index/container:Container";
const IMAGE = "docker:index/image:Image";
const workload = (run: StackRun, name: string): RecordedResource => run.one(DEPLOYMENT, (r) => r.inputs.metadata.name === name);
const podSpec = (w: RecordedResource): any => w.inputs.spec.template.spec;
const envOf = (w: RecordedResource): Record<string, string> =>
  Object.fromEntries((podSpec(w).containers[0].env ?? []).filter((e: any) => "value" in e).map((e: any) => [e.name, e.value]));
const dockerEnvOf = (c: RecordedResource): Record<string, string> =>
  Object.fromEntries((c.inputs.envs as string[]).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
/** The problems of a run that stopped on its config, as "key: message" lines. */
const configProblems = async (options: Parameters<typeof runStack>[0]): Promise<string[]> => {
  const error: any = await runStack(options).then(() => undefined, (e: unknown) => e);
  expect(error?.problems, "the run was expected to stop on its config").toBeDefined();
  return error.problems.map((p: { key: string; message: string }) => `${p.key}: ${p.message}`);
};
/** What the console does with a logs template: fill {dag_id} URL-encoded, then open it. */
const openLogsLink = (template: string, dagId: string): URL => new URL(template.replaceAll("{dag_id}", encodeURIComponent(dagId)));

describe("dev stack (docker): apex-dashboard", () => {
  let run: StackRun;
  beforeAll(async () => {
    run = await runStack({ stack: "dev" });
  });

  it("builds the console image from console/Dockerfile (repository root as context) beside the runtime image, not pushed", () => {
    const image = run.one(IMAGE, (r) => r.inputs.build?.dockerfile === "console/Dockerfile");
    expect(image.inputs).toMatchObject({ imageName: "apex/apex-dashboard:dev", skipPush: true, build: { context: ".", builderVersion: "BuilderBuildKit" } });
    expect(run.outputs.dashboardImage).toBe("apex/apex-dashboard:dev");
  });

  it("runs one container published on 127.0.0.1:3000, as nginx's uid 101, read-only root, tmpfs for nginx's temp files and rendered config", () => {
    const c = run.one(CONTAINER, (r) => r.inputs.name === `apex-dev-${dashboard.name}`);
    expect(c.inputs.image).toBe("apex/apex-dashboard:dev");
    expect(c.inputs.ports).toEqual([{ internal: 3000, external: 3000, ip: "127.0.0.1", protocol: "tcp" }]);
    expect(c.inputs.user).toBe("101:101");
    expect(c.inputs.readOnly).toBe(true);
    expect(c.inputs.capabilities).toEqual({ drops: ["ALL"] });
    expect(Object.keys(c.inputs.tmpfs).sort()).toEqual(["/etc/nginx/conf.d", "/tmp"]);
    expect(dockerEnvOf(c)).toEqual({ APEX_DASHBOARD_PORT: "3000", APEX_API_UPSTREAM: `${api.name}:${api.httpPort}` });
    expect(c.inputs.healthcheck.tests).toEqual(["CMD", "wget", "-q", "--spider", "http://127.0.0.1:3000/healthz"]);
    expect(c.inputs.networksAdvanced[0].aliases).toEqual([dashboard.name]);
    // Start order: after the API's container is healthy.
    const apiContainer = run.one(CONTAINER, (r) => r.inputs.name === `apex-dev-${api.name}`);
    expect(run.dependenciesOf(c)).toContain(apiContainer);
  });

  it("outputs dashboardUrl http://localhost:3000", () => {
    expect(run.outputs.dashboardUrl).toBe("http://localhost:3000");
  });

  it("gives apex-api the console's links: Jaeger's trace page and a Grafana Explore of the DAG's logs, where the stack publishes them", () => {
    const env = dockerEnvOf(run.one(CONTAINER, (r) => r.inputs.name === `apex-dev-${api.name}`));
    expect(env[runtimeEnv.traceUrlTemplate]).toBe(`${run.outputs.jaegerUrl}/trace/{trace_id}`);
    expect(env[runtimeEnv.traceUrlTemplate]).toBe("http://127.0.0.1:16686/trace/{trace_id}");
    const logs = env[runtimeEnv.logsUrlTemplate] ?? "";
    expect(logs.startsWith(`${run.outputs.grafanaUrl}/explore?orgId=1&left=`)).toBe(true);
    const url = openLogsLink(logs, DAG_ID);
    expect(url.origin).toBe(`http://127.0.0.1:${services.grafana.devHostPort}`);
    expect(JSON.parse(url.searchParams.get("left") ?? "")).toEqual({
      datasource: datasourceUids.loki,
      queries: [{ refId: "A", datasource: { type: "loki", uid: datasourceUids.loki }, expr: `{service_name=~"apex-api|apex-worker"} |= \`"dag_id":"${DAG_ID}"\` | json`, queryType: "range" }],
      range: { from: LOGS_LINK_RANGE, to: "now" },
    });
  });
});

describe("prod stack (kubernetes): apex-dashboard", () => {
  let run: StackRun;
  beforeAll(async () => {
    run = await runStack({ stack: "prod" });
  });

  it("pushes the console image to its own protected ECR repository, tagged with the commit, and runs it by digest", () => {
    const repo = run.one("aws:ecr/repository:Repository", (r) => r.inputs.name === "apex/apex-dashboard");
    expect(repo.inputs).toMatchObject({ imageTagMutability: "IMMUTABLE", imageScanningConfiguration: { scanOnPush: true }, forceDelete: false });
    expect([repo.protect, repo.retainOnDelete]).toEqual([true, true]);
    const image = run.one(IMAGE, (r) => r.inputs.build?.dockerfile === "console/Dockerfile");
    expect(image.inputs.imageName).toBe(`${ECR_HOST}/apex/apex-dashboard:${PROD_IMAGE_TAG}`);
    expect(image.inputs.skipPush).toBe(false);
    expect(image.plainInputs.registry).toBe("[secret]");
    expect(image.inputs.build.platform).toBe("linux/amd64");
    expect(podSpec(workload(run, dashboard.name)).containers[0].image).toMatch(new RegExp(`^${ECR_HOST}/apex/apex-dashboard@sha256:[a-f0-9]{64}$`));
    expect(run.outputs.dashboardImage).toBe(podSpec(workload(run, dashboard.name)).containers[0].image);
  });

  it("deploys 2 replicas on 3000: non-root 101, read-only root, emptyDirs, probes on nginx's own /healthz, modest resources, PDB", () => {
    const w = workload(run, dashboard.name);
    expect(w.inputs.spec.replicas).toBe(2);
    expect(w.inputs.metadata.labels["app.kubernetes.io/component"]).toBe("console");
    const pod = podSpec(w);
    const c = pod.containers[0];
    expect(c.ports).toEqual([expect.objectContaining({ name: "http", containerPort: 3000 })]);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 101, runAsGroup: 101 });
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    const mounts = Object.fromEntries(c.volumeMounts.map((m: any) => [m.mountPath, m.name]));
    expect(Object.keys(mounts).sort()).toEqual(["/etc/nginx/conf.d", "/tmp"]);
    for (const name of Object.values(mounts)) expect(pod.volumes.find((v: any) => v.name === name).emptyDir).toBeDefined();
    for (const probe of [c.readinessProbe, c.livenessProbe]) expect(probe.httpGet).toMatchObject({ path: "/healthz", port: 3000 });
    expect(c.resources).toEqual({ requests: { cpu: "50m", memory: "32Mi" }, limits: { cpu: "500m", memory: "128Mi" } });
    expect(pod.automountServiceAccountToken).toBe(false);
    run.one("kubernetes:policy/v1:PodDisruptionBudget", (r) => r.inputs.metadata.name === dashboard.name);
    const svc = run.one("kubernetes:core/v1:Service", (r) => r.inputs.metadata.name === dashboard.name);
    expect(svc.inputs.spec.type ?? "ClusterIP").toBe("ClusterIP");
    expect(svc.inputs.spec.ports).toEqual([expect.objectContaining({ name: "http", port: 3000, targetPort: "http" })]);
  });

  it("proxies /v1 to the API Service by its full name (nginx's resolver applies no search list)", () => {
    expect(envOf(workload(run, dashboard.name))).toEqual({ APEX_DASHBOARD_PORT: "3000", APEX_API_UPSTREAM: `${api.name}.${NS}.svc.cluster.local:${api.httpPort}` });
  });

  it("routes apex:ingress.consoleHost to apex-dashboard:3000 on the open HTTP Ingress, with TLS", () => {
    const ingress = run.one("kubernetes:networking.k8s.io/v1:Ingress", (r) => r.inputs.metadata.name === "apex");
    const rule = ingress.inputs.spec.rules.find((r: any) => r.host === CONSOLE_HOST);
    expect(rule.http.paths).toEqual([{ path: "/", pathType: "Prefix", backend: { service: { name: dashboard.name, port: { number: 3000 } } } }]);
    expect(ingress.inputs.spec.tls[0].hosts).toContain(CONSOLE_HOST);
    expect(run.outputs.dashboardUrl).toBe(`https://${CONSOLE_HOST}`);
  });

  it("lets the console reach the API's HTTP port only, and the ingress controller reach the console", () => {
    const ev = new NetworkPolicyEvaluator(run.resources);
    const pod = (name: string): Endpoint => ({ id: name, namespace: NS, labels: { "app.kubernetes.io/name": name } });
    const controller: Endpoint = { id: "ingress-controller", namespace: "ingress-nginx", labels: {} };
    const stranger: Endpoint = { id: "stranger", namespace: "elsewhere", labels: {} };
    const console_ = pod(dashboard.name);
    expect(ev.allows(console_, pod(api.name), api.httpPort, "TCP")).toBe(true);
    expect(ev.allows(console_, pod(api.name), api.grpcPort, "TCP")).toBe(false);
    expect(ev.allows(console_, pod(services.worker.name), services.worker.metricsPort, "TCP")).toBe(false);
    expect(ev.allows(console_, { id: "internet", ip: "93.184.216.34" }, 443, "TCP")).toBe(false);
    expect(ev.allows(controller, console_, dashboard.port, "TCP")).toBe(true);
    expect(ev.allows(stranger, console_, dashboard.port, "TCP")).toBe(false);
    expect(ev.allows(pod(services.worker.name), console_, dashboard.port, "TCP")).toBe(false);
    const policies = run.ofType("kubernetes:networking.k8s.io/v1:NetworkPolicy").map((r) => r.inputs.metadata.name);
    expect(policies).toEqual(expect.arrayContaining(["dashboard-to-api-egress", "dashboard-to-api-ingress", "ingress-to-apex-dashboard-ingress"]));
  });

  it("gives apex-api the console's links on the UI hosts (https: the Ingress terminates TLS)", () => {
    const env = envOf(workload(run, api.name));
    expect(env[runtimeEnv.traceUrlTemplate]).toBe("https://jaeger.apex.example.com/trace/{trace_id}");
    const url = openLogsLink(env[runtimeEnv.logsUrlTemplate] ?? "", DAG_ID);
    expect(`${url.origin}${url.pathname}`).toBe("https://grafana.apex.example.com/explore");
    expect(JSON.parse(url.searchParams.get("left") ?? "").queries[0].expr).toBe(dagLogQuery(DAG_ID));
  });
});

describe("prod variants", () => {
  it("without UI hosts the API hands out no links (an in-cluster address is no link for a browser)", async () => {
    const run = await runStack({ stack: "prod", config: { observability: { hosts: { grafana: undefined, jaeger: undefined }, grafana: { oidc: undefined } }, grafanaOidcClientSecret: undefined } });
    const env = envOf(workload(run, api.name));
    expect(env[runtimeEnv.traceUrlTemplate]).toBeUndefined();
    expect(env[runtimeEnv.logsUrlTemplate]).toBeUndefined();
  });

  it("apex:dashboard.enabled false: no console image, repository, workload, route or output; the API keeps its links", async () => {
    const run = await runStack({ stack: "prod", config: { dashboard: { enabled: false }, ingress: { consoleHost: undefined } } });
    expect(run.resources.filter((r) => JSON.stringify(r.inputs).includes(dashboard.name)).map((r) => r.name)).toEqual([]);
    expect(run.outputs.dashboardUrl).toBeUndefined();
    expect(envOf(workload(run, api.name))[runtimeEnv.traceUrlTemplate]).toBeDefined();
  });
});

describe("config: apex:dashboard and apex:ingress.consoleHost", () => {
  it("requires consoleHost on kubernetes while the console is on", async () => {
    expect(await configProblems({ stack: "prod", config: { ingress: { consoleHost: undefined } } })).toEqual([
      'apex:ingress.consoleHost: required when apex:target is "kubernetes" and apex:dashboard.enabled is true: expected a DNS host name for the console, got nothing',
    ]);
  });

  it("refuses a consoleHost shared with another route", async () => {
    expect(await configProblems({ stack: "prod", config: { ingress: { consoleHost: "api.apex.example.com" } } })).toEqual([
      'apex:ingress.consoleHost: expected a host of its own, different from apex:ingress.host (one host routes to one service), got "api.apex.example.com"',
    ]);
    expect(await configProblems({ stack: "prod", config: { ingress: { consoleHost: "grpc.apex.example.com" } } })).toEqual([
      'apex:ingress.consoleHost: expected a host of its own, different from apex:ingress.grpcHost (one host routes to one service), got "grpc.apex.example.com"',
    ]);
    expect(await configProblems({ stack: "prod", config: { ingress: { consoleHost: "grafana.apex.example.com" } } })).toEqual([
      'apex:ingress.consoleHost: expected a host of its own, different from apex:observability.hosts.grafana (one host routes to one service), got "grafana.apex.example.com"',
    ]);
  });

  it("refuses what would do nothing: a consoleHost on docker or with the console off, several replicas on docker", async () => {
    expect(await configProblems({ stack: "dev", config: { ingress: { consoleHost: CONSOLE_HOST }, dashboard: { replicas: 2 } } })).toEqual([
      `apex:ingress.consoleHost: only used when apex:target is "kubernetes" (docker publishes the console on localhost:3000), got "${CONSOLE_HOST}"`,
      'apex:dashboard.replicas: expected 1 on target "docker" (one container publishes 127.0.0.1:3000), got 2',
    ]);
    expect(await configProblems({ stack: "prod", config: { dashboard: { enabled: false } } })).toEqual([
      `apex:ingress.consoleHost: only used when apex:dashboard.enabled is true, got "${CONSOLE_HOST}"`,
    ]);
  });

  it("names the field of a bad value", async () => {
    expect(await configProblems({ stack: "dev", config: { dashboard: { enabled: "yes" } } })).toEqual(['apex:dashboard.enabled: expected true or false, got "yes"']);
  });
});

describe("the console's link templates", () => {
  it("are absent for a UI without an address", () => {
    expect(consoleLinkTemplates({})).toEqual({});
    expect(consoleLinkEnv({ jaegerUrl: "https://jaeger.example.com/" })).toEqual({ [runtimeEnv.traceUrlTemplate]: "https://jaeger.example.com/trace/{trace_id}" });
  });

  it("leave exactly one {dag_id} to fill and nothing else unencoded", () => {
    const { logsUrlTemplate } = consoleLinkTemplates({ grafanaUrl: "https://grafana.example.com/" });
    expect(logsUrlTemplate?.match(/\{[a-z_]+\}/g)).toEqual(["{dag_id}"]);
    expect(logsUrlTemplate?.startsWith("https://grafana.example.com/explore?orgId=1&left=%7B")).toBe(true);
    // Characters that mean something in a URL survive the console's encoding into the query
    // (ids are UUIDs; a `"` would also need JSON escaping, which no id needs).
    const odd = "dag 1&x=y#z";
    expect(JSON.parse(openLogsLink(logsUrlTemplate ?? "", odd).searchParams.get("left") ?? "").queries[0].expr).toBe(dagLogQuery(odd));
  });

  it("come from where the stack puts the UIs: published on docker, Ingress hosts or Grafana's configured URL on kubernetes", () => {
    const base = {
      docker: { publishAddress: "127.0.0.1", socketGid: 0 },
      ingress: { className: "nginx", controllerNamespace: "ingress-nginx" },
      observability: { hosts: { jaeger: "jaeger.example.com", grafana: "grafana.example.com" }, grafana: { deploy: true, folder: "Apex" } },
    } as any;
    expect(browserUiUrls({ ...base, target: "docker", observability: { hosts: {}, grafana: { deploy: true } } })).toEqual({ jaegerUrl: "http://127.0.0.1:16686", grafanaUrl: "http://127.0.0.1:3001" });
    expect(browserUiUrls({ ...base, target: "kubernetes" })).toEqual({ jaegerUrl: "http://jaeger.example.com", grafanaUrl: "http://grafana.example.com" });
    expect(browserUiUrls({ ...base, target: "kubernetes", ingress: { ...base.ingress, tls: { secretName: "t" } } }).jaegerUrl).toBe("https://jaeger.example.com");
    const external = { ...base.observability, grafana: { deploy: false, url: "https://grafana.corp.example.com", folder: "Apex" } };
    expect(browserUiUrls({ ...base, target: "kubernetes", observability: external }).grafanaUrl).toBe("https://grafana.corp.example.com");
    expect(browserUiUrls({ ...base, target: "kubernetes", observability: { ...base.observability, hosts: {} } })).toEqual({ jaegerUrl: undefined, grafanaUrl: undefined });
  });
});
