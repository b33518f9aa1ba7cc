/**
 * The Cost dashboard's budget panels (issue 16): how much of each agent's and API key's budget is
 * left in its current period, and the LLM calls budgets refused. The gauges are cluster-wide (read
 * from Postgres by every replica), so each is max() by the budget's labels, as BudgetNearlyExhausted
 * reads them.
 */
import type { Panel } from "@grafana/grafana-foundation-sdk/dashboard";
import { PanelBuilder as BarGaugePanel } from "@grafana/grafana-foundation-sdk/bargauge";
import { PanelBuilder as TimeseriesPanel } from "@grafana/grafana-foundation-sdk/timeseries";
import { BarGaugeDisplayMode, ReduceDataOptionsBuilder, VizOrientation } from "@grafana/grafana-foundation-sdk/common";
import type { Builder } from "@grafana/grafana-foundation-sdk/cog";
import { metrics, type MetricDef } from "../app/src/contract/metrics";
import { thresholds as alertThresholds } from "../alerts/rules";
import { instant, legend, query, rateInterval, redBelow, thresholds } from "./common";

/** One series per budget: the labels of the apex_budget_* gauges. */
const budgetLabels = "scope, scope_id, period";
const budgetLegend = "{{scope}} {{scope_id}} {{period}}";

const perBudget = (gauge: MetricDef): string => `max by (${budgetLabels}) (${gauge.name})`;

/** Remaining ÷ limit per budget; a limit of 0 (spending switched off) is left out rather than divided by. */
const shareLeft = (remaining: MetricDef, limit: MetricDef): string => `${perBudget(remaining)} / (${perBudget(limit)} > 0)`;

const last = () => new ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false);

export function budgetPanels(): Builder<Panel>[] {
  const { budgetRemainingUsd, budgetLimitUsd, budgetRemainingTokens, budgetLimitTokens, budgetRejectionsTotal } = metrics;
  const nearlyExhaustedPct = alertThresholds.budgetLeftShare * 100;
  return [
    new BarGaugePanel()
      .title("Budget left")
      .description(
        "Share of each agent and API key budget's limit left in its current period (remaining = limit − spent − reserved by calls in flight), " +
          `for its USD and its token limit. Red under ${nearlyExhaustedPct}%: BudgetNearlyExhausted fires at ${nearlyExhaustedPct}% left or less; ` +
          "at 0 the budget refuses LLM calls.",
      )
      .withTarget(instant("A", shareLeft(budgetRemainingUsd, budgetLimitUsd), `${budgetLegend} USD`))
      .withTarget(instant("B", shareLeft(budgetRemainingTokens, budgetLimitTokens), `${budgetLegend} tokens`))
      .unit("percentunit").min(0).max(1).decimals(0)
      .thresholds(redBelow(alertThresholds.budgetLeftShare))
      .displayMode(BarGaugeDisplayMode.Gradient)
      .orientation(VizOrientation.Horizontal)
      .reduceOptions(last())
      .span(12).height(10),
    new BarGaugePanel()
      .title("Budget left (USD)")
      .description(
        "US dollars each agent and API key budget with a USD limit has left in its current period (limit − spent − reserved). " +
          "Bars compare budgets with one another; Budget left shows each against its own limit.",
      )
      .withTarget(instant("A", perBudget(budgetRemainingUsd), budgetLegend))
      .unit("currencyUSD").min(0).decimals(2)
      .thresholds(thresholds())
      .displayMode(BarGaugeDisplayMode.Gradient)
      .orientation(VizOrientation.Horizontal)
      .reduceOptions(last())
      .span(12).height(10),
    new TimeseriesPanel()
      .title("Budget rejections")
      .description(
        "LLM calls a budget refused before they went out, per minute, by the refusing budget's scope (dag, agent, api_key). " +
          "Each fails its task with budget_exceeded, or waits for room or for the period's reset.",
      )
      .legend(legend())
      .withTarget(query("A", `sum by (scope) (rate(${budgetRejectionsTotal.name}[${rateInterval}])) * 60`, "{{scope}}"))
      .unit("cpm").min(0)
      .thresholds(thresholds())
      .span(24).height(8),
  ];
}
