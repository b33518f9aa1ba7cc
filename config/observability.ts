import { z } from "zod";
import { repoRunbookBaseUrl, runbookBaseUrlProblem } from "../alerts/runbook-url";
import { bool, hostname, imageReference, ipv4Cidr, list, memoryQuantity, nonEmptyText, oneOf, section } from "./fields";
import { plainSection, secretSection } from "./section";

const duration = (example: string) => {
  const e = { error: `expected a Prometheus duration such as "${example}"` };
  return z.string(e).regex(/^(\d+(ms|s|m|h|d|w|y))+$/, e);
};
const url = () => {
  const e = { error: 'expected an http(s) URL such as "https://grafana.example.com"' };
  return z.string(e).regex(/^https?:\/\/[^\s]+$/, e);
};
const runbookBaseUrl = () => {
  const form = 'the absolute URL of your docs/runbooks, such as "https://github.com/<your-org>/apex/blob/main/docs/runbooks"';
  return z.string({ error: `expected ${form} (required in prod)` }).superRefine((url, ctx) => {
    const problem = runbookBaseUrlProblem(url);
    if (problem) ctx.addIssue({ code: "custom", message: `expected ${form}; this one ${problem}` });
  });
};


/** An IdP endpoint: https, or http to a loopback address only (a local IdP in dev). */
const idpUrl = () => {
  const e = { error: 'expected an https URL such as "https://login.example.com/oauth2/v1/token" (http only to localhost)' };
  return z.string(e).regex(/^(https:\/\/[^\s]+|http:\/\/(localhost|127\.0\.0\.1)(:\d+)?(\/[^\s]*)?)$/, e);
};
const grafanaOidc = () => section({
  /** Label of the login button ("Sign in with <name>"). */
  name: nonEmptyText('a display name such as "Okta"').default("SSO"),
  authUrl: idpUrl(),
  tokenUrl: idpUrl(),
  /** The UserInfo endpoint. */
  apiUrl: idpUrl(),
  clientId: nonEmptyText("the OAuth client id Grafana is registered under"),
  scopes: list(z.string().regex(/^\S+$/, { error: "expected a scope without spaces" }), "OAuth scopes").min(1, { error: "expected at least one scope" }).default(["openid", "profile", "email"]),
  /** JMESPath over the token/UserInfo claims giving "Admin", "Editor" or "Viewer". */
  roleAttributePath: nonEmptyText(`a JMESPath expression such as "contains(groups[*], 'apex-admins') && 'Admin' || 'Viewer'"`),
  /** Refuse the login when roleAttributePath yields no valid role (instead of Viewer). */
  roleAttributeStrict: bool().default(true),
  /** JMESPath giving the user's groups; required with allowedGroups. */
  groupsAttributePath: nonEmptyText('a JMESPath expression such as "groups"').optional(),
  /** Only members of these groups may sign in. */
  allowedGroups: list(nonEmptyText("a group name"), "group names").min(1, { error: "expected at least one group (or leave allowedGroups unset)" }).optional(),
  /** Send every visitor straight to the IdP; the local form stays at /login?disableAutoLogin. */
  autoLogin: bool().default(false),
  /** Hide the local login form (break-glass then goes through the API or by turning this off). */
  disableLoginForm: bool().default(false),
  usePkce: bool().default(true),
});

const receiverKinds = ["webhook", "slack", "pagerduty"] as const;
const receivers = () => list(oneOf(receiverKinds), `receivers (${receiverKinds.map((k) => `"${k}"`).join(", ")})`);

const images = {
  /** Jaeger v1 is end-of-life upstream (v2 replaces it); the seed's pin stays the default. */
  jaeger: "jaegertracing/all-in-one:1.53",
  prometheus: "prom/prometheus:v2.48.1",
  alertmanager: "prom/alertmanager:v0.26.0",
  grafana: "grafana/grafana:10.2.3",
  loki: "grafana/loki:2.9.3",
  /** Log shipper on docker (reads the engine socket). */
  promtail: "grafana/promtail:2.9.3",
  /** Log shipper on kubernetes (tails pod logs through the API: no hostPath, non-root). */
  alloy: "grafana/alloy:v1.11.2",
  postgresExporter: "quay.io/prometheuscommunity/postgres-exporter:v0.15.0",
};

