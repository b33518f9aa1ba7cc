/**
 * The storable-text codec (store/storable-text.ts), property style: random strings and JSON values
 * built from the characters that matter (NUL, lone high and low surrogates, valid pairs, the escape
 * character U+E000 and text that looks like an escape sequence) are encoded, sent through a real
 * jsonb and text round trip on Postgres and on PGlite, decoded, and must equal the input. As a
 * control, the raw values are refused by the same store. The generator is seeded: a failure names
 * its seed and case.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJson, decodeText, encodeJson, encodeText, escapeChar, isStorable } from "../src/store/storable-text";
import { openMigratedDb, storeKinds, type MigratedDb } from "./helpers/db";

/** mulberry32: a small deterministic PRNG, so every run tests the same cases. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pieces = (rnd: () => number): string[] => [
  "a",
  "é",
  "\u0000",
  String.fromCharCode(0xd800 + Math.floor(rnd() * 0x400)), // lone high surrogate
  String.fromCharCode(0xdc00 + Math.floor(rnd() * 0x400)), // lone low surrogate
  "😀", // a valid pair
  escapeChar,
  "\ue001",
  "0000",
  "d800",
  "e000",
  "\\u0000",
  '"',
  "\n",
];

function randomString(rnd: () => number): string {
  const choices = pieces(rnd);
  let s = "";
  const n = Math.floor(rnd() * 10);
  for (let i = 0; i < n; i++) s += choices[Math.floor(rnd() * choices.length)];
  return s;
}

function randomJson(rnd: () => number, depth = 0): unknown {
  const r = rnd();
  if (depth > 2 || r < 0.4) return randomString(rnd);
  if (r < 0.5) return Math.floor(rnd() * 1000) - 500;
  if (r < 0.55) return rnd() < 0.5;
  if (r < 0.6) return null;
  if (r < 0.8) return Array.from({ length: Math.floor(rnd() * 4) }, () => randomJson(rnd, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(rnd() * 4); i > 0; i--) o[randomString(rnd)] = randomJson(rnd, depth + 1);
  return o;
}

const seed = 20261207;
const count = 3000;

describe("storable-text codec in memory", () => {
  it("leaves ordinary text (emoji pairs, other private-use characters) as is", () => {
    for (const s of ["", "hello", "😀 pairs stay", "\ue001 is not the escape", "tab\tnew\nline", '{"a":1}']) {
      expect(encodeText(s)).toBe(s);
      expect(decodeText(s)).toBe(s);
    }
  });

  it("escapes exactly NUL, lone surrogates and the escape character", () => {
    expect(encodeText("a\u0000b")).toBe("a\ue0000000b");
    expect(encodeText("\ud800")).toBe("\ue000d800");
    expect(encodeText("x\udfff")).toBe("x\ue000dfff");
    expect(encodeText("\ue000")).toBe("\ue000e000");
    expect(encodeText("\ud83d\ude00\ud83d")).toBe("\ud83d\ude00\ue000d83d");
    expect(encodeJson({ "k\u0000": ["ok\u0000", 1, null, { "\ud800": true }] })).toEqual({ "k\ue0000000": ["ok\ue0000000", 1, null, { "\ue000d800": true }] });
  });

  it(`decode(encode(x)) = x and encode(x) is storable, for ${count} random strings and values (seed ${seed})`, () => {
    const rnd = prng(seed);
    for (let i = 0; i < count; i++) {
      const s = randomString(rnd);
      const encoded = encodeText(s);
      expect(isStorable(encoded), `case ${i}: ${JSON.stringify(s)}`).toBe(true);
      expect(decodeText(encoded), `case ${i}: ${JSON.stringify(s)}`).toBe(s);
      const v = randomJson(rnd);
      expect(decodeJson(encodeJson(v)), `case ${i}: ${JSON.stringify(v)}`).toEqual(v);
    }
  });

  it('keeps a "__proto__" key a key, and applies toJSON as JSON.stringify does', () => {
    const v = JSON.parse('{"__proto__":{"x":"\\u0000"}}') as Record<string, unknown>;
    const round = decodeJson(encodeJson(v)) as Record<string, unknown>;
    expect(Object.keys(round)).toEqual(["__proto__"]);
    expect(JSON.stringify(round)).toBe(JSON.stringify(v));
    expect(encodeJson({ at: new Date("2026-12-07T00:00:00Z") })).toEqual({ at: "2026-12-07T00:00:00.000Z" });
  });
});

describe.each(storeKinds)("storable-text codec through %s", (kind) => {
  let store: MigratedDb;
  beforeAll(async () => {
    store = await openMigratedDb(kind);
  }, 60_000);
  afterAll(async () => {
    await store?.close();
  });

  it("the raw values are refused by the store (the fault is real)", async () => {
    await expect(store.db.query("SELECT $1::jsonb AS j", [JSON.stringify("ok\u0000")])).rejects.toThrow(/unsupported Unicode escape sequence/i);
    await expect(store.db.query("SELECT $1::jsonb AS j", [JSON.stringify("\ud800")])).rejects.toThrow(/json|surrogate/i);
    await expect(store.db.query("SELECT $1::text AS t", ["a\u0000b"])).rejects.toThrow();
    // A lone surrogate in a text parameter is not refused but silently lost (UTF-8 has no form for it).
    const { rows } = await store.db.query<{ t: string }>("SELECT $1::text AS t", ["x\ud800"]);
    expect(rows[0]!.t).not.toBe("x\ud800");
  });

  it(`random strings and values survive encode -> jsonb and text -> decode (seed ${seed})`, async () => {
    const rnd = prng(seed + 1);
    const strings = Array.from({ length: count }, () => randomString(rnd));
    const values = Array.from({ length: count }, () => randomJson(rnd));
    // One round trip each: the whole batch as one jsonb document, and the strings as a text[] column value.
    const { rows } = await store.db.query<{ j: unknown[]; t: string[] }>("SELECT $1::jsonb AS j, $2::text[] AS t", [
      JSON.stringify([...strings, ...values].map(encodeJson)),
      strings.map(encodeText),
    ]);
    const back = rows[0]!.j.map(decodeJson);
    for (let i = 0; i < count; i++) {
      expect(back[i], `string ${i}: ${JSON.stringify(strings[i])}`).toBe(strings[i]);
      expect(decodeText(rows[0]!.t[i]!), `text ${i}: ${JSON.stringify(strings[i])}`).toBe(strings[i]);
      expect(back[count + i], `value ${i}: ${JSON.stringify(values[i])}`).toEqual(values[i]);
    }
  });
});
