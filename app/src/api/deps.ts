/** What the HTTP and gRPC transports need from the rest of the runtime. */
import type { Registry } from "prom-client";
import type { ApiKeyStore } from "../auth/keys";
import type { ApiRateLimiter } from "./rate-limit";
import type { ApexService } from "../service/types";
import { dagLimits } from "../service/dag-schema";
import type { Logger } from "../telemetry/logger";

export interface ApiDeps {
  readonly service: ApexService;
  readonly keys: ApiKeyStore;
  /** Served on GET /metrics when given. */
  readonly registry?: Registry;
  /** Request logs; the transports never log credentials. Defaults to no request logging. */
  readonly logger?: Logger;
  /** Per-IP and per-key rate limits and the cap on open watches per key; unset = none. */
  readonly limits?: ApiRateLimiter;
  /** Where the console links a DAG's trace and logs (GET /v1/me); unset = no links. */
  readonly links?: ConsoleLinks;
  /** Largest request body (HTTP) or message (gRPC) accepted, in bytes. Default: the DAG body limit. */
  readonly maxRequestBytes?: number;
}

/** URL templates from APEX_TRACE_URL_TEMPLATE and APEX_LOGS_URL_TEMPLATE (checked by config.ts). */
export interface ConsoleLinks {
  /** Contains `{trace_id}`. */
  readonly traceUrlTemplate?: string;
  /** May contain `{dag_id}`, `{task_id}`, `{trace_id}`. */
  readonly logsUrlTemplate?: string;
}

export const defaultMaxRequestBytes = dagLimits.maxBodyBytes;