const schema = section({
  images: section({
    jaeger: imageReference(),
    prometheus: imageReference(),
    alertmanager: imageReference(),
    grafana: imageReference(),
    loki: imageReference(),
    promtail: imageReference(),
    alloy: imageReference(),
    postgresExporter: imageReference(),
  }),
  scrapeInterval: duration("15s"),
  evaluationInterval: duration("15s"),
  /** Prometheus `--storage.tsdb.retention.time`. */
  retention: duration("15d"),
  /** Loki retention (compactor), e.g. "168h". */
  logRetention: duration("168h"),
  /** How long Jaeger keeps spans (Badger TTL, a Go duration such as "72h"). */
  traceRetention: z.string({ error: 'expected a Go duration such as "72h"' }).regex(/^(\d+(\.\d+)?(h|m|s|ms))+$/, { error: 'expected a Go duration such as "72h" (hours at most: no "d")' }),
  storage: section({ prometheus: memoryQuantity(), loki: memoryQuantity(), grafana: memoryQuantity(), jaeger: memoryQuantity() }),
  /**
   * Kubernetes: Ingress hosts of the UIs (routed by the stack's Ingress, TLS as apex:ingress.tls).
   * Prometheus and Alertmanager have no login of their own: only route them behind an
   * authenticating proxy or on an internal IngressClass.
   */
  hosts: section({
    grafana: hostname().optional(),
    jaeger: hostname().optional(),
    prometheus: hostname().optional(),
    alertmanager: hostname().optional(),
  }),
  /**
   * Kubernetes: client CIDRs allowed to open the routed UIs (Grafana, Jaeger, Prometheus,
   * Alertmanager): ingress-nginx `whitelist-source-range` on their Ingress. Unset: whoever
   * reaches the Ingress. Grafana keeps its own login (OIDC and the local admin) behind it.
   */
  uiSourceRanges: list(ipv4Cidr(), "IPv4 CIDRs").optional(),
  grafana: section({
    /**
     * `deploy: false`: the external Grafana the content is provisioned into through its API.
     * `deploy: true`: the URL users open the deployed Grafana at (its root_url), when not the
     * one of `hosts.grafana` (or, on docker, http://127.0.0.1:<devHostPort>).
     */
    url: url().optional(),
    /** Deploy Grafana in this stack (content provisioned from files). false: provision into `url` through the API. */
    deploy: z.boolean({ error: "expected true or false" }),
    folder: nonEmptyText("a folder title"),
    /** Sign-in through an OpenID Connect provider (Grafana generic OAuth), for the deployed Grafana. Client secret: `apex:grafanaOidcClientSecret`. */
    oidc: grafanaOidc().optional(),
  }),
  alerting: section({
    critical: receivers(),
    warning: receivers(),
    slackChannel: nonEmptyText('a Slack channel such as "#apex-alerts"').optional(),
    /**
     * Where the Watchdog (always firing) is sent, about once a minute: "webhook" posts to
     * `apex:alertmanagerDeadMansSwitchUrl` (healthchecks.io, Dead Man's Snitch...), which alarms
     * when the pings stop; "none" routes it to the `deadmansswitch` receiver with no integration.
     */
    deadMansSwitch: oneOf(["none", "webhook"]),
    /**
     * Deploy `alert-receiver` (runtime image) and send critical and warning alerts to it as well:
     * it logs every notification as one JSON line (`docker logs apex-<stack>-alert-receiver`).
     */
    devReceiver: bool(),
  }),
  /**
   * Prometheus `remote_write` (long-term storage, a hosted Prometheus). Credentials come from the
   * secret `apex:prometheusRemoteWriteSecret`: the basic-auth password or the bearer token.
   */
  remoteWrite: section({
    url: url(),
    /** "basic" (username + the secret as password), "bearer" (the secret as token) or "none". */
    auth: oneOf(["none", "basic", "bearer"]).default("none"),
    username: nonEmptyText("a user name").optional(),
  }).optional(),
  /**
   * Kubernetes only, an explicit operator choice: scrape every node's kubelet for the stack's PVC
   * usage (and render ApexPvcFillingUp). It grants Prometheus's ServiceAccount `get` on
   * `nodes/metrics` and get/list/watch on `nodes` through a ClusterRole and ClusterRoleBinding,
   * a cluster-wide grant (docs/security.md). Default false: no PVC alert.
   */
  kubeletVolumeStats: bool(),
  /**
   * Kubernetes, with `kubeletVolumeStats`: the nodes' addresses (where the kubelets listen on
   * 10250), for Prometheus's NetworkPolicy egress. Required then, refused otherwise.
   */
  nodeCidrs: list(ipv4Cidr(), "IPv4 CIDRs").optional(),
  /**
   * Base of the alerts' runbook_url: absolute (http(s) or file), never a placeholder. Required in
   * prod (no default: only the operator knows where the runbooks are published); dev default: this
   * checkout's docs/runbooks as a file:// URL. The rule renderer (alerts/runbook-url.ts) applies
   * the same check.
   */
  runbookBaseUrl: runbookBaseUrl(),
});

