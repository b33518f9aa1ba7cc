/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Pod health on Kubernetes (kube-state-metrics, its RBAC, scrape job and flows), PVC usage (the
 * opt-in kubelet volume stats: off by default, its cluster-wide grant when on) and trace storage
 * (Jaeger + Badger on a volume) on both stacks, under Pulumi mocks.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { services } from "../app/src/contract";
import { jaegerBadgerPaths, jaegerSpec, jaegerStorageDefaults } from "../components/observability/jaeger";
import { kubeStateMetricsImage, kubeStateMetricsSpec } from "../components/observability/kube-state-metrics";
import { kubeletAccessName, kubeletVolumeStatsOffWarning } from "../components/observability/kubelet-volume-stats";
import { apexScrapeJobNames, kubeletJobName, kubeletScrapeJob, serviceAccountFiles } from "../components/observability/scrape-jobs";
import { evaluatePolicies } from "../policy/lib/evaluate";
import { apexPolicies } from "../policy/policies";
import { runStack, type RecordedResource, type StackRun } from "./harness";
import { validateKubernetesObject } from "./harness/kubernetes-schema";
import { NetworkPolicyEvaluator, type Endpoint } from "./harness/network-policy";

const NS = "apex";
const KSM = services.kubeStateMetrics;
let prod: StackRun;
let dev: StackRun;
/** prod with apex:observability.kubeletVolumeStats on (and the node CIDRs it needs). */
let kubelet: StackRun;
const NODE_CIDRS = ["10.0.0.0/16"];
const kubeletConfig = { observability: { kubeletVolumeStats: true, nodeCidrs: NODE_CIDRS } };
/** What each run logged with pulumi.log.warn. */
const warned: Record<"prod" | "kubelet", string[]> = { prod: [], kubelet: [] };
async function recordingWarnings(into: string[], run: () => Promise<StackRun>): Promise<StackRun> {
  const warn = vi.spyOn(pulumi.log, "warn").mockImplementation(async (message: string) => { into.push(message); });
  try {
    return await run();
  } finally {
    warn.mockRestore();
  }
}
beforeAll(async () => {
  prod = await recordingWarnings(warned.prod, () => runStack({ stack: "prod" }));
  dev = await runStack({ stack: "dev" });
  kubelet = await recordingWarnings(warned.kubelet, () => runStack({ stack: "prod", config: kubeletConfig }));
});

const named = (run: StackRun, type: string, name: string): RecordedResource[] =>
  run.ofType(type).filter((r) => r.inputs.metadata?.name === name);
const workload = (name: string): RecordedResource => {
  const hits = [...named(prod, "kubernetes:apps/v1:Deployment", name), ...named(prod, "kubernetes:apps/v1:StatefulSet", name)];
  if (hits.length !== 1) throw new Error(`expected one workload ${name}, found ${hits.length}`);
  return hits[0]!;
};
const container = (w: RecordedResource): any => w.inputs.spec.template.spec.containers[0];
const envOf = (c: any): Record<string, string> => Object.fromEntries((c.env as any[]).filter((e) => "value" in e).map((e) => [e.name, e.value]));
const prometheusConfigMap = (run: StackRun): RecordedResource => run.one("kubernetes:core/v1:ConfigMap", (r) => r.inputs.metadata.name === "prometheus-config");
const prometheusYamlOf = (run: StackRun): string => prometheusConfigMap(run).inputs.data["config.prometheus.yml"];
const prodPrometheusYaml = (): string => prometheusYamlOf(prod);
const rulesOf = (run: StackRun): any[] => parse(prometheusConfigMap(run).inputs.data["rules.apex-alerts.yml"]).groups.flatMap((g: any) => g.rules);
const CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole";
const CLUSTER_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding";
/** ClusterRoleBindings of the monitoring stack (the secrets operator's TokenReview grant is tests/security-rbac.test.ts's). */
const monitoringBindings = (run: StackRun) => run.ofType(CLUSTER_ROLE_BINDING).filter((b) => b.inputs.roleRef.name !== "system:auth-delegator");

