/**
 * Prometheus's configuration as a plain function of typed inputs. The component calls it with the
 * stack's service names; tests and the telemetry end-to-end run call it with local targets and
 * short intervals. No Pulumi types here: the result is plain data / YAML.
 */
import { stringify } from "yaml";

/** How Prometheus finds a job's targets. */
export type TargetDiscovery =
  /** Fixed `host:port` list. */
  | { readonly kind: "static"; readonly targets: readonly string[] }
  /**
   * DNS A lookup, one target per address: every replica behind Docker's network alias (dev) or a
   * headless Kubernetes Service (prod). Needs no Kubernetes API access, hence no RBAC.
   */
  | { readonly kind: "dns"; readonly names: readonly string[]; readonly port: number; readonly refreshInterval?: string }
  /**
   * Kubernetes service discovery through the API server, with the pod's in-cluster credentials
   * (its mounted ServiceAccount token): one target per object of `role`. Needs RBAC to list and
   * watch those objects, and Prometheus built with it (Debian's promtool is not).
   */
  | { readonly kind: "kubernetes"; readonly role: KubernetesSdRole };

/** `kubernetes_sd_configs` roles; "node" finds every node, addressed at its kubelet. */
export const kubernetesSdRoles = ["node", "pod", "service", "endpoints", "endpointslice", "ingress"] as const;
export type KubernetesSdRole = (typeof kubernetesSdRoles)[number];

/**
 * One `relabel_configs` / `metric_relabel_configs` step. `regex` is anchored by Prometheus (RE2);
 * source label values are joined with ";".
 */
export type Relabel =
  /** Writes `replacement` ($1... from `regex`, default "(.*)" and "$1") to `targetLabel` when `regex` matches. */
  | { readonly action: "replace"; readonly sourceLabels: readonly string[]; readonly regex?: string; readonly targetLabel: string; readonly replacement?: string }
  /** keep: drops every target / series that does not match; drop: every one that does. */
  | { readonly action: "keep" | "drop"; readonly sourceLabels: readonly string[]; readonly regex: string };

export interface ScrapeJob {
  /** `job` label; use the service name from the contract. */
  readonly name: string;
  readonly discovery: TargetDiscovery;
  /** Default "/metrics". */
  readonly metricsPath?: string;
  /** Default: the global scrape interval. */
  readonly scrapeInterval?: string;
  /** Default "http". */
  readonly scheme?: "http" | "https";
  /** Bearer token read from a file at every scrape (a projected ServiceAccount token rotates). Default none. */
  readonly bearerTokenFile?: string;
  /** CA bundle that verifies an https target's certificate. Default: the system's. */
  readonly caFile?: string;
  /** Target relabelling (before the scrape). Default none. */
  readonly relabel?: readonly Relabel[];
  /** Series relabelling (after the scrape, before storage): what to keep of a large endpoint. Default none. */
  readonly metricRelabel?: readonly Relabel[];
}

export interface PrometheusConfigInput {
  /** Global scrape interval, e.g. "15s". */
  readonly scrapeInterval: string;
  /** Rule evaluation interval, e.g. "15s". */
  readonly evaluationInterval: string;
  /** Default 10s (must not exceed the scrape interval). */
  readonly scrapeTimeout?: string;
  readonly jobs: readonly ScrapeJob[];
  /** Rule file paths as Prometheus sees them (globs allowed), e.g. "/etc/prometheus/rules/*.yml". */
  readonly ruleFiles: readonly string[];
  /**
   * Alertmanagers alerts go to: `host:port` addresses (empty: alerts are evaluated but not sent),
   * or a DNS name resolving to every replica of a cluster (each gets every alert: they dedup).
   */
  readonly alertmanagers: readonly string[] | Extract<TargetDiscovery, { kind: "dns" }>;
  /** Labels added to every series and alert leaving this Prometheus, e.g. { stack: "prod" }. */
  readonly externalLabels?: Readonly<Record<string, string>>;
  /**
   * External labels removed from alerts before they are sent: a per-replica label (HA pair) would
   * make the replicas' alerts differ, and Alertmanager would notify twice. Default none.
   */
  readonly alertLabelsDropped?: readonly string[];
  /** One `remote_write` endpoint. Default none. */
  readonly remoteWrite?: RemoteWrite;
}

export interface RemoteWrite {
  readonly url: string;
  /** Credentials read from files (never inline in the config). Default: none. */
  readonly auth?: { readonly kind: "basic"; readonly username: string; readonly passwordFile: string } | { readonly kind: "bearer"; readonly credentialsFile: string };
}

