/**
 * What a PromQL expression needs from the scraped metrics: metric names (via the observability
 * module's parser), the labels matched on each metric (with the values matched by `=`), and the
 * labels it aggregates by. Used to prove that dashboards and alerts only ask for what exists.
 */
import { metricNamesIn } from "../../../components/observability/promql-metrics";

export interface LabelNeed {
  readonly metric: string;
  readonly label: string;
  /** Set for `label="value"` matchers: some series must carry exactly this value. */
  readonly value?: string;
}

export interface QueryNeeds {
  readonly metrics: readonly string[];
  readonly labels: readonly LabelNeed[];
  /** `by (...)` / `without (...)` labels: each must exist on at least one metric of the query. */
  readonly groupingLabels: readonly string[];
}

const selector = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g;
const matcher = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g;
const grouping = /\b(?:by|without)\s*\(([^)]*)\)/g;

export function queryNeeds(expr: string): QueryNeeds {
  const labels: LabelNeed[] = [];
  for (const s of expr.matchAll(selector)) {
    for (const m of s[2]!.matchAll(matcher)) {
      labels.push({ metric: s[1]!, label: m[1]!, ...(m[2] === "=" ? { value: m[3]! } : {}) });
    }
  }
  const groupingLabels = [...expr.matchAll(grouping)].flatMap((g) =>
    g[1]!
      .split(",")
      .map((l) => l.trim())
      .filter(Boolean),
  );
  return { metrics: metricNamesIn(expr), labels, groupingLabels };
}

/** Grafana's macros, replaced the way Grafana would for a short window on a 1s-scraped Prometheus. */
export function expandGrafanaMacros(expr: string, window = "1m", range = "5m"): string {
  return expr.replace(/\$__rate_interval|\$__interval/g, window).replace(/\$__range/g, range);
}

interface PanelLike {
  readonly title?: string;
  readonly targets?: readonly { readonly expr?: string; readonly legendFormat?: string }[];
  readonly panels?: readonly PanelLike[];
}

export interface DashboardQuery {
  readonly dashboard: string;
  readonly panel: string;
  readonly expr: string;
  readonly legendLabels: readonly string[];
}

/** Every Prometheus query of the rendered dashboards (rows' nested panels included). */
export function dashboardQueries(dashboards: readonly { readonly uid: string; readonly json: string }[]): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  const walk = (uid: string, panels: readonly PanelLike[] | undefined) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) {
        if (!t.expr) continue;
        const legendLabels = [...(t.legendFormat ?? "").matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)].map((m) => m[1]!);
        out.push({ dashboard: uid, panel: p.title ?? "(untitled)", expr: t.expr, legendLabels });
      }
      walk(uid, p.panels);
    }
  };
  for (const d of dashboards) walk(d.uid, (JSON.parse(d.json) as { panels?: PanelLike[] }).panels);
  return out;
}