export type ObservabilitySettings = z.output<typeof schema>;

const common = {
  images,
  scrapeInterval: "15s",
  evaluationInterval: "15s",
  traceRetention: "72h",
  hosts: {},
  grafana: { deploy: true, folder: "Apex" },
  alerting: { critical: [], warning: [], deadMansSwitch: "none" as const },
  kubeletVolumeStats: false,
};

/** Observability config keys (namespace `apex`); see docs/observability.md. */
export const observabilitySections = {
  observability: plainSection({
    description: "Jaeger/Prometheus/Alertmanager/Grafana/Loki: images, scrape and evaluation intervals, metric/log/trace retention, volume sizes, Grafana URL/folder/OIDC sign-in, alert receivers per severity, dead man's switch, dev alert receiver, Prometheus remote_write, runbook base URL (required in prod), opt-in kubelet volume stats (PVC usage; a cluster-wide grant) and the node CIDRs they need.",
    schema,
    defaults: {
      all: common,
      dev: { alerting: { devReceiver: true }, runbookBaseUrl: repoRunbookBaseUrl(), retention: "7d", logRetention: "72h", storage: { prometheus: "2Gi", loki: "2Gi", grafana: "512Mi", jaeger: "10Gi" } },
      prod: { alerting: { devReceiver: false }, retention: "15d", logRetention: "168h", storage: { prometheus: "20Gi", loki: "20Gi", grafana: "1Gi", jaeger: "10Gi" } },
    },
  }),
  grafanaAdminPassword: secretSection({
    description: "Grafana `admin` password (secret). Generated (random, 24 chars) when not set; read it with `pulumi stack output --show-secrets grafanaAdminPassword`.",
    requiredIn: [],
    minLength: 12,
  }),
  grafanaOidcClientSecret: secretSection({
    description: "Client secret of the OIDC client of `apex:observability.grafana.oidc` (secret); the deployed Grafana reads it from the `apex-observability` Secret.",
    requiredIn: [],
  }),
  alertmanagerWebhookUrl: secretSection({ description: "Webhook URL for the `webhook` alert receiver (secret).", requiredIn: [], format: "url" }),
  alertmanagerSlackUrl: secretSection({ description: "Slack incoming-webhook URL for the `slack` alert receiver (secret).", requiredIn: [], format: "url" }),
  alertmanagerPagerdutyRoutingKey: secretSection({ description: "PagerDuty Events v2 routing key for the `pagerduty` alert receiver (secret).", requiredIn: [] }),
  alertmanagerDeadMansSwitchUrl: secretSection({ description: "Webhook URL of the dead man's switch the Watchdog pings (secret), with `apex:observability.alerting.deadMansSwitch: webhook`.", requiredIn: [], format: "url" }),
  prometheusRemoteWriteSecret: secretSection({ description: "Password (auth basic) or bearer token (auth bearer) of `apex:observability.remoteWrite` (secret)." , requiredIn: [] }),
} as const;

