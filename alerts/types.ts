/** A Prometheus alert rule as typed code; `render.ts` turns a list of these into a rule file. */

/**
 * `none` is the Watchdog's: it pages nobody, Alertmanager routes it to the dead man's switch
 * receiver (`deadmansswitch`) whose silence is the alarm.
 */
export type Severity = "critical" | "warning" | "none";

/** Where a stack runs: Kubernetes adds the rules over kube-state-metrics and kubelet metrics. */
export type AlertTarget = "docker" | "kubernetes";

export interface AlertRule {
  /** Alert name; also the runbook's file name (`docs/runbooks/<alert>.md`). */
  readonly alert: string;
  /** PromQL; build metric names from the contract (`app/src/contract/metrics.ts`), never retype them. */
  readonly expr: string;
  /** How long the condition must hold before the alert fires (Prometheus duration). Omitted: fires on the first evaluation. */
  readonly for?: string;
  readonly severity: Severity;
  /** One line; may use `{{ $labels.x }}`. */
  readonly summary: string;
  /** Sentence(s) using `{{ $labels.x }}` / `{{ $value }}`. */
  readonly description: string;
}

export interface RenderOptions {
  /**
   * Base of `runbook_url` (`apex:observability.runbookBaseUrl`): an absolute http(s):// or
   * file:// URL, never a placeholder host. A trailing slash is dropped.
   */
  readonly runbookBaseUrl: string;
  /** Rule group name. Default "apex". */
  readonly groupName?: string;
  /** Rule group evaluation interval. Default: Prometheus's global `evaluation_interval`. */
  readonly interval?: string;
}
