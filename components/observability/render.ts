/**
 * Every generated observability file of a stack, as path -> content: what `npm run render` writes
 * to out/<stack>/ and what promtool checks. Secrets never appear: receiver URLs/keys are replaced
 * by placeholders naming the config key that holds them.
 */
import { promtoolTestsYaml, ruleFileYaml, rulesFor, type AlertTarget, type KubernetesRuleOptions } from "../../alerts";
import { apexDashboards } from "../../dashboards";
import { receiverSecretKey, type ObservabilitySettings } from "../../config/observability";
import { services } from "../../app/src/contract/services";
import { alertReceiverUrl } from "./alert-receiver";
import { alertmanagerConfigYaml, type Receiver, type ReceiverKind } from "./alertmanager-config";
import { prometheusReplicaEnv, remoteWriteSecretFile } from "./prometheus";
import { prometheusConfigYaml, type RemoteWrite } from "./prometheus-config";
import { apexScrapeJobs, headlessServiceName, prometheusPaths, serviceHost, type ScrapePlatform } from "./scrape-jobs";

export const ruleFileName = "apex-alerts.yml";

/**
 * Replicas per target: on Kubernetes two Prometheus (each scrapes everything into its own volume;
 * either can go while the other evaluates the rules) and three clustered Alertmanagers (a quorum-free
 * gossip cluster: any one left still notifies); Docker (dev) runs one of each.
 */
export const observabilityReplicas = (target: ScrapePlatform["kind"]) =>
  target === "kubernetes" ? { prometheus: 2, alertmanager: 3 } : { prometheus: 1, alertmanager: 1 };

/** External label that tells the Prometheus replicas' series apart (dropped from alerts). */
export const replicaLabel = "replica";

/** Secret config keys of the Alertmanager file beyond the receivers' own. */
export const deadMansSwitchSecretKey = "alertmanagerDeadMansSwitchUrl";

/** Alertmanager receivers for `kinds`, their secret values looked up by `secretOf(configKey)`. */
export function receiversFor(kinds: readonly ReceiverKind[], secretOf: (key: string) => string, slackChannel?: string): Receiver[] {
  return kinds.map((kind): Receiver => {
    const value = secretOf(receiverSecretKey[kind]);
    switch (kind) {
      case "webhook":
        return { kind, url: value };
      case "slack":
        return { kind, url: value, ...(slackChannel ? { channel: slackChannel } : {}) };
      case "pagerduty":
        return { kind, routingKey: value };
    }
  });
}

export interface StackObservabilityInput {
  readonly stack: string;
  readonly settings: ObservabilitySettings;
  readonly platform: ScrapePlatform;
  /** Where Prometheus finds the rule files. Default: the deployed container's path. */
  readonly ruleFiles?: readonly string[];
}

function remoteWriteOf(settings: ObservabilitySettings): RemoteWrite | undefined {
  const rw = settings.remoteWrite;
  if (!rw) return undefined;
  switch (rw.auth) {
    case "none":
      return { url: rw.url };
    case "basic":
      return { url: rw.url, auth: { kind: "basic", username: rw.username ?? "", passwordFile: remoteWriteSecretFile } };
    case "bearer":
      return { url: rw.url, auth: { kind: "bearer", credentialsFile: remoteWriteSecretFile } };
  }
}

/**
 * prometheus.yml exactly as the stack deploys it (rule files at `prometheusPaths.rulesGlob` unless
 * overridden). Kubernetes: alerts go to every Alertmanager replica (their headless Service), each
 * Prometheus replica labels its series `replica=<pod>` and drops that label from alerts.
 */
