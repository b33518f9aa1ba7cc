/**
 * API input must be text Postgres can store: a NUL (U+0000) or a lone UTF-16 surrogate in any
 * string or object key of a request body is a 400 naming the field, never a failed INSERT (500).
 * Used as zod refinements by the request schemas (api/schemas.ts, service/dag-schema.ts), so every
 * route that stores text checks it. Validated input is stored as sent (store/storable-text.ts).
 */
import type { z } from "zod";
import { firstUnstorable } from "../store/storable-text";

export interface UnstorableText {
  /** Path of the offending value; a bad key is the last element (shown with the bad character escaped). */
  readonly path: (string | number)[];
  readonly message: string;
}

const u = (unit: number) => `U+${unit.toString(16).toUpperCase().padStart(4, "0")}`;

function describe(unit: number): string {
  return unit === 0
    ? "contains U+0000 (NUL), which cannot be stored"
    : `contains a lone surrogate (${u(unit)}), which is not valid Unicode and cannot be stored`;
}

/** A key as it is named in a field path: NUL and lone surrogates as \uXXXX escapes. */
export function printableKey(key: string): string {
  let out = "";
  let rest = key;
  for (let bad = firstUnstorable(rest); bad; bad = firstUnstorable(rest)) {
    out += `${rest.slice(0, bad.index)}\\u${bad.unit.toString(16).padStart(4, "0")}`;
    rest = rest.slice(bad.index + 1);
  }
  return out + rest;
}

/** The first string or key of `value` (depth first, in key order) that Postgres cannot store. */
export function findUnstorable(value: unknown, path: (string | number)[] = []): UnstorableText | undefined {
  if (typeof value === "string") {
    const bad = firstUnstorable(value);
    return bad ? { path, message: describe(bad.unit) } : undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorable(value[i], [...path, i]);
      if (found) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      const badKey = firstUnstorable(key);
      if (badKey) return { path: [...path, printableKey(key)], message: `key ${describe(badKey.unit)}` };
      const found = findUnstorable(child, [...path, key]);
      if (found) return found;
    }
  }
  return undefined;
}

/** zod superRefine: an issue at the first unstorable string or key of the value. */
export function rejectUnstorable(value: unknown, ctx: z.RefinementCtx): void {
  const found = findUnstorable(value);
  if (found) ctx.addIssue({ code: "custom", path: found.path, message: found.message });
}
