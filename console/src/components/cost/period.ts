/**
 * The cost screen's periods: presets ending now, and custom ranges typed in local time
 * (datetime-local inputs), turned into the RFC 3339 instants GET /v1/usage takes.
 */
import { localToRfc3339 } from "../local-time";

export type Preset = "24h" | "7d" | "30d" | "month" | "custom";

export interface Period {
  readonly since: string;
  readonly until: string;
}

export const presets: ReadonlyArray<{ value: Preset; label: string }> = [
  { value: "24h", label: "Last 24 hours" },
  { value: "7d", label: "Last 7 days" },
  { value: "30d", label: "Last 30 days" },
  { value: "month", label: "This month" },
  { value: "custom", label: "Custom range" },
];

const hourMs = 3_600_000;

/** The period a preset means at `now` ("custom" keeps nothing: the caller asks the inputs). */
export function presetPeriod(preset: Exclude<Preset, "custom">, now: Date): Period {
  const until = now.toISOString();
  switch (preset) {
    case "24h":
      return { since: new Date(now.getTime() - 24 * hourMs).toISOString(), until };
    case "7d":
      return { since: new Date(now.getTime() - 7 * 24 * hourMs).toISOString(), until };
    case "30d":
      return { since: new Date(now.getTime() - 30 * 24 * hourMs).toISOString(), until };
    case "month":
      return { since: new Date(now.getFullYear(), now.getMonth(), 1).toISOString(), until };
  }
}


export type CustomRangeResult = { period: Period } | { field: "from" | "to"; message: string };

/** Two datetime-local values as a period, or which field is wrong and why. */
export function customPeriod(from: string, to: string): CustomRangeResult {
  const since = localToRfc3339(from);
  const until = localToRfc3339(to);
  if (!since) return { field: "from", message: "From: enter a date and time" };
  if (!until) return { field: "to", message: "To: enter a date and time" };
  if (Date.parse(until) <= Date.parse(since)) return { field: "to", message: "To: must be after From" };
  return { period: { since, until } };
}
