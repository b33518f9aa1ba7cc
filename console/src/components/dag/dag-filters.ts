/**
 * The DAG list's filters as URL search params (so a filtered page can be bookmarked and shared;
 * the API key is never among them) and as the GET /v1/dags query they stand for.
 */
import { localToRfc3339 } from "../local-time";
import type { DagStatusName, ListDagsQuery } from "../../api/types";

export const dagStatuses: readonly DagStatusName[] = ["running", "awaiting_approval", "succeeded", "failed", "cancelled"];

export const rangePresets = {
  all: { label: "Any time", ms: undefined },
  "1h": { label: "Last hour", ms: 3_600_000 },
  "24h": { label: "Last 24 hours", ms: 86_400_000 },
  "7d": { label: "Last 7 days", ms: 7 * 86_400_000 },
  custom: { label: "Custom range", ms: undefined },
} as const;
export type RangePreset = keyof typeof rangePresets;

export interface DagFilters {
  readonly status?: DagStatusName;
  readonly agent?: string;
  readonly range: RangePreset;
  /** `datetime-local` values (the reader's local time), for range "custom". */
  readonly from?: string;
  readonly until?: string;
}

export function readFilters(params: URLSearchParams): DagFilters {
  const status = params.get("status");
  const range = params.get("range");
  return {
    ...(dagStatuses.includes(status as DagStatusName) ? { status: status as DagStatusName } : {}),
    ...(params.get("agent") ? { agent: params.get("agent") ?? undefined } : {}),
    range: range && range in rangePresets ? (range as RangePreset) : "all",
    ...(range === "custom" && params.get("from") ? { from: params.get("from") ?? undefined } : {}),
    ...(range === "custom" && params.get("until") ? { until: params.get("until") ?? undefined } : {}),
  };
}

/** The filters as search params; the page cursor is not kept (a filter change starts at page 1). */
export function writeFilters(filters: DagFilters): URLSearchParams {
  const params = new URLSearchParams();
  if (filters.status) params.set("status", filters.status);
  if (filters.agent) params.set("agent", filters.agent);
  if (filters.range !== "all") params.set("range", filters.range);
  if (filters.range === "custom") {
    if (filters.from) params.set("from", filters.from);
    if (filters.until) params.set("until", filters.until);
  }
  return params;
}

export function hasFilters(filters: DagFilters): boolean {
  return writeFilters(filters).size > 0;
}

export interface FilterError {
  readonly field: "from" | "until";
  readonly message: string;
}

/** Problems with a custom range, before anything is asked of the API. */
export function checkRange(filters: DagFilters): FilterError | undefined {
  if (filters.range !== "custom") return undefined;
  const since = filters.from ? localToRfc3339(filters.from) : undefined;
  const until = filters.until ? localToRfc3339(filters.until) : undefined;
  if (filters.from && !since) return { field: "from", message: "Enter a date and time." };
  if (filters.until && !until) return { field: "until", message: "Enter a date and time." };
  if (since && until && Date.parse(until) < Date.parse(since)) return { field: "until", message: "Must not be before From." };
  return undefined;
}

/** The API query for the filters; presets are relative to `now` (so "last hour" moves with time). */
export function toListQuery(filters: DagFilters, cursor: string | undefined, pageSize: number, now = Date.now()): ListDagsQuery {
  const preset = rangePresets[filters.range];
  const createdSince =
    preset.ms !== undefined ? new Date(now - preset.ms).toISOString() : filters.range === "custom" && filters.from ? localToRfc3339(filters.from) : undefined;
  const createdUntil = filters.range === "custom" && filters.until ? localToRfc3339(filters.until) : undefined;
  return {
    ...(filters.status ? { status: filters.status } : {}),
    ...(filters.agent ? { agent_id: filters.agent } : {}),
    ...(createdSince ? { created_since: createdSince } : {}),
    ...(createdUntil ? { created_until: createdUntil } : {}),
    ...(cursor ? { cursor } : {}),
    limit: pageSize,
  };
}
