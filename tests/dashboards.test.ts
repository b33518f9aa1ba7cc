import { describe, expect, it } from "vitest";
import { allMetricNames, metrics } from "../app/src/contract/metrics";
import { apexDashboards } from "../dashboards";
import { metricFamily, metricNamesIn } from "../components/observability/promql-metrics";
import { observedMetricFamilies } from "../components/observability/queried-metrics";

interface Panel {
  id?: number;
  type: string;
  title: string;
  fieldConfig?: { defaults?: { unit?: string } };
  datasource?: unknown;
  targets?: { expr?: string; datasource?: { type?: string; uid?: string } }[];
}

const dashboards = apexDashboards().map((d) => ({ ...d, model: JSON.parse(d.json) as { uid: string; title: string; panels: Panel[]; templating: { list: { type: string; name: string; query: string }[] } } }));
const byUid = (uid: string) => {
  const d = dashboards.find((x) => x.uid === uid);
  if (!d) throw new Error(`no dashboard ${uid}`);
  return d.model;
};
const histograms = Object.values(metrics).filter((m) => m.type === "histogram").map((m) => m.name);

describe("dashboards", () => {
  it("are the seed's four with stable uids", () => {
    expect(dashboards.map((d) => [d.uid, d.title])).toEqual([
      ["apex-overview", "Apex / Overview"],
      ["apex-performance", "Apex / Performance"],
      ["apex-cost", "Apex / Cost"],
      ["apex-errors", "Apex / Errors"],
    ]);
    // Rebuilding gives byte-identical JSON: no random ids or timestamps.
    expect(apexDashboards().map((d) => d.json)).toEqual(dashboards.map((d) => d.json));
  });

  it.each([
    ["apex-overview", [["gauge", "Active agents"], ["gauge", "Running tasks"], ["stat", "Total cost"], ["stat", "Success rate"]]],
    ["apex-performance", [["timeseries", "Task latency P50 / P95 / P99"], ["timeseries", "LLM latency by model"], ["timeseries", "Queue depth"], ["timeseries", "Worker utilization"]]],
    ["apex-cost", [["timeseries", "Cost per hour"], ["piechart", "Cost by model"], ["barchart", "Cost by agent"], ["timeseries", "Tokens per hour by model"]]],
    ["apex-errors", [["timeseries", "Error rate"], ["barchart", "Errors by type"], ["state-timeline", "Circuit breaker state"]]],
  ])("%s has every panel the seed lists, with the right visualisation", (uid, panels) => {
    expect(byUid(uid).panels.map((p) => [p.type, p.title])).toEqual(panels);
  });

  it("give every panel a unit, a unique id and at least one query through the $datasource variable", () => {
    for (const d of dashboards) {
      const ids = d.model.panels.map((p) => p.id);
      expect(new Set(ids).size, d.uid).toBe(ids.length);
      for (const p of d.model.panels) {
        expect(p.fieldConfig?.defaults?.unit, `${d.uid} / ${p.title}: unit`).toMatch(/\S/);
        expect(p.targets?.length, `${d.uid} / ${p.title}: targets`).toBeGreaterThan(0);
        for (const t of p.targets ?? []) expect(t.datasource, `${d.uid} / ${p.title}`).toEqual({ type: "prometheus", uid: "${datasource}" });
      }
      expect(d.model.templating.list).toContainEqual(expect.objectContaining({ type: "datasource", name: "datasource", query: "prometheus" }));
    }
  });

  it("use the units the quantities are in", () => {
    const unit = (uid: string, title: string) => byUid(uid).panels.find((p) => p.title === title)?.fieldConfig?.defaults?.unit;
    expect(unit("apex-overview", "Total cost")).toBe("currencyUSD");
    expect(unit("apex-overview", "Success rate")).toBe("percentunit");
    expect(unit("apex-performance", "Task latency P50 / P95 / P99")).toBe("s");
    expect(unit("apex-cost", "Cost by agent")).toBe("currencyUSD");
    expect(unit("apex-errors", "Error rate")).toBe("percentunit");
  });

  it("query only metrics defined in the shared contract", () => {
    let checked = 0;
    for (const d of dashboards) {
      for (const p of d.model.panels) {
        for (const t of p.targets ?? []) {
          const names = metricNamesIn(t.expr ?? "");
          expect(names.length, `${d.uid} / ${p.title}: ${t.expr}`).toBeGreaterThan(0);
          for (const n of names) {
            expect(allMetricNames, `${d.uid} / ${p.title} queries ${n}`).toContain(metricFamily(n, histograms));
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(14);
  });

  it("use $__rate_interval for every rate() and aggregate cluster-scope gauges with max()", () => {
    const cluster = Object.values(metrics).filter((m) => m.scope === "cluster").map((m) => m.name);
    for (const d of dashboards) {
      for (const p of d.model.panels) {
        for (const t of p.targets ?? []) {
          const expr = t.expr ?? "";
          for (const m of expr.matchAll(/\brate\([^[]*\[([^\]]+)\]/g)) expect(m[1], `${d.uid} / ${p.title}`).toBe("$__rate_interval");
          for (const g of cluster) if (expr.includes(g)) expect(expr, `${d.uid} / ${p.title}`).toContain(`max(${g})`);
        }
      }
    }
    expect(dashboards.some((d) => d.json.includes("$__rate_interval"))).toBe(true);
  });

  it("cost by agent and errors by type are keyed by the contract's labels", () => {
    const target = (uid: string, title: string) => byUid(uid).panels.find((p) => p.title === title)?.targets?.[0]?.expr ?? "";
    expect(metrics.agentCostTotal.labels).toContain("agent_id");
    expect(target("apex-cost", "Cost by agent")).toContain(`sum by (agent_id) (increase(${metrics.agentCostTotal.name}`);
    expect(metrics.taskErrorsTotal.labels).toContain("error_type");
    expect(target("apex-errors", "Errors by type")).toContain(`sum by (error_type) (increase(${metrics.taskErrorsTotal.name}`);
    expect(target("apex-errors", "Circuit breaker state")).toBe(`max by (provider) (${metrics.circuitBreakerState.name})`);
  });
});

describe("observedMetricFamilies", () => {
  it("lists what the runtime must expose: every contract metric is shown somewhere, alerts add only pg_up", () => {
    const { dashboards: shown, alerts } = observedMetricFamilies();
    expect(shown).toEqual([...allMetricNames].sort());
    expect(alerts.filter((n) => !allMetricNames.includes(n))).toEqual(["pg_up"]);
  });
});

describe("metricNamesIn", () => {
  it("finds metric names and ignores functions, labels, keywords and macros", () => {
    expect(metricNamesIn('histogram_quantile(0.95, sum by (le, kind) (rate(apex_task_duration_seconds_bucket{kind="llm"}[$__rate_interval])))')).toEqual(["apex_task_duration_seconds_bucket"]);
    expect(metricNamesIn("max(a_metric) == 0 or absent(b_metric) * 0").sort()).toEqual(["a_metric", "b_metric"]);
    expect(metricNamesIn('sum(rate(x_total{status="failed"}[5m])) / sum(rate(y_total[5m])) > 0.05').sort()).toEqual(["x_total", "y_total"]);
  });
});
