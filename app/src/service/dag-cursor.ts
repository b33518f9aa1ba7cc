/**
 * The cursor of DAG listings, opaque to clients: base64url JSON of where a page ended (its last
 * row's created_at to the microsecond, as Postgres holds it, and id) and of the sort and filters
 * it was listed with, so a cursor sent with other ones is refused instead of paging something else.
 * It carries no authority: every page is scoped and filtered again.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { ServiceError, type DagListQuery } from "./types";

export interface DagCursorPosition {
  /** RFC 3339 in UTC with microseconds, e.g. `2026-11-26T11:05:27.832123Z`. */
  readonly createdAt: string;
  readonly id: string;
}

const cursorJson = z.strictObject({
  v: z.literal(1),
  sort: z.enum(["created_at", "-created_at"]),
  filters: z.string(),
  created_at: z.iso.datetime(),
  id: z.uuid(),
});

function filtersFingerprint(query: DagListQuery): string {
  const filters = [query.status, query.agentId, query.createdSince, query.createdUntil].map((v) => v ?? null);
  return createHash("sha256").update(JSON.stringify(filters)).digest("base64url").slice(0, 16);
}

export function encodeDagCursor(query: DagListQuery, position: DagCursorPosition): string {
  const json: z.infer<typeof cursorJson> = { v: 1, sort: query.sort, filters: filtersFingerprint(query), created_at: position.createdAt, id: position.id };
  return Buffer.from(JSON.stringify(json)).toString("base64url");
}

export function decodeDagCursor(cursor: string, query: DagListQuery): DagCursorPosition {
  const invalid = (why: string) => new ServiceError("invalid_argument", `cursor: ${why}`, "cursor");
  let parsed: ReturnType<typeof cursorJson.safeParse> | undefined;
  try {
    parsed = cursorJson.safeParse(JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
  } catch {
    parsed = undefined;
  }
  if (!parsed?.success) throw invalid("not a cursor of this listing; pass a previous page's next_cursor unchanged");
  const c = parsed.data;
  if (c.sort !== query.sort) throw invalid(`this cursor continues a listing sorted by ${c.sort}; send the same sort and filters as the request that returned it`);
  if (c.filters !== filtersFingerprint(query)) {
    throw invalid("this cursor continues a listing with other filters; send the same status, agent_id, created_since and created_until as the request that returned it");
  }
  return { createdAt: c.created_at, id: c.id };
}