const duration = /^(\d+(ms|s|m|h|d|w|y))+$/;
const hostPort = /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/;
const jobName = /^[a-zA-Z_][a-zA-Z0-9_-]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function seconds(d: string): number {
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  let total = 0;
  for (const m of d.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) total += Number(m[1]) * unit[m[2]!]!;
  return total;
}

function check(input: PrometheusConfigInput): void {
  const fail = (field: string, msg: string): never => {
    throw new Error(`prometheus config: ${field}: ${msg}`);
  };
  for (const [field, v] of [["scrapeInterval", input.scrapeInterval], ["evaluationInterval", input.evaluationInterval], ["scrapeTimeout", input.scrapeTimeout]] as const) {
    if (v !== undefined && !duration.test(v)) fail(field, `expected a Prometheus duration such as "15s", got "${v}"`);
  }
  if (input.scrapeTimeout && seconds(input.scrapeTimeout) > seconds(input.scrapeInterval)) {
    fail("scrapeTimeout", `"${input.scrapeTimeout}" is longer than scrapeInterval "${input.scrapeInterval}"`);
  }
  const names = new Set<string>();
  input.jobs.forEach((job, i) => {
    const at = `jobs[${i}]`;
    if (!jobName.test(job.name)) fail(`${at}.name`, `expected a job name such as "apex-api", got "${job.name}"`);
    if (names.has(job.name)) fail(`${at}.name`, `duplicate job "${job.name}"`);
    names.add(job.name);
    if (job.scrapeInterval !== undefined && !duration.test(job.scrapeInterval)) fail(`${at}.scrapeInterval`, `expected a duration, got "${job.scrapeInterval}"`);
    const d = job.discovery;
    if (d.kind === "static") {
      if (d.targets.length === 0) fail(`${at}.discovery.targets`, "expected at least one host:port");
      d.targets.forEach((t, j) => hostPort.test(t) || fail(`${at}.discovery.targets[${j}]`, `expected host:port, got "${t}"`));
    } else if (d.kind === "dns") {
      if (d.names.length === 0) fail(`${at}.discovery.names`, "expected at least one DNS name");
      if (!(Number.isInteger(d.port) && d.port > 0 && d.port < 65536)) fail(`${at}.discovery.port`, `expected a port, got ${d.port}`);
    } else if (!(kubernetesSdRoles as readonly string[]).includes(d.role)) {
      fail(`${at}.discovery.role`, `expected one of ${kubernetesSdRoles.join(", ")}, got "${d.role}"`);
    }
    if (job.scheme !== undefined && job.scheme !== "http" && job.scheme !== "https") fail(`${at}.scheme`, `expected "http" or "https", got "${String(job.scheme)}"`);
    for (const [field, file] of [["bearerTokenFile", job.bearerTokenFile], ["caFile", job.caFile]] as const) {
      if (file !== undefined && !file.startsWith("/")) fail(`${at}.${field}`, `expected an absolute file path, got "${file}"`);
    }
    if (job.bearerTokenFile !== undefined && job.scheme !== "https") fail(`${at}.bearerTokenFile`, "a token is only sent over https (set scheme: \"https\")");
    for (const field of ["relabel", "metricRelabel"] as const) {
      (job[field] ?? []).forEach((r, j) => checkRelabel(r, `${at}.${field}[${j}]`, fail));
    }
  });
  const am = input.alertmanagers;
  if ("kind" in am) {
    if (am.names.length === 0) fail("alertmanagers.names", "expected at least one DNS name");
    if (!(Number.isInteger(am.port) && am.port > 0 && am.port < 65536)) fail("alertmanagers.port", `expected a port, got ${am.port}`);
  } else {
    am.forEach((a, i) => hostPort.test(a) || fail(`alertmanagers[${i}]`, `expected host:port, got "${a}"`));
  }
  (input.alertLabelsDropped ?? []).forEach((l, i) => /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(l) || fail(`alertLabelsDropped[${i}]`, `expected a label name, got "${l}"`));
  const rw = input.remoteWrite;
  if (rw) {
    let url: URL | undefined;
    try {
      url = new URL(rw.url);
    } catch {
      url = undefined;
    }
    if (!url || !/^https?:$/.test(url.protocol)) fail("remoteWrite.url", `expected an http(s) URL, got "${rw.url}"`);
    if (url && (url.username || url.password)) fail("remoteWrite.url", "credentials belong in auth (read from a file), not in the URL");
    const file = rw.auth?.kind === "basic" ? rw.auth.passwordFile : rw.auth?.kind === "bearer" ? rw.auth.credentialsFile : undefined;
    if (file !== undefined && !file.startsWith("/")) fail("remoteWrite.auth", `expected an absolute file path, got "${file}"`);
  }
}

