/**
 * The usage report (GET /v1/usage, gRPC GetUsage): a period's LLM usage in total, by agent, by
 * model and over time, from the `usage` table (SQL in store/queries/usage.ts).
 */
import type { Db } from "../store/db";
import { usageGroups, type UsageBucket, type UsageGroupRow } from "../store/queries/usage";
import { uuidPattern } from "./ids";
import { ServiceError, type UsageGroup, type UsageReport, type UsageReportQuery } from "./types";

const hourMs = 60 * 60_000;

export const usageReportLimits = {
  /** Period when `since` is not given: this long before `until`. */
  defaultPeriodMs: 24 * hourMs,
  /** Longest period a report covers (one query scans it all). */
  maxPeriodDays: 400,
  /** Periods up to this long are bucketed by hour, longer ones by day. */
  maxHourlyPeriodMs: 48 * hourMs,
} as const;

/** `until` defaults to now, `since` to `until` minus 24 hours. */
export function usagePeriodOf(input: { since?: string; until?: string }, now = new Date()): { since: Date; until: Date } {
  const until = input.until === undefined ? now : new Date(input.until);
  const since = input.since === undefined ? new Date(until.getTime() - usageReportLimits.defaultPeriodMs) : new Date(input.since);
  return { since, until };
}

/** Refuses an empty, inverted or overlong period, naming the field to change. */
export function checkUsagePeriod({ since, until }: { since: Date; until: Date }): void {
  if (Number.isNaN(since.getTime())) throw new ServiceError("invalid_argument", "since: expected an RFC 3339 timestamp", "since");
  if (Number.isNaN(until.getTime())) throw new ServiceError("invalid_argument", "until: expected an RFC 3339 timestamp", "until");
  if (until.getTime() <= since.getTime()) {
    throw new ServiceError("invalid_argument", `since: must be before until (${until.toISOString()})`, "since");
  }
  const maxMs = usageReportLimits.maxPeriodDays * 24 * hourMs;
  if (until.getTime() - since.getTime() > maxMs) {
    throw new ServiceError("invalid_argument", `since: the period may span at most ${usageReportLimits.maxPeriodDays} days`, "since");
  }
}

export function usageBucketOf(since: Date, until: Date): UsageBucket {
  return until.getTime() - since.getTime() <= usageReportLimits.maxHourlyPeriodMs ? "hour" : "day";
}

const group = (r: UsageGroupRow): UsageGroup => ({
  calls: r.calls,
  unknownCalls: r.unknown_calls,
  inputTokens: r.input_tokens,
  outputTokens: r.output_tokens,
  cachedTokens: r.cached_tokens,
  costUsd: r.cost_usd,
});

const zeroGroup: UsageGroup = { calls: 0, unknownCalls: 0, inputTokens: 0, outputTokens: 0, cachedTokens: 0, costUsd: 0 };

/** Most expensive first; ties by more calls, then by name, so the order is stable. */
const byCost = <T extends UsageGroup>(name: (g: T) => string) => (a: T, b: T): number =>
  b.costUsd - a.costUsd || b.calls - a.calls || name(a).localeCompare(name(b));

/**
 * The report of a checked period. `scope` (an agent key's agent) wins over `query.agentId`: asking
 * for another agent reports nothing, as listing another agent's DAGs lists nothing.
 */
export async function readUsageReport(db: Db, query: UsageReportQuery, scope?: { agentId?: string }): Promise<UsageReport> {
  checkUsagePeriod(query);
  const bucket = usageBucketOf(query.since, query.until);
  const empty: UsageReport = {
    since: query.since.toISOString(),
    until: query.until.toISOString(),
    totals: zeroGroup,
    byAgent: [],
    byModel: [],
    bucket,
    series: [],
  };
  const agentId = scope?.agentId ?? query.agentId;
  if (scope?.agentId !== undefined && query.agentId !== undefined && query.agentId !== scope.agentId) return empty;
  if (agentId !== undefined && !uuidPattern.test(agentId)) return empty;

  const rows = await usageGroups(db, { since: query.since, until: query.until, agentId, bucket });
  const total = rows.find((r) => r.dimension === "total");
  return {
    ...empty,
    totals: total ? group(total) : zeroGroup,
    byAgent: rows
      .filter((r) => r.dimension === "agent" && r.agent_id !== null)
      .map((r) => ({ ...group(r), agentId: r.agent_id!, agentName: r.agent_name ?? r.agent_id! }))
      .sort(byCost((g) => g.agentName)),
    byModel: rows
      .filter((r) => r.dimension === "model" && r.model !== null)
      .map((r) => ({ ...group(r), model: r.model! }))
      .sort(byCost((g) => g.model)),
    series: rows
      .filter((r) => r.dimension === "bucket" && r.bucket_start !== null)
      .map((r) => ({
        start: new Date(r.bucket_start!).toISOString(),
        costUsd: r.cost_usd,
        inputTokens: r.input_tokens,
        outputTokens: r.output_tokens,
      }))
      .sort((a, b) => a.start.localeCompare(b.start)),
  };
}
