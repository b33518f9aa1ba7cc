/** The metric families dashboards/ and alerts/ query: what the runtime (or an exporter) must expose. */
import { metrics } from "../../app/src/contract/metrics";
import { alertRules } from "../../alerts";
import { apexDashboards } from "../../dashboards";
import { queriedMetricNames } from "./promql-metrics";

export function observedMetricFamilies(): { dashboards: string[]; alerts: string[] } {
  const dashboardExprs = apexDashboards().flatMap((d) =>
    ((JSON.parse(d.json) as { panels?: { targets?: { expr?: string }[] }[] }).panels ?? []).flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? "")),
  );
  const histograms = Object.values(metrics).filter((m) => m.type === "histogram").map((m) => m.name);
  return queriedMetricNames({ dashboards: dashboardExprs, alerts: alertRules.map((r) => r.expr) }, histograms);
}
