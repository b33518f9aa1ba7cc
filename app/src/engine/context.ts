/**
 * What the engine works with, wired in one place (bin/runtime.ts, or a test): the store, the bus
 * its DAG events go out on, and who observes what it commits (telemetry, by default).
 */
import type { EventBus } from "../coord/types";
import type { Db } from "../store/db";
import { engineTelemetry } from "../telemetry/engine-telemetry";
import type { EngineObserver } from "../domain/engine-events";

export interface EngineContext {
  readonly db: Db;
  /** DAG events for streaming clients (SSE, gRPC WatchDag): Redis, Postgres NOTIFY or in-process. */
  readonly events: EventBus;
  /** Told after each commit what changed. Default: telemetry (metrics, DAG root spans, lost attempts). */
  readonly observer: EngineObserver;
}

export function engineContext(db: Db, events: EventBus, observer: EngineObserver = engineTelemetry): EngineContext {
  return { db, events, observer };
}
