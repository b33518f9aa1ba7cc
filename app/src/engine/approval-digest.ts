/**
 * The digest an approval is bound to: SHA-256 (hex) of the canonical JSON of a tool call's
 * rendered arguments. Canonical: object keys sorted by code point at every level, no whitespace,
 * so the same arguments give the same digest however a store (jsonb) reorders keys.
 */
import { createHash } from "node:crypto";

export function argsDigest(args: unknown): string {
  return createHash("sha256").update(canonicalJson(args), "utf8").digest("hex");
}

export function canonicalJson(value: unknown): string {
  if (value === undefined) return "null";
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}
