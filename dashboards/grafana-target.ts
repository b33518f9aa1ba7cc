/**
 * The Grafana the dashboards are written for (the pinned grafana/grafana:10.2.3) and the one place
 * where the Foundation SDK's output, generated from Grafana's newest schemas, is brought down to it.
 * tests/grafana/ checks the result against Grafana 10.2.3's own schemas, so a field a newer SDK
 * starts to emit fails the test instead of reaching Grafana; it is then either set aside here
 * (with the version that introduced it) or the dashboards stop using it.
 */
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";

export const grafanaTarget = {
  version: "10.2.3",
  /**
   * DASHBOARD_SCHEMA_VERSION of public/app/features/dashboard/state/DashboardMigrator.ts in the
   * v10.2.3 build: 39 (migration 39, grafana/grafana#76801, is in the 10.2.3 release; dashboards
   * saved by 10.2.3 carry 39, by 10.2.2 carry 38). Grafana migrates a dashboard up to its own
   * version on load; a higher one (the SDK writes 42) is taken as is, with fields 10.2 cannot read.
   */
  schemaVersion: 39,
} as const;

/** Fields the SDK writes that Grafana 10.2.3 does not know, with the release that introduced them. */
const newerFields = {
  /** Every template variable. `auto*` belong to interval variables only (all versions). */
  variable: { allowCustomValue: "11.5.0", auto: "interval variables", auto_min: "interval variables", auto_count: "interval variables" },
  /** `options` of a panel, by panel type. */
  options: {
    stat: { showPercentChange: "10.3.0", percentChangeColorMode: "11.1.0" },
    "state-timeline": { perPage: "11.2.0" },
    // grafana/grafana#92449 (merged after 11.2.0 shipped); 10.2.3's bar gauge has no legend.
    bargauge: { legend: "11.3.0" },
  } as Record<string, Record<string, string>>,
} as const;

/** The dashboard as Grafana 10.2.3 reads it: its schemaVersion, without the fields it does not know. */
export function forGrafanaTarget(d: Dashboard): Dashboard {
  const variables = (d.templating?.list ?? []).map((v) => {
    if (v.type === "interval") return v;
    const kept = { ...v } as Record<string, unknown>;
    for (const k of Object.keys(newerFields.variable)) delete kept[k];
    return kept as unknown as typeof v;
  });
  const panels = (d.panels ?? []).map((p) => {
    const drop = "type" in p ? newerFields.options[p.type] : undefined;
    if (!drop || !("options" in p) || !p.options) return p;
    const options = { ...(p.options as Record<string, unknown>) };
    for (const k of Object.keys(drop)) delete options[k];
    return { ...p, options };
  });
  return { ...d, schemaVersion: grafanaTarget.schemaVersion, templating: { ...d.templating, list: variables }, panels };
}
