import { z } from "zod";
import type { ToolDefinition } from "../types";

const pathPattern = /^[^.[\]]+(?:\.[^.[\]]+|\[\d+\])*$/;

const jsonExtractArgs = z.strictObject({
  /** A JSON value, or a string holding JSON (e.g. an upstream task's output inserted by a template). */
  data: z.unknown().refine((v) => v !== undefined, "data is required"),
  /** Output key -> path into data, e.g. {"first_title": "items[0].title"}. */
  paths: z
    .record(z.string().min(1).max(100), z.string().max(500).regex(pathPattern, "paths are dot-separated keys with [index], e.g. items[0].title"))
    .refine((r) => Object.keys(r).length > 0 && Object.keys(r).length <= 100, "give between 1 and 100 paths"),
  /** Fail when a path is missing (default), or return null for it. */
  missing: z.enum(["error", "null"]).default("error"),
});

function parsePath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : (m[1] ?? ""));
  return out;
}

/** Picks values out of a JSON document by path. Pure code over the data: runs in the worker. */
export const jsonExtractTool: ToolDefinition<typeof jsonExtractArgs> = {
  name: "json_extract",
  description: "Pick values out of a JSON document (or a string holding JSON) by paths such as `items[0].title`; returns an object of the picked values.",
  args: jsonExtractArgs,
  requiresApproval: false,
  timeoutMs: 5_000,
  run: async (args) => {
    let doc: unknown = args.data;
    if (typeof doc === "string") {
      try {
        doc = JSON.parse(doc) as unknown;
      } catch {
        throw new Error("json_extract: data is a string that is not valid JSON");
      }
    }
    const out: Record<string, unknown> = {};
    for (const [key, path] of Object.entries(args.paths)) {
      let cur: unknown = doc;
      let found = true;
      for (const seg of parsePath(path)) {
        if (typeof seg === "number" ? Array.isArray(cur) && seg < cur.length : cur !== null && typeof cur === "object" && !Array.isArray(cur) && Object.hasOwn(cur, seg)) {
          cur = (cur as Record<string | number, unknown>)[seg];
        } else {
          found = false;
          break;
        }
      }
      if (!found && args.missing === "error") throw new Error(`json_extract: path "${path}" (paths.${key}) is not in data`);
      out[key] = found ? cur : null;
    }
    return out;
  },
};