describe("kube-state-metrics (prod, kubernetes)", () => {
  it("watches only the stack namespace and the resources the pod alerts read, with a pinned v2 image", () => {
    const d = workload(KSM.name);
    expect(d.type).toBe("kubernetes:apps/v1:Deployment");
    expect(d.inputs.metadata.namespace).toBe(NS);
    const c = container(d);
    expect(c.image).toBe(kubeStateMetricsImage);
    expect(c.image).toMatch(/^registry\.k8s\.io\/kube-state-metrics\/kube-state-metrics:v2\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
    expect(c.args).toEqual([`--namespaces=${NS}`, "--resources=pods,persistentvolumeclaims,horizontalpodautoscalers", `--port=${KSM.port}`, `--telemetry-port=${KSM.telemetryPort}`]);
    expect(c.ports.map((p: any) => p.containerPort)).toEqual([KSM.port, KSM.telemetryPort]);
  });

  it("runs non-root on a read-only root with its API token mounted, probes and bounded resources", () => {
    const pod = workload(KSM.name).inputs.spec.template.spec;
    const c = pod.containers[0];
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(pod.serviceAccountName).toBe(KSM.name);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534 });
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, privileged: false,
      capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" },
    });
    expect(c.resources).toEqual({ requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "100m", memory: "128Mi" } });
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: KSM.telemetryPort });
    expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: KSM.port });
    expect(envOf(c).GOMEMLIMIT).toBe("115MiB");
    const sa = named(prod, "kubernetes:core/v1:ServiceAccount", KSM.name);
    expect(sa.map((s) => s.inputs.automountServiceAccountToken)).toEqual([true]);
  });

  it("may only list and watch pods, PVCs and HPAs in the stack namespace (a Role, no ClusterRole)", () => {
    const role = prod.one("kubernetes:rbac.authorization.k8s.io/v1:Role", (r) => r.inputs.metadata.name === KSM.name);
    expect(role.inputs.metadata.namespace).toBe(NS);
    expect(role.inputs.rules).toEqual([
      { apiGroups: [""], resources: ["pods", "persistentvolumeclaims"], verbs: ["list", "watch"] },
      { apiGroups: ["autoscaling"], resources: ["horizontalpodautoscalers"], verbs: ["list", "watch"] },
    ]);
    const binding = prod.one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", (r) => r.inputs.metadata.name === KSM.name);
    expect(binding.inputs).toMatchObject({
      metadata: { namespace: NS },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: KSM.name },
      subjects: [{ kind: "ServiceAccount", name: KSM.name, namespace: NS }],
    });
    const clusterWide = [...prod.ofType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"), ...prod.ofType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")];
    expect(clusterWide.filter((r) => JSON.stringify(r.inputs).includes(KSM.name))).toEqual([]);
  });

  it("its objects are valid Kubernetes objects", () => {
    const mine = prod.resources.filter((r) => r.type.startsWith("kubernetes:") && !r.type.endsWith("Patch") && r.inputs.metadata?.name === KSM.name);
    expect(new Set(mine.map((r) => r.type.split(":").pop()))).toEqual(new Set(["ServiceAccount", "Service", "Deployment", "PodDisruptionBudget", "Role", "RoleBinding"]));
    for (const r of mine) validateKubernetesObject(r);
  });

  it("is scraped by Service name, and ApexTargetDown's job list for kubernetes includes it", () => {
    const config = parse(prodPrometheusYaml());
    const job = config.scrape_configs.find((j: any) => j.job_name === KSM.name);
    expect(job).toEqual({ job_name: KSM.name, metrics_path: "/metrics", static_configs: [{ targets: [`${KSM.name}.${NS}.svc:${KSM.port}`] }] });
    const svc = prod.one("kubernetes:core/v1:Service", (r) => r.inputs.metadata.name === KSM.name);
    expect(svc.inputs.spec.ports.find((p: any) => p.port === KSM.port)).toMatchObject({ name: "http-metrics", targetPort: "http-metrics" });
    expect(svc.inputs.spec.selector["app.kubernetes.io/name"]).toBe(KSM.name);
    expect(apexScrapeJobNames("kubernetes")).toContain(KSM.name);
    expect(apexScrapeJobNames("docker")).not.toContain(KSM.name);
    expect(apexScrapeJobNames()).toEqual(apexScrapeJobNames("docker"));
  });

  it("opens Prometheus -> kube-state-metrics and kube-state-metrics -> the API server, nothing more", () => {
    const pod = (id: string, name: string): Endpoint => ({ id, namespace: NS, labels: { "app.kubernetes.io/name": name } });
    const ev = new NetworkPolicyEvaluator(prod.resources);
    const ksm = pod("ksm", KSM.name);
    const prometheus = pod("prometheus", services.prometheus.name);
    const apiServer = { id: "kube-apiserver", ip: "10.0.0.1" };
    expect(ev.allows(prometheus, ksm, KSM.port, "TCP")).toBe(true);
    expect(ev.allows(ksm, apiServer, 443, "TCP")).toBe(true);
    expect(ev.allows(prometheus, ksm, KSM.telemetryPort, "TCP")).toBe(false);
    expect(ev.allows(pod("grafana", services.grafana.name), ksm, KSM.port, "TCP")).toBe(false);
    expect(ev.allows(pod("stranger", "stranger"), ksm, KSM.port, "TCP")).toBe(false);
    expect(ev.allows(ksm, pod("pg", services.postgres.name), services.postgres.port, "TCP")).toBe(false);
    expect(ev.allows(ksm, { id: "internet", ip: "52.1.2.3" }, 443, "TCP")).toBe(false);
  });

  it("the deployed prometheus.yml passes promtool check config", () => {
    const promtool = spawnSync("promtool", ["--version"]).status === 0;
    if (!promtool && process.env.CI !== "true") return void console.warn("promtool not found: skipped");
    const dir = mkdtempSync(join(tmpdir(), "apex-kube-promtool-"));
    try {
      const file = join(dir, "prometheus.yml");
      writeFileSync(file, prodPrometheusYaml());
      const r = spawnSync("promtool", ["check", "config", file], { encoding: "utf8" });
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toContain("SUCCESS");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a namespace that is not a DNS label, naming the field", () => {
    expect(() => kubeStateMetricsSpec({ image: kubeStateMetricsImage, namespace: "Apex Prod" })).toThrow(/kube-state-metrics: namespace: expected a DNS label.*got "Apex Prod"/);
  });
});

