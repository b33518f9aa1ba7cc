/**
 * Performance (seed §5.2): task latency percentiles, LLM latency by model, queue depth; plus how
 * long the oldest ready task has waited (TaskQueueStalled) and the worker capacity behind it.
 */
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { PanelBuilder as TimeseriesPanel } from "@grafana/grafana-foundation-sdk/timeseries";
import { metrics } from "../app/src/contract/metrics";
import { thresholds as alertThresholds } from "../alerts/rules";
import { apexDashboard, query, rateInterval, legend, thresholds } from "./common";

const quantile = (q: number, histogram: string, by: string[] = []) =>
  `histogram_quantile(${q}, sum by (${["le", ...by].join(", ")}) (rate(${histogram}_bucket[${rateInterval}])))`;

export function performanceDashboard(): Dashboard {
  const { taskDuration, llmLatency, queueDepth, queueOldestWait, workersAlive, activeAgents, workerUtilization } = metrics;
  return apexDashboard("apex-performance", "Apex / Performance", "Task and LLM latency, the queue and the workers draining it.")
    .withPanel(
      new TimeseriesPanel()
        .title("Task latency P50 / P95 / P99")
        .legend(legend())
        .description("Task attempt duration percentiles. HighLatency fires when P95 stays above 30s for 5m.")
        .withTarget(query("A", quantile(0.5, taskDuration.name), "P50"))
        .withTarget(query("B", quantile(0.95, taskDuration.name), "P95"))
        .withTarget(query("C", quantile(0.99, taskDuration.name), "P99"))
        .unit("s").min(0)
        .thresholds(thresholds(alertThresholds.taskLatencyP95Seconds))
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
        .description("Ready tasks due now, waiting for a worker (cluster-wide gauge: max over replicas).")
        .withTarget(query("A", `max(${queueDepth.name})`, "queued tasks"))
        .unit("short").min(0).decimals(0)
        .thresholds(thresholds())
        .span(12).height(8),
    )
    .withPanel(
      new TimeseriesPanel()
        .title("Queue oldest wait")
        .legend(legend())
        .description(
          `Seconds the oldest ready task has waited to be claimed, 0 when none waits (cluster-wide gauge: max over replicas). TaskQueueStalled fires above ${alertThresholds.queueOldestWaitSeconds}s.`,
        )
        .withTarget(query("A", `max(${queueOldestWait.name})`, "oldest wait"))
        .unit("s").min(0)
        .thresholds(thresholds(alertThresholds.queueOldestWaitSeconds))
        .span(12).height(8),
    )
    .withPanel(
      new TimeseriesPanel()
        .title("Workers and agent runners")
        .legend(legend())
        .description("Live workers and their task slots (agent runners); NoActiveAgents fires when the slots reach 0 (cluster-wide gauges: max over replicas).")
        .withTarget(query("A", `max(${workersAlive.name})`, "workers alive"))
        .withTarget(query("B", `max(${activeAgents.name})`, "agent runners"))
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
