/**
 * Overview (seed §5.1): active agents, running tasks, total cost, success rate; plus the live
 * workers behind the agent runners (NoActiveAgents fires when both reach 0).
 */
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { PanelBuilder as GaugePanel } from "@grafana/grafana-foundation-sdk/gauge";
import { PanelBuilder as StatPanel } from "@grafana/grafana-foundation-sdk/stat";
import { ReduceDataOptionsBuilder, BigValueGraphMode } from "@grafana/grafana-foundation-sdk/common";
import { metrics } from "../app/src/contract/metrics";
import { apexDashboard, finishedShare, instant, query, range, redBelow, thresholds } from "./common";

const last = () => new ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false);

export function overviewDashboard(): Dashboard {
  const { activeAgents, workersAlive, runningTasks, costTotal } = metrics;
  return apexDashboard("apex-overview", "Apex / Overview", "Agents, tasks, spend and success at a glance.")
    .withPanel(
      new GaugePanel()
        .title("Active agents")
        .description(
          "Agent runners: task slots of the live workers, what can run agents' tasks now. 0 means nothing can, and NoActiveAgents fires; an idle healthy platform stays above 0 (cluster-wide gauge: max over replicas).",
        )
        .withTarget(query("A", `max(${activeAgents.name})`, "agent runners"))
        .unit("short").min(0).decimals(0)
        .thresholds(redBelow(1))
        .reduceOptions(last())
        .span(8).height(8),
    )
    .withPanel(
      new StatPanel()
        .title("Workers alive")
        .description("Worker processes heartbeating within their lease (cluster-wide gauge: max over replicas).")
        .withTarget(query("A", `max(${workersAlive.name})`, "workers"))
        .unit("short").decimals(0)
        .thresholds(redBelow(1))
        .graphMode(BigValueGraphMode.Area)
        .reduceOptions(last())
        .span(8).height(8),
    )
    .withPanel(
      new GaugePanel()
        .title("Running tasks")
        .description("Tasks running under a lease right now (cluster-wide gauge: max over replicas).")
        .withTarget(query("A", `max(${runningTasks.name})`, "running tasks"))
        .unit("short").min(0).decimals(0)
        .thresholds(thresholds())
        .reduceOptions(last())
        .span(8).height(8),
    )
    .withPanel(
      new StatPanel()
        .title("Total cost")
        .description("LLM spend in US dollars over the selected time range (the window of Cost by model and Cost by agent).")
        .withTarget(instant("A", `sum(increase(${costTotal.name}[${range}]))`, "USD"))
        .unit("currencyUSD").decimals(2)
        .thresholds(thresholds())
        .graphMode(BigValueGraphMode.None)
        .reduceOptions(last())
        .span(12).height(8),
    )
    .withPanel(
      new StatPanel()
        .title("Success rate")
        .description(
          "Succeeded ÷ (succeeded + failed) over the selected time range; skipped and cancelled tasks are neither (HighTaskFailureRate watches the failed share over 5m).",
        )
        .withTarget(instant("A", finishedShare("succeeded", (s) => `increase(${s}[${range}])`), "success rate"))
        .unit("percentunit").min(0).max(1).decimals(1)
        .thresholds(
          thresholds().steps([
            { value: null, color: "red" },
            { value: 0.9, color: "orange" },
            { value: 0.95, color: "green" },
          ]),
        )
        .graphMode(BigValueGraphMode.None)
        .reduceOptions(last())
        .span(12).height(8),
    )
    .build();
}
