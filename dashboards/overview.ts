/** Overview (seed §5.1): active agents, running tasks, total cost, success rate. */
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { PanelBuilder as GaugePanel } from "@grafana/grafana-foundation-sdk/gauge";
import { PanelBuilder as StatPanel } from "@grafana/grafana-foundation-sdk/stat";
import { ReduceDataOptionsBuilder, BigValueGraphMode } from "@grafana/grafana-foundation-sdk/common";
import { metrics } from "../app/src/contract/metrics";
import { apexDashboard, query, range, rateInterval, thresholds } from "./common";

const last = () => new ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false);

export function overviewDashboard(): Dashboard {
  const { activeAgents, runningTasks, costTotal, tasksTotal } = metrics;
  return apexDashboard("apex-overview", "Apex / Overview", "Agents, tasks, spend and success at a glance.")
    .withPanel(
      new GaugePanel()
        .title("Active agents")
        .description("Agents with at least one unfinished DAG (cluster-wide gauge: max over replicas).")
        .withTarget(query("A", `max(${activeAgents.name})`, "active agents"))
        .unit("short").min(0).decimals(0)
        .thresholds(thresholds())
        .reduceOptions(last())
        .span(6).height(8),
    )
    .withPanel(
      new GaugePanel()
        .title("Running tasks")
        .description("Tasks running under a lease right now (cluster-wide gauge: max over replicas).")
        .withTarget(query("A", `max(${runningTasks.name})`, "running tasks"))
        .unit("short").min(0).decimals(0)
        .thresholds(thresholds())
        .reduceOptions(last())
        .span(6).height(8),
    )
    .withPanel(
      new StatPanel()
        .title("Total cost")
        .description("LLM spend in US dollars over the selected time range.")
        .withTarget(query("A", `sum(increase(${costTotal.name}[${range}]))`, "USD"))
        .unit("currencyUSD").decimals(2)
        .thresholds(thresholds())
        .graphMode(BigValueGraphMode.None)
        .reduceOptions(last())
        .span(6).height(8),
    )
    .withPanel(
      new StatPanel()
        .title("Success rate")
        .description("Share of finished tasks that succeeded.")
        .withTarget(
          query("A", `sum(rate(${tasksTotal.name}{status="succeeded"}[${rateInterval}])) / sum(rate(${tasksTotal.name}[${rateInterval}]))`, "success rate"),
        )
        .unit("percentunit").min(0).max(1).decimals(1)
        .thresholds(
          thresholds().steps([
            { value: null, color: "red" },
            { value: 0.9, color: "orange" },
            { value: 0.95, color: "green" },
          ]),
        )
        .graphMode(BigValueGraphMode.Area)
        .reduceOptions(last())
        .span(6).height(8),
    )
    .build();
}
