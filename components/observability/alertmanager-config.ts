/**
 * Alertmanager's configuration as a plain function: alerts labelled severity="critical" go to the
 * critical receivers, severity="warning" to the warning receivers. Receiver URLs/keys are secrets:
 * the component calls this inside an Output and stores the result as a secret; the render script
 * passes placeholders.
 */
import { stringify } from "yaml";

export const receiverKinds = ["webhook", "slack", "pagerduty"] as const;
export type ReceiverKind = (typeof receiverKinds)[number];

export type Receiver =
  | { readonly kind: "webhook"; readonly url: string }
  | { readonly kind: "slack"; readonly url: string; readonly channel?: string }
  | { readonly kind: "pagerduty"; readonly routingKey: string };

export interface AlertmanagerConfigInput {
  readonly critical: readonly Receiver[];
  readonly warning: readonly Receiver[];
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
        { receiver: "critical", matchers: ['severity="critical"'], repeat_interval: repeat },
        { receiver: "warning", matchers: ['severity="warning"'], repeat_interval: "12h" },
      ],
    },
    // While a critical alert fires, a warning with the same name and labels adds only noise.
    inhibit_rules: [{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ["alertname", "provider", "kind"] }],
    receivers: [{ name: "blackhole" }, receiverConfig("critical", input.critical), receiverConfig("warning", input.warning)],
  };
}

export const alertmanagerConfigYaml = (input: AlertmanagerConfigInput): string =>
  stringify(alertmanagerConfig(input), { lineWidth: 0 });