/** The secret key each receiver kind needs. */
export const receiverSecretKey = {
  webhook: "alertmanagerWebhookUrl",
  slack: "alertmanagerSlackUrl",
  pagerduty: "alertmanagerPagerdutyRoutingKey",
} as const satisfies Record<(typeof receiverKinds)[number], keyof typeof observabilitySections>;

/**
 * Rules spanning keys: listed receivers need their secret; UI hosts and kubelet volume stats need
 * Kubernetes (the stats also the node and API server CIDRs); an external Grafana needs URL and password.
 */
export function observabilityCrossChecks(c: {
  readonly target: string;
  readonly observability: ObservabilitySettings;
  readonly network: { readonly apiServerCidrs: readonly string[] };
  readonly [key: string]: unknown;
}): { key: string; message: string }[] {
  const problems: { key: string; message: string }[] = [];
  const o = c.observability;
  for (const severity of ["critical", "warning"] as const) {
    o.alerting[severity].forEach((kind, i) => {
      const key = receiverSecretKey[kind];
      if (c[key] === undefined) {
        problems.push({ key: `apex:${key}`, message: `required by apex:observability.alerting.${severity}[${i}] ("${kind}"): set it with \`pulumi config set --secret apex:${key} <value>\`, got nothing` });
      }
    });
  }
  if (c.target !== "kubernetes") {
    for (const [ui, host] of Object.entries(o.hosts)) {
      if (host !== undefined) problems.push({ key: `apex:observability.hosts.${ui}`, message: `only used when apex:target is "kubernetes" (docker publishes the UIs on localhost), got "${host}"` });
    }
    if (o.uiSourceRanges !== undefined) problems.push({ key: "apex:observability.uiSourceRanges", message: `only used when apex:target is "kubernetes" (docker publishes the UIs on localhost), got ${JSON.stringify(o.uiSourceRanges)}` });
  }
  problems.push(...kubeletVolumeStatsProblems(c.target, o, c.network.apiServerCidrs));
  if (o.alerting.deadMansSwitch === "webhook" && c.alertmanagerDeadMansSwitchUrl === undefined) {
    problems.push({ key: "apex:alertmanagerDeadMansSwitchUrl", message: 'required by apex:observability.alerting.deadMansSwitch ("webhook"): set it with `pulumi config set --secret apex:alertmanagerDeadMansSwitchUrl <url>`, got nothing' });
  }
  problems.push(...remoteWriteProblems(o.remoteWrite, c.prometheusRemoteWriteSecret !== undefined));
  if (!o.grafana.deploy) {
    if (o.grafana.url === undefined) problems.push({ key: "apex:observability.grafana.url", message: "required when apex:observability.grafana.deploy is false: expected the external Grafana's URL, got nothing" });
    if (c.grafanaAdminPassword === undefined) problems.push({ key: "apex:grafanaAdminPassword", message: "required when apex:observability.grafana.deploy is false: expected the external Grafana's admin password, got nothing" });
  }
  problems.push(...grafanaOidcProblems(c.target, o, c.grafanaOidcClientSecret !== undefined));
  return problems;
}

/** OIDC configures the Grafana this stack deploys, needs its client secret and a URL the IdP can send browsers back to. */
function grafanaOidcProblems(target: string, o: ObservabilitySettings, secretSet: boolean): { key: string; message: string }[] {
  const key = "apex:observability.grafana.oidc";
  const oidc = o.grafana.oidc;
  if (oidc === undefined) {
    return secretSet ? [{ key: "apex:grafanaOidcClientSecret", message: `only used with ${key}, which is not set` }] : [];
  }
  const problems: { key: string; message: string }[] = [];
  if (!o.grafana.deploy) problems.push({ key, message: "only used when apex:observability.grafana.deploy is true (it configures the Grafana this stack deploys; configure an external Grafana's sign-in there)" });
  if (!secretSet) problems.push({ key: "apex:grafanaOidcClientSecret", message: `required when ${key} is set: set it with \`pulumi config set --secret apex:grafanaOidcClientSecret <client secret>\`, got nothing` });
  if (target === "kubernetes" && o.grafana.deploy && o.hosts.grafana === undefined && o.grafana.url === undefined) {
    problems.push({ key: "apex:observability.hosts.grafana", message: `required when ${key} is set: the IdP redirects browsers back to <Grafana URL>/login/generic_oauth, which an in-cluster URL is not; got nothing` });
  }
  if (oidc.allowedGroups !== undefined && oidc.groupsAttributePath === undefined) {
    problems.push({ key: `${key}.groupsAttributePath`, message: `required with ${key}.allowedGroups (where Grafana finds the user's groups in the claims), got nothing` });
  }
  return problems;
}

