/** Errors (seed §5.4): error rate, errors by type (bar), circuit breaker state. */
import { MappingType, type Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { PanelBuilder as TimeseriesPanel } from "@grafana/grafana-foundation-sdk/timeseries";
import { PanelBuilder as BarchartPanel } from "@grafana/grafana-foundation-sdk/barchart";
import { PanelBuilder as StateTimelinePanel } from "@grafana/grafana-foundation-sdk/statetimeline";
import { breakerStateValue, metrics } from "../app/src/contract/metrics";
import { thresholds as alertThresholds } from "../alerts/rules";
import { apexDashboard, finishedShare, instantTable, query, range, rateInterval, legend, thresholds } from "./common";

export function errorsDashboard(): Dashboard {
  const { taskErrorsTotal, circuitBreakerState } = metrics;
  return apexDashboard("apex-errors", "Apex / Errors", "Task failures, error types and LLM circuit breakers.")
    .withPanel(
      new TimeseriesPanel()
        .title("Error rate")
        .legend(legend())
        .description(
          `Failed ÷ (succeeded + failed); skipped and cancelled tasks are neither. HighTaskFailureRate fires above ${alertThresholds.taskFailureRatio * 100}% for 5m.`,
        )
        .withTarget(query("A", finishedShare("failed", (s) => `rate(${s}[${rateInterval}])`), "failed share"))
        .unit("percentunit").min(0)
        .thresholds(thresholds(alertThresholds.taskFailureRatio))
        .span(24).height(9),
    )
    .withPanel(
      new BarchartPanel()
        .title("Errors by type")
        .description("Failed task attempts by error type over the selected time range.")
        .withTarget(instantTable("A", `sum by (error_type) (increase(${taskErrorsTotal.name}[${range}]))`))
        .unit("short").decimals(0)
        .xField("error_type")
        .thresholds(thresholds())
        .span(12).height(10),
    )
    .withPanel(
      new StateTimelinePanel()
        .title("Circuit breaker state")
        .legend(legend())
        .description("LLM circuit breaker per provider: closed, half-open or open (CircuitBreakerOpen fires after 1m open).")
        .withTarget(query("A", `max by (provider) (${circuitBreakerState.name})`, "{{provider}}"))
        .unit("none")
        .mappings([
          {
            type: MappingType.ValueToText,
            options: {
              [String(breakerStateValue.closed)]: { text: "closed", color: "green", index: 0 },
              [String(breakerStateValue.half_open)]: { text: "half-open", color: "yellow", index: 1 },
              [String(breakerStateValue.open)]: { text: "open", color: "red", index: 2 },
            },
          },
        ])
        .thresholds(thresholds())
        .span(12).height(10),
    )
    .build();
}
