/**
 * What the engine reports once a change is committed (never for a rolled-back one). Telemetry
 * implements EngineObserver (telemetry/engine-telemetry.ts); tests may record it.
 */
import type { DagStatus } from "./statuses";

export interface EngineObserver {
  /** `count` tasks moved to `status`. */
  taskStatuses(status: string, count: number): void;
  /** A DAG reached a terminal status. */
  dagFinished(dag: FinishedDag): void;
  /** A reclaim ended an attempt whose worker died or hung past its lease. */
  attemptLost(lost: LostAttemptReport): void;
}

export interface FinishedDag {
  readonly dagId: string;
  readonly status: Exclude<DagStatus, "running" | "awaiting_approval">;
  readonly agentId: string;
  readonly name: string;
  /** dags.trace_context: the root span's W3C carrier. */
  readonly traceContext: Readonly<Record<string, string>> | null;
  readonly createdAt: Date;
}

export interface LostAttemptReport {
  readonly dagId: string;
  readonly taskId: string;
  readonly agentId: string;
  readonly kind: "llm" | "tool";
  readonly attempt: number;
  /** The worker that held the lease and never reported. */
  readonly workerId: string;
  readonly startTime: Date;
  readonly message: string;
  /** attempts.trace_context: the lost task_execution span's ids. */
  readonly attemptCarrier: Readonly<Record<string, string>> | null;
  /** tasks.trace_context: the DAG root as parent, and the task's baggage. */
  readonly taskCarrier: Readonly<Record<string, string>> | null;
}