/** kubeletVolumeStats only on Kubernetes, and then with the CIDRs its NetworkPolicy egress needs. */
function kubeletVolumeStatsProblems(target: string, o: ObservabilitySettings, apiServerCidrs: readonly string[]): { key: string; message: string }[] {
  const key = "apex:observability.kubeletVolumeStats";
  const cidrsKey = "apex:observability.nodeCidrs";
  if (target !== "kubernetes") {
    const problems: { key: string; message: string }[] = [];
    if (o.kubeletVolumeStats) problems.push({ key, message: `only used when apex:target is "kubernetes" (PVC usage comes from the kubelets; docker has none), got true` });
    if (o.nodeCidrs !== undefined) problems.push({ key: cidrsKey, message: `only used when apex:target is "kubernetes" with ${key} true, got ${JSON.stringify(o.nodeCidrs)}` });
    return problems;
  }
  if (!o.kubeletVolumeStats) {
    return o.nodeCidrs !== undefined ? [{ key: cidrsKey, message: `only used when ${key} is true (Prometheus then scrapes the kubelets), got ${JSON.stringify(o.nodeCidrs)}` }] : [];
  }
  const problems: { key: string; message: string }[] = [];
  if (o.nodeCidrs === undefined || o.nodeCidrs.length === 0) {
    problems.push({ key: cidrsKey, message: `required when ${key} is true (Prometheus reaches each node's kubelet on 10250 through the namespace's NetworkPolicy): expected a list of IPv4 CIDRs such as ["10.0.0.0/16"], got ${o.nodeCidrs === undefined ? "nothing" : "[]"}` });
  }
  if (apiServerCidrs.length === 0) {
    problems.push({ key: "apex:network.apiServerCidrs", message: `required when ${key} is true (Prometheus discovers the nodes through the API server): expected a list of IPv4 CIDRs, got []` });
  }
  return problems;
}

/** remote_write's auth and its secret agree: a secret for basic/bearer, none without auth, a username exactly with basic. */
function remoteWriteProblems(rw: ObservabilitySettings["remoteWrite"], secretSet: boolean): { key: string; message: string }[] {
  const key = "apex:observability.remoteWrite";
  if (rw === undefined) {
    return secretSet ? [{ key: "apex:prometheusRemoteWriteSecret", message: `only used with ${key} (basic or bearer auth), which is not set` }] : [];
  }
  const problems: { key: string; message: string }[] = [];
  if (rw.auth === "basic" && rw.username === undefined) problems.push({ key: `${key}.username`, message: `required when ${key}.auth is "basic", got nothing` });
  if (rw.auth !== "basic" && rw.username !== undefined) problems.push({ key: `${key}.username`, message: `only used when ${key}.auth is "basic" (it is "${rw.auth}"), got "${rw.username}"` });
  if (rw.auth !== "none" && !secretSet) {
    problems.push({ key: "apex:prometheusRemoteWriteSecret", message: `required when ${key}.auth is "${rw.auth}": set it with \`pulumi config set --secret apex:prometheusRemoteWriteSecret <value>\`, got nothing` });
  }
  if (rw.auth === "none" && secretSet) problems.push({ key: "apex:prometheusRemoteWriteSecret", message: `set, but ${key}.auth is "none": set auth to "basic" or "bearer", or remove the secret` });
  return problems;
}