function checkRelabel(r: Relabel, at: string, fail: (field: string, msg: string) => never): void {
  if (r.sourceLabels.length === 0) fail(`${at}.sourceLabels`, "expected at least one label name");
  r.sourceLabels.forEach((l, i) => labelName.test(l) || fail(`${at}.sourceLabels[${i}]`, `expected a label name, got "${l}"`));
  if (r.action === "replace" && !labelName.test(r.targetLabel)) fail(`${at}.targetLabel`, `expected a label name, got "${r.targetLabel}"`);
  if (r.regex !== undefined) {
    try {
      new RegExp(r.regex);
    } catch {
      fail(`${at}.regex`, `expected a regular expression, got "${r.regex}"`);
    }
  }
}

function relabelConfig(r: Relabel): Record<string, unknown> {
  return {
    source_labels: [...r.sourceLabels],
    ...(r.regex !== undefined ? { regex: r.regex } : {}),
    ...(r.action === "replace" ? { target_label: r.targetLabel, ...(r.replacement !== undefined ? { replacement: r.replacement } : {}) } : {}),
    action: r.action,
  };
}

function remoteWriteConfig(rw: RemoteWrite): Record<string, unknown> {
  const auth = rw.auth;
  return {
    url: rw.url,
    ...(auth?.kind === "basic" ? { basic_auth: { username: auth.username, password_file: auth.passwordFile } } : {}),
    ...(auth?.kind === "bearer" ? { authorization: { type: "Bearer", credentials_file: auth.credentialsFile } } : {}),
  };
}

function discoveryConfig(d: TargetDiscovery): Record<string, unknown> {
  switch (d.kind) {
    case "static":
      return { static_configs: [{ targets: [...d.targets] }] };
    case "dns":
      return { dns_sd_configs: [{ names: [...d.names], type: "A", port: d.port, ...(d.refreshInterval ? { refresh_interval: d.refreshInterval } : {}) }] };
    case "kubernetes":
      return { kubernetes_sd_configs: [{ role: d.role }] };
  }
}

function scrapeConfig(job: ScrapeJob): Record<string, unknown> {
  return {
    job_name: job.name,
    metrics_path: job.metricsPath ?? "/metrics",
    ...(job.scrapeInterval ? { scrape_interval: job.scrapeInterval } : {}),
    ...(job.scheme ? { scheme: job.scheme } : {}),
    ...(job.bearerTokenFile ? { authorization: { type: "Bearer", credentials_file: job.bearerTokenFile } } : {}),
    ...(job.caFile ? { tls_config: { ca_file: job.caFile } } : {}),
    ...discoveryConfig(job.discovery),
    ...(job.relabel?.length ? { relabel_configs: job.relabel.map(relabelConfig) } : {}),
    ...(job.metricRelabel?.length ? { metric_relabel_configs: job.metricRelabel.map(relabelConfig) } : {}),
  };
}

function alertingConfig(input: PrometheusConfigInput): Record<string, unknown> {
  const am = input.alertmanagers;
  const discovery = "kind" in am ? discoveryConfig(am) : am.length > 0 ? discoveryConfig({ kind: "static", targets: am }) : undefined;
  if (!discovery) return {};
  const dropped = input.alertLabelsDropped ?? [];
  return {
    alerting: {
      ...(dropped.length > 0 ? { alert_relabel_configs: [{ action: "labeldrop", regex: dropped.join("|") }] } : {}),
      alertmanagers: [discovery],
    },
  };
}

export function prometheusConfig(input: PrometheusConfigInput): Record<string, unknown> {
  check(input);
  return {
    global: {
      scrape_interval: input.scrapeInterval,
      evaluation_interval: input.evaluationInterval,
      scrape_timeout: input.scrapeTimeout ?? (seconds(input.scrapeInterval) < 10 ? input.scrapeInterval : "10s"),
      ...(input.externalLabels && Object.keys(input.externalLabels).length > 0 ? { external_labels: { ...input.externalLabels } } : {}),
    },
    rule_files: [...input.ruleFiles],
    ...alertingConfig(input),
    ...(input.remoteWrite ? { remote_write: [remoteWriteConfig(input.remoteWrite)] } : {}),
    scrape_configs: input.jobs.map(scrapeConfig),
  };
}

export const prometheusConfigYaml = (input: PrometheusConfigInput): string =>
  stringify(prometheusConfig(input), { lineWidth: 0 });
