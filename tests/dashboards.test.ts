import { describe, expect, it } from "vitest";
import { allMetricNames, metrics } from "../app/src/contract/metrics";
import { apexDashboards } from "../dashboards";
import { metricFamily, metricNamesIn } from "../components/observability/promql-metrics";
import { observedMetricFamilies } from "../components/observability/queried-metrics";
import { datasourceUids } from "../components/observability/grafana-content";
import { defaultsFor } from "../config";
import { observabilitySections } from "../config/observability";
import { alertRules, thresholds as alertThresholds } from "../alerts";
import { grafanaTarget } from "../dashboards/grafana-target";
import { operatorStackConfig } from "./harness";
import { overviewDashboard } from "../dashboards/overview";
import { grafana1023 } from "./grafana/grafana-10.2.3";
import { grafanaProblems } from "./grafana/check-dashboard";

interface Panel {
  id?: number;
  type: string;
  title: string;
  fieldConfig?: { defaults?: { unit?: string; thresholds?: { steps: { value: number | null; color: string }[] } } };
  datasource?: unknown;
  targets?: { expr?: string; instant?: boolean; range?: boolean; datasource?: { type?: string; uid?: string } }[];
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
    ["apex-overview", [["gauge", "Active agents"], ["stat", "Workers alive"], ["gauge", "Running tasks"], ["stat", "Total cost"], ["stat", "Success rate"]]],
    [
      "apex-performance",
      [
        ["timeseries", "Task latency P50 / P95 / P99"],
        ["timeseries", "LLM latency by model"],
        ["timeseries", "Queue depth"],
        ["timeseries", "Queue oldest wait"],
        ["timeseries", "Workers and agent runners"],
        ["timeseries", "Worker utilization"],
      ],
    ],
    [
      "apex-cost",
      [
        ["timeseries", "Cost per hour"],
        ["piechart", "Cost by model"],
        ["barchart", "Cost by agent"],
        ["timeseries", "Tokens per hour by model"],
        ["bargauge", "Budget left"],
        ["bargauge", "Budget left (USD)"],
        ["timeseries", "Budget rejections"],
      ],
    ],
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
    expect(unit("apex-cost", "Budget left")).toBe("percentunit");
    expect(unit("apex-cost", "Budget left (USD)")).toBe("currencyUSD");
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
          // Every use of a cluster gauge is aggregated by max() (by labels or not), never sum().
          for (const g of cluster) {
            for (const m of expr.matchAll(new RegExp(`\\b${g}\\b`, "g"))) {
              expect(expr.slice(0, m.index), `${d.uid} / ${p.title}: ${g}`).toMatch(/\bmax(?:\s+by\s*\([^)]*\))?\s*\(\s*$/);
            }
          }
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

describe("dashboard queries follow the metric definitions", () => {
  const panel = (uid: string, title: string) => {
    const found = byUid(uid).panels.find((p) => p.title === title);
    if (!found) throw new Error(`${uid} has no panel ${title}`);
    return found;
  };
  const exprs = (uid: string, title: string) => (panel(uid, title).targets ?? []).map((t) => t.expr);
  const steps = (uid: string, title: string) => panel(uid, title).fieldConfig?.defaults?.thresholds?.steps ?? [];

  it("Overview shows the agent runners and the live workers, each the max over replicas, red at 0", () => {
    expect(exprs("apex-overview", "Active agents")).toEqual([`max(${metrics.activeAgents.name})`]);
    expect(exprs("apex-overview", "Workers alive")).toEqual([`max(${metrics.workersAlive.name})`]);
    for (const title of ["Active agents", "Workers alive"]) {
      expect(steps("apex-overview", title), title).toEqual([{ value: null, color: "red" }, { value: 1, color: "green" }]);
    }
  });

  it("Performance shows queue depth and the oldest wait, with TaskQueueStalled's threshold", () => {
    expect(exprs("apex-performance", "Queue depth")).toEqual([`max(${metrics.queueDepth.name})`]);
    expect(exprs("apex-performance", "Queue oldest wait")).toEqual([`max(${metrics.queueOldestWait.name})`]);
    expect(panel("apex-performance", "Queue oldest wait").fieldConfig?.defaults?.unit).toBe("s");
    expect(steps("apex-performance", "Queue oldest wait")).toContainEqual({ value: alertThresholds.queueOldestWaitSeconds, color: "red" });
    expect(exprs("apex-performance", "Workers and agent runners")).toEqual([`max(${metrics.workersAlive.name})`, `max(${metrics.activeAgents.name})`]);
  });

  it("success and error rates divide by succeeded + failed, as HighTaskFailureRate does", () => {
    const alert = alertRules.find((r) => r.alert === "HighTaskFailureRate");
    const tasks = metrics.tasksTotal.name;
    // The alert's denominator selector, whatever its window: the dashboards must count the same tasks.
    const denominator = new RegExp(`/ sum\\(rate\\((${tasks}\\{[^}]*\\})\\[`).exec(alert?.expr ?? "")?.[1];
    expect(denominator).toBe(`${tasks}{status=~"succeeded|failed"}`);
    expect(exprs("apex-errors", "Error rate")).toEqual([
      `sum(rate(${tasks}{status="failed"}[$__rate_interval])) / sum(rate(${denominator}[$__rate_interval]))`,
    ]);
    expect(exprs("apex-overview", "Success rate")).toEqual([`sum(increase(${tasks}{status="succeeded"}[$__range])) / sum(increase(${denominator}[$__range]))`]);
    expect(steps("apex-errors", "Error rate")).toContainEqual({ value: alertThresholds.taskFailureRatio, color: "red" });
  });

  it("budget panels read one series per budget (max over replicas), the share left being BudgetNearlyExhausted's ratio, red under its threshold", () => {
    const perBudget = (m: { name: string }) => `max by (scope, scope_id, period) (${m.name})`;
    const usdShare = `${perBudget(metrics.budgetRemainingUsd)} / (${perBudget(metrics.budgetLimitUsd)} > 0)`;
    const tokenShare = `${perBudget(metrics.budgetRemainingTokens)} / (${perBudget(metrics.budgetLimitTokens)} > 0)`;
    const left = panel("apex-cost", "Budget left");
    expect((left.targets ?? []).map((t) => [t.expr, t.instant])).toEqual([[usdShare, true], [tokenShare, true]]);
    const alert = alertRules.find((r) => r.alert === "BudgetNearlyExhausted");
    for (const share of [usdShare, tokenShare]) expect(alert?.expr).toContain(`${share} <= ${alertThresholds.budgetLeftShare}`);
    expect(steps("apex-cost", "Budget left")).toEqual([{ value: null, color: "red" }, { value: alertThresholds.budgetLeftShare, color: "green" }]);
    expect(exprs("apex-cost", "Budget left (USD)")).toEqual([perBudget(metrics.budgetRemainingUsd)]);
    expect(exprs("apex-cost", "Budget rejections")).toEqual([`sum by (scope) (rate(${metrics.budgetRejectionsTotal.name}[$__rate_interval])) * 60`]);
    expect(metrics.budgetRejectionsTotal.labels).toEqual(["scope"]);
  });

  it("total cost, cost by model and cost by agent are instant increases over the same range, so they add up", () => {
    const cost = [
      ["apex-overview", "Total cost", `sum(increase(${metrics.costTotal.name}[$__range]))`],
      ["apex-cost", "Cost by model", `sum by (model) (increase(${metrics.costTotal.name}[$__range]))`],
      ["apex-cost", "Cost by agent", `topk(20, sum by (agent_id) (increase(${metrics.agentCostTotal.name}[$__range])))`],
    ] as const;
    for (const [uid, title, expr] of cost) {
      const targets = panel(uid, title).targets ?? [];
      expect(targets.map((t) => [t.expr, t.instant, t.range]), title).toEqual([[expr, true, false]]);
    }
  });
});

describe(`Grafana ${grafana1023.version} reads the dashboards`, () => {
  const check = (model: unknown) => grafanaProblems(model, grafana1023, { datasourceUids: Object.values(datasourceUids) });
  const overview = () => JSON.parse(dashboards[0]!.json) as { panels: Panel[] };

  it("the rules are for the Grafana image the stacks deploy, and the dashboards are written for it", () => {
    const section = observabilitySections.observability;
    const image = (env: "dev" | "prod") => (defaultsFor(section, env) as { images: { grafana: string } }).images.grafana;
    expect([image("dev"), image("prod")]).toEqual([grafana1023.image, grafana1023.image]);
    // Prod pins it by digest (set by the operator), still that release.
    const prod = operatorStackConfig("prod").observability as { images: { grafana: string } };
    expect(prod.images.grafana).toMatch(new RegExp(`^${grafana1023.image.replace(/[.]/g, "\\.")}@sha256:[0-9a-f]{64}$`));
    expect(grafanaTarget).toEqual({ version: grafana1023.version, schemaVersion: grafana1023.schemaVersion });
  });

  it.each(dashboards.map((d) => [d.uid, d.model] as const))("%s has only schemaVersion, panel types, options and data source references Grafana 10.2.3 knows", (_uid, model) => {
    expect(check(model)).toEqual([]);
    expect(model).toMatchObject({ schemaVersion: 39 });
  });

  it("refuses what the Foundation SDK writes for newer Grafanas when it is not brought down", () => {
    const raw = check(JSON.parse(JSON.stringify(overviewDashboard())));
    expect(raw).toContainEqual(expect.stringMatching(/^apex-overview\.schemaVersion: \d+, Grafana 10\.2\.3 writes 39$/));
    expect(raw.length).toBeGreaterThan(1);
  });

  /** Sets `value` at `path` in the Overview's model: panel 0 is Active agents (gauge), 1 Workers alive (stat). */
  const setIn = (root: unknown, path: readonly (string | number)[], value: unknown) => {
    let at = root as Record<string | number, unknown>;
    for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
    at[path[path.length - 1]!] = value;
  };
  it.each([
    ["a newer schemaVersion", ["schemaVersion"], 42, "apex-overview.schemaVersion: 42, Grafana 10.2.3 writes 39"],
    ["a stat option of 10.3", ["panels", 1, "options", "showPercentChange"], false, "apex-overview / Workers alive: options.showPercentChange: not a field of Grafana 10.2.3"],
    ["a field config key of 11.1", ["panels", 0, "fieldConfig", "defaults", "custom"], { insertNulls: false }, "apex-overview / Active agents: fieldConfig.defaults.custom.insertNulls: not a field of Grafana 10.2.3"],
    ["a variable field of 11.5", ["templating", "list", 0, "allowCustomValue"], true, "apex-overview.templating.list[0].allowCustomValue: not a field of Grafana 10.2.3"],
    ["a panel type without rules", ["panels", 0, "type"], "trend", 'apex-overview / Active agents: panel type "trend" has no rules for Grafana 10.2.3'],
    ["an unknown query field", ["panels", 0, "targets", 0, "scopes"], [], "apex-overview / Active agents: targets[0].scopes: not a field of Grafana 10.2.3"],
    ["a data source by name", ["panels", 0, "targets", 0, "datasource"], "Prometheus", 'apex-overview / Active agents: targets[0].datasource: a data source is referred to by { type, uid }, not "Prometheus"'],
    ["an undefined variable", ["panels", 0, "targets", 0, "datasource", "uid"], "${prom}", "apex-overview / Active agents: targets[0].datasource.uid: ${prom} is not a data source variable of the dashboard"],
    ["an unknown data source uid", ["panels", 0, "datasource"], { type: "prometheus", uid: "grafanacloud-prom" }, 'apex-overview / Active agents: datasource.uid: "grafanacloud-prom" is neither a data source variable nor a provisioned data source'],
    ["a provisioned data source uid", ["panels", 0, "datasource"], { type: "prometheus", uid: datasourceUids.prometheus }, undefined],
  ] as const)("finds %s", (_what, path, value, problem) => {
    const m = overview();
    expect([m.panels[0]?.title, m.panels[1]?.title]).toEqual(["Active agents", "Workers alive"]);
    setIn(m, path, value);
    expect(check(m)).toEqual(problem === undefined ? [] : [problem]);
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
