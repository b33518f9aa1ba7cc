/** Renders typed alert rules into a Prometheus rule file (YAML). */
import { stringify } from "yaml";
import { checkedRunbookBaseUrl } from "./runbook-url";
import type { AlertRule, RenderOptions } from "./types";

export interface RuleFile {
  groups: {
    name: string;
    interval?: string;
    rules: {
      alert: string;
      expr: string;
      for?: string;
      labels: Record<string, string>;
      annotations: Record<string, string>;
    }[];
  }[];
}

export function ruleFile(rules: readonly AlertRule[], opts: RenderOptions): RuleFile {
  const base = checkedRunbookBaseUrl(opts.runbookBaseUrl);
  const names = new Set<string>();
  for (const r of rules) {
    if (names.has(r.alert)) throw new Error(`alert rules: duplicate alert name "${r.alert}"`);
    names.add(r.alert);
  }
  return {
    groups: [
      {
        name: opts.groupName ?? "apex",
        ...(opts.interval ? { interval: opts.interval } : {}),
        rules: rules.map((r) => ({
          alert: r.alert,
          expr: r.expr,
          ...(r.for ? { for: r.for } : {}),
          labels: { severity: r.severity },
          annotations: {
            summary: r.summary,
            description: r.description,
            runbook_url: `${base}/${r.alert}.md`,
          },
        })),
      },
    ],
  };
}

export const ruleFileYaml = (rules: readonly AlertRule[], opts: RenderOptions): string =>
  stringify(ruleFile(rules, opts), { lineWidth: 0 });
