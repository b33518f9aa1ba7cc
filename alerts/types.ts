/** A Prometheus alerting rule as typed code; `render.ts` turns a list of these into a rule file. */
export type Severity = "critical" | "warning";

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
  /** Base of `runbook_url`, without trailing slash. Default "docs/runbooks" (repository-relative). */
  readonly runbookBaseUrl?: string;
  /** Rule group name. Default "apex". */
  readonly groupName?: string;
  /** Rule group evaluation interval. Default: Prometheus's global `evaluation_interval`. */
  readonly interval?: string;
}