export function stackPrometheusConfig(input: StackObservabilityInput): string {
  const am = services.alertmanager;
  const clustered = input.platform.kind === "kubernetes";
  return prometheusConfigYaml({
    scrapeInterval: input.settings.scrapeInterval,
    evaluationInterval: input.settings.evaluationInterval,
    jobs: apexScrapeJobs(input.platform, { kubeletVolumeStats: input.settings.kubeletVolumeStats }),
    ruleFiles: input.ruleFiles ?? [prometheusPaths.rulesGlob],
    alertmanagers: clustered
      ? { kind: "dns", names: [serviceHost(input.platform, headlessServiceName(am.name))], port: am.port, refreshInterval: "30s" }
      : [`${serviceHost(input.platform, am.name)}:${am.port}`],
    externalLabels: { stack: input.stack, ...(clustered ? { [replicaLabel]: `\${${prometheusReplicaEnv}}` } : {}) },
    alertLabelsDropped: clustered ? [replicaLabel] : [],
    remoteWrite: remoteWriteOf(input.settings),
  });
}

/**
 * alertmanager.yml of a stack, secrets looked up by `secretOf(configKey)`: the configured receivers
 * per severity (plus the dev alert-receiver when `alerting.devReceiver`), and the dead man's switch.
 */
export function stackAlertmanagerConfig(settings: ObservabilitySettings, secretOf: (key: string) => string): string {
  const a = settings.alerting;
  const dev: Receiver[] = a.devReceiver ? [{ kind: "webhook", url: alertReceiverUrl }] : [];
  return alertmanagerConfigYaml({
    critical: [...receiversFor(a.critical, secretOf, a.slackChannel), ...dev],
    warning: [...receiversFor(a.warning, secretOf, a.slackChannel), ...dev],
    ...(a.deadMansSwitch === "webhook" ? { deadMansSwitch: { url: secretOf(deadMansSwitchSecretKey) } } : {}),
  });
}

/**
 * The rules of a target; on Kubernetes the pod alerts watch the stack's namespace only (not the
 * tool sandboxes'), and ApexPvcFillingUp is there only when the kubelets are scraped.
 */
function ruleScope(platform: ScrapePlatform | AlertTarget, settings: ObservabilitySettings): { target: AlertTarget; opts: KubernetesRuleOptions } {
  if (platform === "docker" || (typeof platform === "object" && platform.kind === "docker")) return { target: "docker", opts: {} };
  const namespace = typeof platform === "object" && platform.kind === "kubernetes" ? { namespace: platform.namespace } : {};
  return { target: "kubernetes", opts: { ...namespace, kubeletVolumeStats: settings.kubeletVolumeStats } };
}

/** The stack's rule file: `rulesFor(target)` rendered with the runbook base from config. */
export function stackRuleFile(settings: ObservabilitySettings, platform: ScrapePlatform | AlertTarget): string {
  const { target, opts } = ruleScope(platform, settings);
  return ruleFileYaml(rulesFor(target, opts), { runbookBaseUrl: settings.runbookBaseUrl });
}

/** The files of out/<stack>/. prometheus.yml there reads `rules/*.yml` (relative) so promtool resolves them. */
export function renderStackFiles(input: StackObservabilityInput): Record<string, string> {
  const { settings } = input;
  const placeholder = (key: string) => (key === receiverSecretKey.pagerduty ? `<secret apex:${key}>` : `https://secret.invalid/apex:${key}`);
  const scope = ruleScope(input.platform, settings);
  const files: Record<string, string> = {
    "prometheus.yml":
      `# Deployed with rule_files: ["${prometheusPaths.rulesGlob}"]; here relative so promtool finds rules/.\n` +
      stackPrometheusConfig({ ...input, ruleFiles: ["rules/*.yml"] }),
    [`rules/${ruleFileName}`]: stackRuleFile(settings, input.platform),
    [`rules-tests/apex-alerts.test.yml`]: promtoolTestsYaml([`../rules/${ruleFileName}`], settings.runbookBaseUrl, scope.target, scope.opts),
    "alertmanager.yml":
      "# Secret receiver URLs/keys are placeholders naming their config key; the deployed file is a secret.\n" +
      stackAlertmanagerConfig(settings, placeholder),
  };
  for (const d of apexDashboards()) files[`dashboards/${d.file}`] = d.json;
  return files;
}
