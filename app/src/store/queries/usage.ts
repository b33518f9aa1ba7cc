/**
 * The usage report's SQL (GET /v1/usage): the usage rows of a period summed four ways in one scan
 * (GROUPING SETS): in total, by agent, by requested model and by time bucket (hour or day, UTC).
 *
 * Every usage row is one LLM call attempt that was paid or may have been. Rows marked `unknown`
 * (migration 0006: the call was in flight when its worker died) have no counts: they are counted
 * in `calls` and in `unknown_calls`, and add nothing to the token and cost sums, which are
 * therefore what is known to have been spent (a lower bound while unknown calls exist).
 */
import type { Db } from "../db";

export type UsageBucket = "hour" | "day";

export interface UsagePeriod {
  /** Inclusive. */
  readonly since: Date;
  /** Exclusive. */
  readonly until: Date;
  /** Only this agent's rows; undefined = every agent. */
  readonly agentId?: string;
  readonly bucket: UsageBucket;
}

export interface UsageGroupRow {
  readonly dimension: "total" | "agent" | "model" | "bucket";
  readonly agent_id: string | null;
  readonly agent_name: string | null;
  readonly model: string | null;
  readonly bucket_start: Date | string | null;
  readonly calls: number;
  readonly unknown_calls: number;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cached_tokens: number;
  readonly cost_usd: number;
}

/**
 * One row per group, in no particular order; the `total` row is always there (zero counts on an
 * empty period). Sums are read back as float8 (numbers): a period's token sums stay far below 2^53.
 */
export async function usageGroups(db: Db, period: UsagePeriod): Promise<UsageGroupRow[]> {
  const { rows } = await db.query<UsageGroupRow>(
    `WITH g AS (
       SELECT CASE WHEN grouping(u.agent_id) = 0 THEN 'agent'
                   WHEN grouping(u.model) = 0 THEN 'model'
                   WHEN grouping(date_trunc($4, u.created_at, 'UTC')) = 0 THEN 'bucket'
                   ELSE 'total' END AS dimension,
              u.agent_id, u.model, date_trunc($4, u.created_at, 'UTC') AS bucket_start,
              count(*)::int AS calls,
              count(*) FILTER (WHERE u.unknown)::int AS unknown_calls,
              coalesce(sum(u.input_tokens), 0)::float8 AS input_tokens,
              coalesce(sum(u.output_tokens), 0)::float8 AS output_tokens,
              coalesce(sum(u.cached_tokens), 0)::float8 AS cached_tokens,
              coalesce(sum(u.cost_usd), 0)::float8 AS cost_usd
         FROM usage u
        WHERE u.created_at >= $1 AND u.created_at < $2 AND ($3::uuid IS NULL OR u.agent_id = $3::uuid)
        GROUP BY GROUPING SETS ((), (u.agent_id), (u.model), (date_trunc($4, u.created_at, 'UTC')))
     )
     SELECT g.*, a.name AS agent_name
       FROM g LEFT JOIN agents a ON a.id = g.agent_id`,
    [period.since, period.until, period.agentId ?? null, period.bucket],
  );
  return rows;
}
