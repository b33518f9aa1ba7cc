/**
 * Cost (seed §5.3): cost per hour, cost by model (pie), cost by agent (bar); plus the tokens behind
 * the cost, and the agent and API key budgets (budget-panels.ts). By model and by agent are the same instant `increase(...[$__range])`, as the Overview's
 * Total cost, so the three reconcile over the selected range.
 */
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { PanelBuilder as TimeseriesPanel } from "@grafana/grafana-foundation-sdk/timeseries";
import { PanelBuilder as PiechartPanel, PieChartType, PieChartLabels, PieChartLegendOptionsBuilder, PieChartLegendValues } from "@grafana/grafana-foundation-sdk/piechart";
import { PanelBuilder as BarchartPanel } from "@grafana/grafana-foundation-sdk/barchart";
import { LegendDisplayMode, LegendPlacement, ReduceDataOptionsBuilder, VizOrientation } from "@grafana/grafana-foundation-sdk/common";
import { metrics } from "../app/src/contract/metrics";
import { thresholds as alertThresholds } from "../alerts/rules";
import { apexDashboard, instant, instantTable, query, range, rateInterval, legend, thresholds } from "./common";
import { budgetPanels } from "./budget-panels";

export function costDashboard(): Dashboard {
  const { costTotal, agentCostTotal, tokensTotal } = metrics;
  const dashboard = apexDashboard("apex-cost", "Apex / Cost", "LLM spend in US dollars: per hour, per model, per agent; what agent and API key budgets have left.")
    .withPanel(
      new TimeseriesPanel()
        .title("Cost per hour")
        .legend(legend())
        .description(`LLM spend rate in USD per hour. CostOverspend fires above $${alertThresholds.costPerHourUsd} over the last hour.`)
        .withTarget(query("A", `sum(rate(${costTotal.name}[${rateInterval}])) * 3600`, "USD / hour"))
        .unit("currencyUSD").min(0).decimals(2)
        .thresholds(thresholds(alertThresholds.costPerHourUsd))
        .span(24).height(9),
    )
    .withPanel(
      new PiechartPanel()
        .title("Cost by model")
        .description("USD spent per provider/model over the selected time range.")
        .withTarget(instant("A", `sum by (model) (increase(${costTotal.name}[${range}]))`, "{{model}}"))
        .unit("currencyUSD").decimals(2)
        .pieType(PieChartType.Donut)
        .legend(new PieChartLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.Table).placement(LegendPlacement.Right).values([PieChartLegendValues.Value, PieChartLegendValues.Percent]))
        .displayLabels([PieChartLabels.Name, PieChartLabels.Percent])
        .reduceOptions(new ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
        .span(12).height(10),
    )
    .withPanel(
      new BarchartPanel()
        .title("Cost by agent")
        .description("USD spent per agent over the selected time range: the 20 agents that spent most (all agents add up to Total cost).")
        .withTarget(instantTable("A", `topk(20, sum by (agent_id) (increase(${agentCostTotal.name}[${range}])))`))
        .unit("currencyUSD").decimals(2)
        .xField("agent_id")
        .orientation(VizOrientation.Horizontal)
        .thresholds(thresholds())
        .span(12).height(10),
    )
    .withPanel(
      new TimeseriesPanel()
        .title("Tokens per hour by model")
        .description("LLM tokens per hour by provider/model and kind (input, output, cached).")
        .legend(legend())
        .withTarget(query("A", `sum by (model, kind) (rate(${tokensTotal.name}[${rateInterval}])) * 3600`, "{{model}} {{kind}}"))
        .unit("short").min(0)
        .thresholds(thresholds())
        .span(24).height(9),
    );
  for (const panel of budgetPanels()) dashboard.withPanel(panel);
  return dashboard.build();
}
