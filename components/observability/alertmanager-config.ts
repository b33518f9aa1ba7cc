/**
 * Alertmanager's configuration as a plain function: alertname="Watchdog" goes to the dead man's
 * switch (receiver "deadmansswitch", pinged every minute), anything else of severity "none" to no
 * one, severity="critical" to the critical receivers, severity="warning" to the warning receivers.
 * Receiver URLs/keys are secrets: the component calls this inside an Output and stores the result
 * as a secret; the render script passes placeholders.
 */
import { stringify } from "yaml";

export const receiverKinds = ["webhook", "slack", "pagerduty"] as const;
export type ReceiverKind = (typeof receiverKinds)[number];

export type Receiver =
  | { readonly kind: "webhook"; readonly url: string }
  | { readonly kind: "slack"; readonly url: string; readonly channel?: string }
  | { readonly kind: "pagerduty"; readonly routingKey: string };

/** The always-firing alert whose notifications prove the pipeline works (alerts/). */
export const watchdogAlert = "Watchdog";
export const deadMansSwitchReceiver = "deadmansswitch";
/**
 * How often the Watchdog reaches the dead man's switch: a ping about every minute, as
 * healthchecks.io / Dead Man's Snitch checks expect (set the check's period to 1 minute and its
 * grace to a few minutes).
 */
export const deadMansSwitchInterval = "1m";

export interface AlertmanagerConfigInput {
  readonly critical: readonly Receiver[];
  readonly warning: readonly Receiver[];
  /** Webhook the Watchdog pings. Default: none (the "deadmansswitch" receiver then has no integration). */
  readonly deadMansSwitch?: { readonly url: string };
  /** Default "30s". */
  readonly groupWait?: string;
  /** Default "5m". */
  readonly groupInterval?: string;
  /** Repeat of a still-firing critical notification. Default "4h"; warnings repeat every 12h. */
  readonly repeatInterval?: string;
}

function receiverConfig(severity: "critical" | "warning", receivers: readonly Receiver[]): Record<string, unknown> {
  const webhook = receivers.filter((r) => r.kind === "webhook");
  const slack = receivers.filter((r) => r.kind === "slack");
  const pagerduty = receivers.filter((r) => r.kind === "pagerduty");
  receivers.forEach((r, i) => {
    const value = r.kind === "pagerduty" ? r.routingKey : r.url;
    if (!value) throw new Error(`alertmanager config: ${severity}[${i}] (${r.kind}): ${r.kind === "pagerduty" ? "routingKey" : "url"} is empty`);
    if (r.kind !== "pagerduty" && !/^https?:\/\//.test(r.url)) {
      throw new Error(`alertmanager config: ${severity}[${i}] (${r.kind}): url must start with http:// or https://`);
    }
  });
  return {
    name: severity,
    ...(webhook.length ? { webhook_configs: webhook.map((r) => ({ url: r.url, send_resolved: true })) } : {}),
    ...(slack.length
      ? {
          slack_configs: slack.map((r) => ({
            api_url: r.url,
            ...(r.channel ? { channel: r.channel } : {}),
            send_resolved: true,
            title: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})',
            text: "{{ range .Alerts }}{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook_url }}\n{{ end }}",
          })),
        }
      : {}),
    ...(pagerduty.length
      ? { pagerduty_configs: pagerduty.map((r) => ({ routing_key: r.routingKey, severity, send_resolved: true, description: "{{ .CommonAnnotations.summary }}" })) }
      : {}),
  };
}

function deadMansSwitchConfig(dms: AlertmanagerConfigInput["deadMansSwitch"]): Record<string, unknown> {
  if (dms === undefined) return { name: deadMansSwitchReceiver };
  if (!/^https?:\/\//.test(dms.url)) throw new Error("alertmanager config: deadMansSwitch.url must start with http:// or https://");
  // The Watchdog never resolves while the pipeline works; a resolved ping would read as "alive" anyway.
  return { name: deadMansSwitchReceiver, webhook_configs: [{ url: dms.url, send_resolved: false }] };
}

export function alertmanagerConfig(input: AlertmanagerConfigInput): Record<string, unknown> {
  const repeat = input.repeatInterval ?? "4h";
  return {
    route: {
      // Alerts without a known severity still need a receiver; "blackhole" has no integrations.
      receiver: "blackhole",
      group_by: ["alertname", "provider", "kind"],
      group_wait: input.groupWait ?? "30s",
      group_interval: input.groupInterval ?? "5m",
      repeat_interval: repeat,
      routes: [
        {
          receiver: deadMansSwitchReceiver,
          matchers: [`alertname="${watchdogAlert}"`],
          group_wait: "0s",
          group_interval: deadMansSwitchInterval,
          repeat_interval: deadMansSwitchInterval,
        },
        // Severity "none" is informational: it must never reach a page or a channel.
        { receiver: "blackhole", matchers: ['severity="none"'] },
        { receiver: "critical", matchers: ['severity="critical"'], repeat_interval: repeat },
        { receiver: "warning", matchers: ['severity="warning"'], repeat_interval: "12h" },
      ],
    },
    // While a critical alert fires, a warning with the same name and labels adds only noise.
    inhibit_rules: [{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ["alertname", "provider", "kind"] }],
    receivers: [{ name: "blackhole" }, deadMansSwitchConfig(input.deadMansSwitch), receiverConfig("critical", input.critical), receiverConfig("warning", input.warning)],
  };
}

export const alertmanagerConfigYaml = (input: AlertmanagerConfigInput): string =>
  stringify(alertmanagerConfig(input), { lineWidth: 0 });
