/** Performance (seed §5.2): task latency percentiles, LLM latency by model, queue depth. */
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { PanelBuilder as TimeseriesPanel } from "@grafana/grafana-foundation-sdk/timeseries";
import { metrics } from "../app/src/contract/metrics";
import { apexDashboard, query, rateInterval, legend, thresholds } from "./common";

const quantile = (q: number, histogram: string, by: string[] = []) =>
  `histogram_quantile(${q}, sum by (${["le", ...by].join(", ")}) (rate(${histogram}_bucket[${rateInterval}])))`;

export function performanceDashboard(): Dashboard {
  const { taskDuration, llmLatency, queueDepth, workerUtilization } = metrics;
  return apexDashboard("apex-performance", "Apex / Performance", "Task and LLM latency, queue depth and worker load.")
    .withPanel(
      new TimeseriesPanel()
        .title("Task latency P50 / P95 / P99")
        .legend(legend())
        .description("Task attempt duration percentiles. HighLatency fires when P95 stays above 30s for 5m.")
        .withTarget(query("A", quantile(0.5, taskDuration.name), "P50"))
        .withTarget(query("B", quantile(0.95, taskDuration.name), "P95"))
        .withTarget(query("C", quantile(0.99, taskDuration.name), "P99"))
        .unit("s").min(0)
        .thresholds(thresholds(30))
        .span(12).height(9),
    )
    .withPanel(
      new TimeseriesPanel()
        .title("LLM latency by model")
        .legend(legend())
        .description("P95 LLM call latency per provider/model.")
        .withTarget(query("A", quantile(0.95, llmLatency.name, ["model"]), "{{model}} P95"))
        .unit("s").min(0)
        .thresholds(thresholds())
        .span(12).height(9),
    )
    .withPanel(
      new TimeseriesPanel()
        .title("Queue depth")
        .legend(legend())
        .description("Ready tasks waiting for a worker (cluster-wide gauge: max over replicas).")
        .withTarget(query("A", `max(${queueDepth.name})`, "queued tasks"))
        .unit("short").min(0).decimals(0)
        .thresholds(thresholds())
        .span(12).height(8),
    )
    .withPanel(
      new TimeseriesPanel()
        .title("Worker utilization")
        .legend(legend())
        .description("Busy task slots over all slots, per worker.")
        .withTarget(query("A", `${workerUtilization.name}`, "{{instance}}"))
        .unit("percentunit").min(0).max(1)
        .thresholds(thresholds())
        .span(12).height(8),
    )
    .build();
}
