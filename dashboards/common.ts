/** Pieces every Apex dashboard shares: the data source variable, query and threshold helpers. */
import { DatasourceVariableBuilder, DashboardBuilder, ThresholdsConfigBuilder, ThresholdsMode, DashboardCursorSync } from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder, PromQueryFormat } from "@grafana/grafana-foundation-sdk/prometheus";
import { VizLegendOptionsBuilder, LegendDisplayMode, LegendPlacement, type DataSourceRef } from "@grafana/grafana-foundation-sdk/common";
import { metrics, taskStatusLabels } from "../app/src/contract/metrics";

/** Name of the data source template variable (`$datasource`) every panel queries through. */
export const datasourceVariable = "datasource";

export const prometheusDatasource: DataSourceRef = { type: "prometheus", uid: `\${${datasourceVariable}}` };

/** Grafana's rate window: at least four scrape intervals, whatever the zoom. */
export const rateInterval = "$__rate_interval";
/** The whole time range picked in the dashboard. */
export const range = "$__range";

/** A dashboard with the Apex defaults: tags, UTC, 30s refresh, the data source variable, shared crosshair. */
export function apexDashboard(uid: string, title: string, description: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(["apex"])
    .timezone("utc")
    .refresh("30s")
    .time({ from: "now-6h", to: "now" })
    .tooltip(DashboardCursorSync.Crosshair)
    .withVariable(new DatasourceVariableBuilder(datasourceVariable).label("Data source").type("prometheus"));
}

/** A range query (time series). */
export const query = (refId: string, expr: string, legend = "__auto"): DataqueryBuilder =>
  new DataqueryBuilder().refId(refId).expr(expr).legendFormat(legend).range().datasource(prometheusDatasource);

/** An instant query: one value per series at the end of the range (stats over `$__range`). */
export const instant = (refId: string, expr: string, legend = "__auto"): DataqueryBuilder => query(refId, expr, legend).instant();

/** An instant query returning a table (for bar charts keyed by a label). */
export const instantTable = (refId: string, expr: string): DataqueryBuilder =>
  new DataqueryBuilder().refId(refId).expr(expr).instant().format(PromQueryFormat.Table).legendFormat("__auto").datasource(prometheusDatasource);

type FinishedStatus = Extract<(typeof taskStatusLabels)[number], "succeeded" | "failed">;

/**
 * Share of finished tasks with `status`: tasks of that status ÷ (succeeded + failed), each side
 * `over` a window (e.g. `s => \`rate(${s}[$__rate_interval])\``). Skipped and cancelled tasks are
 * neither, as in the HighTaskFailureRate alert.
 */
export const finishedShare = (status: FinishedStatus, over: (selector: string) => string): string => {
  const finished: readonly FinishedStatus[] = ["succeeded", "failed"];
  const tasks = metrics.tasksTotal.name;
  return `sum(${over(`${tasks}{status="${status}"}`)}) / sum(${over(`${tasks}{status=~"${finished.join("|")}"}`)})`;
};

/** Green below `warnAt`, red from it (`null` base step means "from -inf"). */
export const thresholds = (warnAt?: number): ThresholdsConfigBuilder =>
  new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps([{ value: null, color: "green" }, ...(warnAt === undefined ? [] : [{ value: warnAt, color: "red" }])]);

/** Red below `okFrom`, green from it: capacity that pages when it reaches 0. */
export const redBelow = (okFrom: number): ThresholdsConfigBuilder =>
  new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([{ value: null, color: "red" }, { value: okFrom, color: "green" }]);

/** A visible list legend at the bottom (the SDK's default hides it). */
export const legend = (): VizLegendOptionsBuilder =>
  new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom);