describe("PVC usage: off by default (prod, kubernetes)", () => {
  it("binds nothing cluster-wide for monitoring, mounts no token into Prometheus, scrapes no kubelet", () => {
    expect(monitoringBindings(prod)).toEqual([]);
    expect(prod.ofType(CLUSTER_ROLE).filter((r) => JSON.stringify(r.inputs).includes("nodes"))).toEqual([]);
    const pod = workload(services.prometheus.name).inputs.spec.template.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(parse(prodPrometheusYaml()).scrape_configs.map((j: any) => j.job_name)).not.toContain(kubeletJobName);
    expect(prodPrometheusYaml()).not.toContain("kubernetes_sd_configs");
  });

  it("does not render ApexPvcFillingUp, and ApexTargetDown does not watch a kubelet job", () => {
    const rules = rulesOf(prod);
    expect(rules.map((r) => r.alert)).not.toContain("ApexPvcFillingUp");
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining(["ApexPodOOMKilled", "ApexPodCrashLooping", "ApexHpaAtMaxReplicas"]));
    expect(rules.find((r) => r.alert === "ApexTargetDown").expr).not.toContain(kubeletJobName);
  });

  it("warns once at preview, naming the key and what turning it on grants", () => {
    const mine = warned.prod.filter((w) => w.includes("apex:observability.kubeletVolumeStats"));
    expect(mine).toEqual([kubeletVolumeStatsOffWarning]);
    expect(mine[0]).toMatch(/ApexPvcFillingUp is not rendered/);
    expect(mine[0]).toMatch(/get on nodes\/metrics and get\/list\/watch on nodes \(a ClusterRole and ClusterRoleBinding/);
    expect(warned.kubelet.filter((w) => w.includes("kubeletVolumeStats"))).toEqual([]);
  });

  it("opens no flow to the nodes' kubelets", () => {
    const ev = new NetworkPolicyEvaluator(prod.resources);
    const prometheus: Endpoint = { id: "prometheus", namespace: NS, labels: { "app.kubernetes.io/name": services.prometheus.name } };
    expect(ev.allows(prometheus, { id: "node", ip: "10.0.12.34" }, 10250, "TCP")).toBe(false);
  });
});

