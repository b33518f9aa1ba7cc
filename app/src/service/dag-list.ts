/**
 * DAG listings (GET /v1/dags, gRPC ListDags): summaries filtered by status, agent and creation
 * time, paged by keyset on (created_at, id) in either direction. A page is one index range scan
 * however deep the listing goes (dags_created_idx, or dags_agent_created_idx for one agent:
 * migration 0004), and DAGs submitted while a client pages neither repeat nor shift rows.
 */
import type { Db } from "../store/db";
import { decodeDagCursor, encodeDagCursor, type DagCursorPosition } from "./dag-cursor";
import { toUsage, traceIdOf, usageSums, type UsageSumsRow } from "./dag-view";
import { uuidPattern } from "./ids";
import { ServiceError, type DagListQuery, type DagPage, type DagStatus, type DagSummary } from "./types";

export const dagListLimits = { defaultLimit: 50, maxLimit: 200 } as const;

interface SummaryRow extends UsageSumsRow {
  id: string;
  agent_id: string;
  name: string;
  status: DagStatus;
  trace_context: Record<string, string> | null;
  created_at: Date;
  finished_at: Date | null;
  /** created_at to the microsecond (a JS Date holds milliseconds), for the cursor. */
  created_at_exact: string;
}

/** The page query: `limit + 1` rows, the extra one only telling whether another page follows. */
export function dagListSql(query: DagListQuery, agentId: string | undefined, after: DagCursorPosition | undefined): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const param = (value: unknown, type: string): string => {
    values.push(value);
    return `$${values.length}::${type}`;
  };
  const where: string[] = [];
  if (query.status) where.push(`status = ${param(query.status, "text")}`);
  if (agentId) where.push(`agent_id = ${param(agentId, "uuid")}`);
  if (query.createdSince) where.push(`created_at >= ${param(query.createdSince, "timestamptz")}`);
  if (query.createdUntil) where.push(`created_at < ${param(query.createdUntil, "timestamptz")}`);
  const newestFirst = query.sort === "-created_at";
  if (after) where.push(`(created_at, id) ${newestFirst ? "<" : ">"} (${param(after.createdAt, "timestamptz")}, ${param(after.id, "uuid")})`);
  const order = newestFirst ? "DESC" : "ASC";
  const text = `
    SELECT d.*, to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact, u.*
      FROM (SELECT id, agent_id, name, status, trace_context, created_at, finished_at FROM dags
             ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
             ORDER BY created_at ${order}, id ${order}
             LIMIT ${param(query.limit + 1, "int")}) d
      LEFT JOIN LATERAL (SELECT ${usageSums} FROM usage WHERE usage.dag_id = d.id) u ON true
     ORDER BY d.created_at ${order}, d.id ${order}`;
  return { text, values };
}

export async function listDagSummaries(db: Db, query: DagListQuery, scope?: { agentId?: string }): Promise<DagPage> {
  if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > dagListLimits.maxLimit) {
    throw new ServiceError("invalid_argument", `limit: expected an integer from 1 to ${dagListLimits.maxLimit}`, "limit");
  }
  const after = query.cursor === undefined ? undefined : decodeDagCursor(query.cursor, query);
  // A scoped caller sees its own agent's DAGs only: filtering on another agent finds nothing.
  if (scope?.agentId !== undefined && query.agentId !== undefined && query.agentId !== scope.agentId) return { dags: [] };
  const agentId = scope?.agentId ?? query.agentId;
  if (agentId !== undefined && !uuidPattern.test(agentId)) return { dags: [] };

  const { text, values } = dagListSql(query, agentId, after);
  const rows = (await db.query<SummaryRow>(text, values)).rows;
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    dags: page.map(toSummary),
    ...(rows.length > page.length && last ? { nextCursor: encodeDagCursor(query, { createdAt: last.created_at_exact, id: last.id }) } : {}),
  };
}

function toSummary(r: SummaryRow): DagSummary {
  const traceId = traceIdOf(r.trace_context);
  return {
    id: r.id,
    agentId: r.agent_id,
    name: r.name,
    status: r.status,
    totals: toUsage(r),
    ...(traceId ? { traceId } : {}),
    createdAt: new Date(r.created_at).toISOString(),
    ...(r.finished_at ? { finishedAt: new Date(r.finished_at).toISOString() } : {}),
  };
}
