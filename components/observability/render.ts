/**
 * Every generated observability file of a stack, as path -> content: what `npm run render` writes
 * to out/<stack>/ and what promtool checks. Secrets never appear: receiver URLs/keys are replaced
 * by placeholders naming the config key that holds them.
 */
import { alertRules, promtoolTestsYaml, ruleFileYaml } from "../../alerts";
import { apexDashboards } from "../../dashboards";
import { receiverSecretKey, type ObservabilitySettings } from "../../config/observability";
import { services } from "../../app/src/contract/services";
import { alertmanagerConfigYaml, type Receiver, type ReceiverKind } from "./alertmanager-config";
import { prometheusConfigYaml } from "./prometheus-config";
import { apexScrapeJobs, prometheusPaths, serviceHost, type ScrapePlatform } from "./scrape-jobs";

export const ruleFileName = "apex-alerts.yml";

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

/** prometheus.yml exactly as the stack deploys it (rule files at `prometheusPaths.rulesGlob` unless overridden). */
export function stackPrometheusConfig(input: StackObservabilityInput): string {
  return prometheusConfigYaml({
    scrapeInterval: input.settings.scrapeInterval,
    evaluationInterval: input.settings.evaluationInterval,
    jobs: apexScrapeJobs(input.platform),
    ruleFiles: input.ruleFiles ?? [prometheusPaths.rulesGlob],
    alertmanagers: [`${serviceHost(input.platform, services.alertmanager.name)}:${services.alertmanager.port}`],
    externalLabels: { stack: input.stack },
  });
}

export const stackRuleFile = (settings: ObservabilitySettings): string =>
  ruleFileYaml(alertRules, { runbookBaseUrl: settings.runbookBaseUrl });

/** The files of out/<stack>/. prometheus.yml there reads `rules/*.yml` (relative) so promtool resolves them. */
export function renderStackFiles(input: StackObservabilityInput): Record<string, string> {
  const { settings } = input;
  const placeholder = (key: string) => (key === receiverSecretKey.pagerduty ? `<secret apex:${key}>` : `https://secret.invalid/apex:${key}`);
  const files: Record<string, string> = {
    "prometheus.yml":
      `# Deployed with rule_files: ["${prometheusPaths.rulesGlob}"]; here relative so promtool finds rules/.\n` +
      stackPrometheusConfig({ ...input, ruleFiles: ["rules/*.yml"] }),
    [`rules/${ruleFileName}`]: stackRuleFile(settings),
    [`rules-tests/apex-alerts.test.yml`]: promtoolTestsYaml([`../rules/${ruleFileName}`], settings.runbookBaseUrl),
    "alertmanager.yml":
      "# Secret receiver URLs/keys are placeholders naming their config key; the deployed file is a secret.\n" +
      alertmanagerConfigYaml({
        critical: receiversFor(settings.alerting.critical, placeholder, settings.alerting.slackChannel),
        warning: receiversFor(settings.alerting.warning, placeholder, settings.alerting.slackChannel),
      }),
  };
  for (const d of apexDashboards()) files[`dashboards/${d.file}`] = d.json;
  return files;
}