describe("PVC usage: apex:observability.kubeletVolumeStats true (prod, kubernetes)", () => {
  const name = kubeletAccessName({ namespaceName: NS, stack: "prod" });

  it("a ClusterRole with exactly get on nodes/metrics and get/list/watch on nodes", () => {
    expect(name).toBe("apex-prod-prometheus-kubelet");
    const roles = kubelet.ofType(CLUSTER_ROLE).filter((r) => r.inputs.metadata.name === name);
    expect(roles).toHaveLength(1);
    expect(roles[0]!.inputs.rules).toEqual([
      { apiGroups: [""], resources: ["nodes/metrics"], verbs: ["get"] },
      { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
    ]);
    validateKubernetesObject(roles[0]!);
  });

  it("monitoring's only ClusterRoleBinding: that role, to the prometheus ServiceAccount of the stack namespace", () => {
    const bindings = monitoringBindings(kubelet);
    expect(bindings).toHaveLength(1);
    expect(bindings[0]!.inputs).toMatchObject({ metadata: { name } });
    expect(bindings[0]!.inputs.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name });
    expect(bindings[0]!.inputs.subjects).toEqual([{ kind: "ServiceAccount", name: services.prometheus.name, namespace: NS }]);
    validateKubernetesObject(bindings[0]!);
    // The subject exists: the ServiceAccount the Prometheus pods run as.
    const sa = kubelet.one("kubernetes:core/v1:ServiceAccount", (r) => r.inputs.metadata.name === services.prometheus.name);
    expect(sa.inputs.metadata.namespace).toBe(NS);
    expect(sa.inputs.automountServiceAccountToken).toBe(true);
  });

  it("mounts the token into Prometheus only, and starts Prometheus after the binding", () => {
    const prometheus = kubelet.one("kubernetes:apps/v1:StatefulSet", (r) => r.inputs.metadata.name === services.prometheus.name);
    expect(prometheus.inputs.spec.template.spec).toMatchObject({ serviceAccountName: services.prometheus.name, automountServiceAccountToken: true });
    const binding = kubelet.one(CLUSTER_ROLE_BINDING, (r) => r.inputs.roleRef.name === name);
    const waitsFor = (r: RecordedResource, on: RecordedResource, seen = new Set<string>()): boolean =>
      kubelet.dependenciesOf(r).some((d) => d.urn === on.urn || (!seen.has(d.urn) && (seen.add(d.urn), waitsFor(d, on, seen))));
    const parentOf = (r: RecordedResource) => kubelet.resources.find((x) => x.urn === r.parentUrn)!;
    expect(waitsFor(parentOf(prometheus), binding), "the prometheus service component waits for the ClusterRoleBinding").toBe(true);
    const mounted = [...kubelet.ofType("kubernetes:apps/v1:Deployment"), ...kubelet.ofType("kubernetes:apps/v1:StatefulSet")]
      .filter((w) => w.inputs.spec.template.spec.automountServiceAccountToken === true).map((w) => w.inputs.metadata.name).sort();
    const before = [...prod.ofType("kubernetes:apps/v1:Deployment"), ...prod.ofType("kubernetes:apps/v1:StatefulSet")]
      .filter((w) => w.inputs.spec.template.spec.automountServiceAccountToken === true).map((w) => w.inputs.metadata.name);
    expect(mounted).toEqual([...before, services.prometheus.name].sort());
  });

  it("scrapes every node's kubelet on 10250 over https with the token and the cluster CA, keeping only the namespace's volume stats", () => {
    const job = parse(prometheusYamlOf(kubelet)).scrape_configs.find((j: any) => j.job_name === kubeletJobName);
    expect(job).toEqual({
      job_name: kubeletJobName,
      metrics_path: "/metrics",
      scheme: "https",
      authorization: { type: "Bearer", credentials_file: serviceAccountFiles.token },
      tls_config: { ca_file: serviceAccountFiles.ca },
      kubernetes_sd_configs: [{ role: "node" }],
      relabel_configs: [{ source_labels: ["__meta_kubernetes_node_address_InternalIP"], regex: "(.+)", target_label: "__address__", replacement: "${1}:10250", action: "replace" }],
      metric_relabel_configs: [{
        source_labels: ["__name__", "namespace"],
        regex: `(kubelet_volume_stats_used_bytes|kubelet_volume_stats_capacity_bytes|kubelet_volume_stats_available_bytes);${NS}`,
        action: "keep",
      }],
    });
    expect(serviceAccountFiles).toEqual({ token: "/var/run/secrets/kubernetes.io/serviceaccount/token", ca: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt" });
    // The keep rule as Prometheus applies it: anchored, on "<__name__>;<namespace>".
    const keep = new RegExp(`^(?:${job.metric_relabel_configs[0].regex})$`);
    for (const kept of ["used", "capacity", "available"]) expect(keep.test(`kubelet_volume_stats_${kept}_bytes;${NS}`), kept).toBe(true);
    for (const dropped of [
      `kubelet_volume_stats_used_bytes;${NS}-sandbox`, "kubelet_volume_stats_used_bytes;kube-system", "kubelet_volume_stats_used_bytes;",
      `kubelet_volume_stats_inodes_used;${NS}`, `kubelet_running_pods;${NS}`, `apiserver_request_total;${NS}`,
    ]) expect(keep.test(dropped), dropped).toBe(false);
    // The in-cluster Kubernetes mount points, as the scrape job reads them.
    expect(kubeletScrapeJob(NS).bearerTokenFile).toBe(serviceAccountFiles.token);
    expect(() => kubeletScrapeJob("Apex Prod")).toThrow(/kubelet scrape job: namespace: expected a DNS label.*got "Apex Prod"/);
  });

  it("renders ApexPvcFillingUp over the namespace's volumes, and ApexTargetDown watches the kubelet job", () => {
    const rules = rulesOf(kubelet);
    const pvc = rules.find((r) => r.alert === "ApexPvcFillingUp");
    expect(pvc).toMatchObject({ for: "5m", labels: { severity: "warning" } });
    expect(pvc.expr).toBe(`kubelet_volume_stats_used_bytes{namespace="${NS}"} / kubelet_volume_stats_capacity_bytes{namespace="${NS}"} > 0.85`);
    expect(rules.map((r) => r.alert).filter((a) => a !== "ApexPvcFillingUp")).toEqual(rulesOf(prod).map((r) => r.alert));
    expect(rules.find((r) => r.alert === "ApexTargetDown").expr).toMatch(new RegExp(`job=~"[^"]*\\|${kubeletJobName}"`));
  });

  it("lets Prometheus reach the kubelets on 10250 and the API server, nothing more", () => {
    const ev = new NetworkPolicyEvaluator(kubelet.resources);
    const pod = (id: string, podName: string): Endpoint => ({ id, namespace: NS, labels: { "app.kubernetes.io/name": podName } });
    const prometheus = pod("prometheus", services.prometheus.name);
    const node = { id: "node", ip: "10.0.12.34" };
    expect(ev.allows(prometheus, node, 10250, "TCP")).toBe(true);
    expect(ev.allows(prometheus, { id: "kube-apiserver", ip: "10.0.0.1" }, 443, "TCP")).toBe(true);
    expect(ev.allows(prometheus, node, 10255, "TCP")).toBe(false);
    expect(ev.allows(prometheus, node, 22, "TCP")).toBe(false);
    expect(ev.allows(prometheus, { id: "elsewhere", ip: "192.168.1.10" }, 10250, "TCP")).toBe(false);
    for (const other of [services.grafana.name, services.alertmanager.name, services.worker.name]) {
      expect(ev.allows(pod(other, other), node, 10250, "TCP"), other).toBe(false);
    }
    const egress = kubelet.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", (r) => r.inputs.metadata.name === "prometheus-to-kubelet-egress");
    expect(egress.inputs.spec.egress).toEqual([{ to: NODE_CIDRS.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ port: 10250, protocol: "TCP" }] }]);
  });
});

