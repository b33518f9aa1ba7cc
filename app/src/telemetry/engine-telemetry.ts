/** The engine's committed changes, as telemetry records them: metrics, DAG root spans, lost attempts. */
import type { EngineObserver } from "../domain/engine-events";
import { reportLostAttempt } from "./attempt";
import { reportDagFinished } from "./dag-trace";
import { recordTaskStatuses } from "./record";

export const engineTelemetry: EngineObserver = {
  taskStatuses: recordTaskStatuses,
  dagFinished: reportDagFinished,
  attemptLost: reportLostAttempt,
};
