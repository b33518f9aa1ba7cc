/**
 * Every Prometheus metric the runtime exposes: names, types, help and labels (seed §1, plus what
 * the dashboards and alerts need). The runtime registers its prom-client metrics from this list;
 * dashboards/ and alerts/ may only query names defined here (a test scrapes /metrics to prove it).
 *
 * `scope: "cluster"` gauges are computed from Postgres and are identical on every replica that
 * exports them: query them with max(), never sum(), so replicas are not double-counted.
 */
export type MetricType = "counter" | "gauge" | "histogram";

export interface MetricDef {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
  readonly scope: "process" | "cluster";
  readonly buckets?: readonly number[];
}

const def = <T extends MetricDef>(m: T): T => m;

/**
 * Values of apex_task_errors_total{error_type}: the closed set the runtime emits (telemetry
 * classifies every failed or rescheduled attempt into one and initialises each series at 0).
 */
export const taskErrorTypes = [
  "timeout",
  "rate_limited",
  "provider_error",
  "breaker_open",
  "invalid_request",
  "tool_error",
  "sandbox_error",
  "cancelled",
  // The attempt's worker died or hung past its lease; the worker that reclaimed the task reports it.
  "lease_expired",
  // An LLM call's worst case did not fit a budget (DAG, agent or API key): failed without a retry.
  "budget_exceeded",
  "internal",
] as const;
export type TaskErrorType = (typeof taskErrorTypes)[number];

export const metrics = {
  tasksTotal: def({
    name: "apex_tasks_total",
    type: "counter",
    help: "Tasks that reached a terminal state (succeeded, failed, cancelled, skipped), by status.",
    labels: ["status"],
    scope: "process",
  }),
  taskErrorsTotal: def({
    name: "apex_task_errors_total",
    type: "counter",
    help: `Failed task attempts by error type (${taskErrorTypes.join(", ")}).`,
    labels: ["error_type"],
    scope: "process",
  }),
  tokensTotal: def({
    name: "apex_tokens_total",
    type: "counter",
    help: "LLM tokens consumed, by model (provider/model) and kind (input, output, cached).",
    labels: ["model", "kind"],
    scope: "process",
  }),
  costTotal: def({
    name: "apex_cost_total",
    type: "counter",
    help: "LLM cost in US dollars (USD), by model (provider/model).",
    labels: ["model"],
    scope: "process",
  }),
  agentCostTotal: def({
    name: "apex_agent_cost_total",
    type: "counter",
    help: "LLM cost in US dollars (USD), by agent id.",
    labels: ["agent_id"],
    scope: "process",
  }),
  activeAgents: def({
    name: "apex_active_agents",
    type: "gauge",
    help: "Agent runners: task slots of the live workers, what can run agents' tasks now; 0 when no worker is alive (cluster-wide; query with max()).",
    labels: [],
    scope: "cluster",
  }),
  workersAlive: def({
    name: "apex_workers_alive",
    type: "gauge",
    help: "Worker processes whose heartbeat is younger than their lease (cluster-wide; query with max()).",
    labels: [],
    scope: "cluster",
  }),
  runningTasks: def({
    name: "apex_running_tasks",
    type: "gauge",
    help: "Tasks currently running under a lease (cluster-wide; query with max()).",
    labels: [],
    scope: "cluster",
  }),
  queueDepth: def({
    name: "apex_queue_depth",
    type: "gauge",
    help: "Ready tasks due now, waiting to be claimed; retries still in backoff excluded (cluster-wide; query with max()).",
    labels: [],
    scope: "cluster",
  }),
  queueOldestWait: def({
    name: "apex_queue_oldest_wait_seconds",
    type: "gauge",
    help: "Seconds the oldest ready task due now has waited to be claimed; 0 when none waits (cluster-wide; query with max()).",
    labels: [],
    scope: "cluster",
  }),
  workerUtilization: def({
    name: "apex_worker_utilization",
    type: "gauge",
    help: "Busy task slots divided by slots of this worker (0..1).",
    labels: [],
    scope: "process",
  }),
  taskDuration: def({
    name: "apex_task_duration_seconds",
    type: "histogram",
    help: "Task attempt execution time in seconds, by kind (llm, tool).",
    labels: ["kind"],
    scope: "process",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60, 120, 300],
  }),
  llmLatency: def({
    name: "apex_llm_latency_seconds",
    type: "histogram",
    help: "LLM call latency in seconds, by model (provider/model).",
    labels: ["model"],
    scope: "process",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
  }),
  circuitBreakerState: def({
    name: "apex_circuit_breaker_state",
    type: "gauge",
    help: "LLM circuit breaker state by provider: 0 closed, 1 half-open, 2 open.",
    labels: ["provider"],
    scope: "process",
  }),
  budgetRemainingUsd: def({
    name: "apex_budget_remaining_usd",
    type: "gauge",
    help: "USD an agent's or API key's budget has left in its current period: limit - spent - reserved (cluster-wide; query with max()).",
    labels: ["scope", "scope_id", "period"],
    scope: "cluster",
  }),
  budgetLimitUsd: def({
    name: "apex_budget_limit_usd",
    type: "gauge",
    help: "USD limit of an agent's or API key's budget per period (cluster-wide; query with max()).",
    labels: ["scope", "scope_id", "period"],
    scope: "cluster",
  }),
  budgetRemainingTokens: def({
    name: "apex_budget_remaining_tokens",
    type: "gauge",
    help: "Tokens an agent's or API key's budget has left in its current period: limit - spent - reserved (cluster-wide; query with max()).",
    labels: ["scope", "scope_id", "period"],
    scope: "cluster",
  }),
  budgetLimitTokens: def({
    name: "apex_budget_limit_tokens",
    type: "gauge",
    help: "Token limit of an agent's or API key's budget per period (cluster-wide; query with max()).",
    labels: ["scope", "scope_id", "period"],
    scope: "cluster",
  }),
  budgetRejectionsTotal: def({
    name: "apex_budget_rejections_total",
    type: "counter",
    help: "LLM calls a budget refused before they went out (the task failed budget_exceeded or waits for the period's reset), by the refusing budget's scope (dag, agent, api_key). A call that only waits for calls in flight to settle is not counted.",
    labels: ["scope"],
    scope: "process",
  }),
} as const;

export type MetricKey = keyof typeof metrics;

/** Values of apex_circuit_breaker_state. */
export const breakerStateValue = { closed: 0, half_open: 1, open: 2 } as const;

/** Terminal values of the `status` label of apex_tasks_total. */
export const taskStatusLabels = ["succeeded", "failed", "cancelled", "skipped"] as const;

export const allMetricNames: readonly string[] = Object.values(metrics).map((m) => m.name);