describe("PVC usage: the opted-in stack passes the policy pack", () => {
  it("no mandatory violation (the pack forbids cluster-wide grants to the worker, not this one)", async () => {
    const findings = await evaluatePolicies(apexPolicies, kubelet.resources.map((r) => ({ type: r.type, name: r.name, urn: r.urn, props: r.inputs })));
    expect(findings.filter((f) => f.enforcementLevel === "mandatory").map((f) => `${f.policy}: ${f.message}`)).toEqual([]);
  });
});

describe("PVC usage: refused where it cannot work, naming the key", () => {
  it("docker (dev) with the key true", async () => {
    await expect(runStack({ stack: "dev", config: { observability: { kubeletVolumeStats: true } } }))
      .rejects.toThrow(/apex:observability\.kubeletVolumeStats: only used when apex:target is "kubernetes".*got true/);
  });

  it("kubernetes without the node CIDRs or the API server's", async () => {
    await expect(runStack({ stack: "prod", config: { observability: { kubeletVolumeStats: true } } }))
      .rejects.toThrow(/apex:observability\.nodeCidrs: required when apex:observability\.kubeletVolumeStats is true/);
    await expect(runStack({ stack: "prod", config: { ...kubeletConfig, network: { apiServerCidrs: [] } } }))
      .rejects.toThrow(/apex:network\.apiServerCidrs: required when apex:observability\.kubeletVolumeStats is true/);
  });

  it("node CIDRs without the key, or on docker", async () => {
    await expect(runStack({ stack: "prod", config: { observability: { nodeCidrs: NODE_CIDRS } } }))
      .rejects.toThrow(/apex:observability\.nodeCidrs: only used when apex:observability\.kubeletVolumeStats is true/);
    await expect(runStack({ stack: "dev", config: { observability: { nodeCidrs: NODE_CIDRS } } }))
      .rejects.toThrow(/apex:observability\.nodeCidrs: only used when apex:target is "kubernetes"/);
  });
});

