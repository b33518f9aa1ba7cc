/**
 * The metric families dashboards/ and alerts/ query: what the runtime (or an exporter) must expose.
 * Prometheus's own per-target series (`up`) are left out: no /metrics endpoint exposes them.
 */
import { metrics } from "../../app/src/contract/metrics";
import { alertRules, prometheusMetrics } from "../../alerts";
import { apexDashboards } from "../../dashboards";
import { queriedMetricNames } from "./promql-metrics";

export function observedMetricFamilies(): { dashboards: string[]; alerts: string[] } {
  const dashboardExprs = apexDashboards().flatMap((d) =>
    ((JSON.parse(d.json) as { panels?: { targets?: { expr?: string }[] }[] }).panels ?? []).flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? "")),
  );
  const histograms = Object.values(metrics).filter((m) => m.type === "histogram").map((m) => m.name);
  const queried = queriedMetricNames({ dashboards: dashboardExprs, alerts: alertRules.map((r) => r.expr) }, histograms);
  const fromPrometheus = new Set<string>(Object.values(prometheusMetrics));
  return { dashboards: queried.dashboards.filter((n) => !fromPrometheus.has(n)), alerts: queried.alerts.filter((n) => !fromPrometheus.has(n)) };
}