describe("no kube-state-metrics on docker (dev)", () => {
  it("neither deploys nor scrapes it", () => {
    const containers = dev.ofType("docker:index/container:Container").map((c) => c.inputs.name as string);
    expect(containers.some((n) => n.includes(KSM.name))).toBe(false);
    expect(containers).toContain("apex-dev-prometheus");
    const prom = dev.one("docker:index/container:Container", (r) => r.inputs.name === "apex-dev-prometheus");
    const config = (prom.inputs.uploads as any[]).find((u) => u.file.endsWith("/prometheus.yml")).content as string;
    expect(parse(config).scrape_configs.map((j: any) => j.job_name)).toEqual(apexScrapeJobNames("docker"));
    expect(dev.resources.filter((r) => r.type.startsWith("kubernetes:"))).toEqual([]);
  });
});

describe("trace storage: Jaeger with Badger on a volume", () => {
  const badgerEnv = {
    SPAN_STORAGE_TYPE: "badger",
    BADGER_EPHEMERAL: "false",
    BADGER_DIRECTORY_KEY: "/tmp/badger/keys",
    BADGER_DIRECTORY_VALUE: "/tmp/badger/values",
    BADGER_SPAN_STORE_TTL: "72h",
  };

  it("prod: a StatefulSet with a PVC mounted where Badger writes", () => {
    const s = workload(services.jaeger.name);
    expect(s.type).toBe("kubernetes:apps/v1:StatefulSet");
    expect(s.inputs.spec.replicas).toBe(1);
    expect(s.inputs.spec.volumeClaimTemplates).toEqual([expect.objectContaining({
      metadata: expect.objectContaining({ name: "data" }),
      spec: { accessModes: ["ReadWriteOnce"], storageClassName: "gp3", resources: { requests: { storage: jaegerStorageDefaults.size } } },
    })]);
    const c = container(s);
    expect(c.volumeMounts).toEqual([{ name: "data", mountPath: jaegerBadgerPaths.mount }]);
    expect(envOf(c)).toMatchObject(badgerEnv);
    expect(envOf(c)).not.toHaveProperty("MEMORY_MAX_TRACES");
    // The PVC is writable by the image's user through fsGroup.
    expect(s.inputs.spec.template.spec.securityContext).toMatchObject({ runAsUser: 10001, fsGroup: 10001 });
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    validateKubernetesObject(s);
  });

  it("dev: a named volume at the image's /tmp (its only directory the user may write)", () => {
    const volume = dev.one("docker:index/volume:Volume", (r) => r.inputs.name === "apex-dev-jaeger-data");
    const c = dev.one("docker:index/container:Container", (r) => r.inputs.name === "apex-dev-jaeger");
    expect(c.inputs.volumes).toEqual([{ volumeName: volume.inputs.name, containerPath: jaegerBadgerPaths.mount }]);
    expect(c.inputs.tmpfs ?? {}).toEqual({});
    expect(c.inputs.user).toBe("10001:10001");
    const env = Object.fromEntries((c.inputs.envs as string[]).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
    expect(env).toMatchObject(badgerEnv);
  });

  it("takes OTLP over HTTP (4318) as well as gRPC from the runtime, and from nothing else", () => {
    const svc = prod.one("kubernetes:core/v1:Service", (r) => r.inputs.metadata.name === services.jaeger.name);
    expect(svc.inputs.spec.ports.map((p: any) => `${p.name}:${p.port}`)).toEqual(expect.arrayContaining(["otlp-grpc:4317", "otlp-http:4318"]));
    const pod = (id: string, name: string): Endpoint => ({ id, namespace: NS, labels: { "app.kubernetes.io/name": name } });
    const ev = new NetworkPolicyEvaluator(prod.resources);
    const jaeger = pod("jaeger", services.jaeger.name);
    for (const from of [services.api.name, services.worker.name]) {
      for (const port of [services.jaeger.otlpGrpcPort, services.jaeger.otlpHttpPort]) expect(ev.allows(pod(from, from), jaeger, port, "TCP"), `${from} -> ${port}`).toBe(true);
    }
    expect(ev.allows(pod("stranger", "stranger"), jaeger, services.jaeger.otlpHttpPort, "TCP")).toBe(false);
    expect(ev.allows(pod("grafana", services.grafana.name), jaeger, services.jaeger.otlpHttpPort, "TCP")).toBe(false);
    const c = dev.one("docker:index/container:Container", (r) => r.inputs.name === "apex-dev-jaeger");
    expect(c.inputs.ports).toEqual(expect.arrayContaining([expect.objectContaining({ internal: 4318, external: 4318, ip: "127.0.0.1" })]));
  });

  it("the Badger directories live on the data volume", () => {
    for (const dir of [jaegerBadgerPaths.keys, jaegerBadgerPaths.values]) expect(dir.startsWith(`${jaegerBadgerPaths.mount}/`)).toBe(true);
  });

  it("takes retention and size, and refuses a retention Jaeger cannot parse, naming the field", () => {
    const spec = jaegerSpec({ image: "jaegertracing/all-in-one:1.53", publishPorts: false, storageSize: "50Gi", spanRetention: "168h" });
    expect(spec.env?.BADGER_SPAN_STORE_TTL).toBe("168h");
    expect(spec.volumes).toEqual([{ kind: "data", name: "data", mountPath: "/tmp", size: "50Gi" }]);
    expect(() => jaegerSpec({ image: "x", publishPorts: false, spanRetention: "7d" })).toThrow(/jaeger: spanRetention: expected a Go duration.*got "7d"/);
  });
});
