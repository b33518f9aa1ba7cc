/**
 * Text that Postgres cannot store, and the reversible escaping the engine stores it with.
 *
 * Postgres refuses U+0000 (NUL) in `text` and `jsonb` (`unsupported Unicode escape sequence`), and
 * a lone UTF-16 surrogate is not Unicode at all (jsonb refuses it; a `text` parameter silently
 * becomes U+FFFD). Tool and LLM output may hold either, so every engine-written value (task
 * outputs, error text, rendered approval args, a provider's model name) is stored through
 * `encodeText` / `encodeJson` and read back through `decodeText` / `decodeJson`:
 *
 *   each NUL, lone surrogate and U+E000 (the escape character, first code point of the
 *   private-use area) becomes U+E000 followed by its code unit as 4 lowercase hex digits.
 *
 *   "a\u0000b" -> "a\uE0000000b"   "\uD800" -> "\uE000d800"   "\uE000" -> "\uE000e000"
 *
 * Valid surrogate pairs (emoji) and every other character are left alone, so encoded text is
 * mostly the text itself. Object keys are escaped the same way (the escaping is injective, so keys
 * never collide). What the API validates (DAG input, task specs, names, reasons) contains neither
 * NUL nor lone surrogates (400, see service/storable-input.ts) and is stored as sent, never decoded.
 */

/** The escape character: U+E000, the first code point of the Unicode private-use area. */
export const escapeChar = "\uE000";

/** NUL, any surrogate code unit (paired ones are skipped by the encoder) and the escape character. */
// eslint-disable-next-line no-control-regex -- NUL is what this module is about
const needsLook = /[\u0000\uD800-\uDFFF\uE000]/;
// eslint-disable-next-line no-control-regex -- NUL is what this module is about
const mayBeUnstorable = /[\u0000\uD800-\uDFFF]/;
const escapeSequence = /\uE000(0000|d[89a-f][0-9a-f]{2}|e000)/g;

const hex4 = (unit: number): string => unit.toString(16).padStart(4, "0");

/** Whether `s` can be stored as is: no NUL and no lone surrogate. */
export function isStorable(s: string): boolean {
  return firstUnstorable(s) === undefined;
}

/** The first NUL or lone surrogate code unit of `s` and its index, or undefined. */
export function firstUnstorable(s: string): { index: number; unit: number } | undefined {
  if (!mayBeUnstorable.test(s)) return undefined;
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i);
    if (unit === 0) return { index: i, unit };
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return { index: i, unit };
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return { index: i, unit };
    }
  }
  return undefined;
}

/** Escapes NUL, lone surrogates and the escape character (see the module comment). */
export function encodeText(s: string): string {
  if (!needsLook.test(s)) return s;
  let out = "";
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i);
    let escape = unit === 0 || unit === 0xe000;
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      escape = true;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      escape = true;
    }
    if (escape) {
      out += s.slice(from, i) + escapeChar + hex4(unit);
      from = i + 1;
    }
  }
  return out + s.slice(from);
}

/** Reverses encodeText. Text that was never encoded comes back unchanged unless it holds the escape character. */
export function decodeText(s: string): string {
  if (!s.includes(escapeChar)) return s;
  return s.replace(escapeSequence, (_m, unit: string) => String.fromCharCode(parseInt(unit, 16)));
}

/** encodeText over every string and object key of a JSON value (`toJSON` applied, as JSON.stringify does). */
export function encodeJson(value: unknown): unknown {
  return mapJson(value, encodeText, "");
}

/** Reverses encodeJson. */
export function decodeJson(value: unknown): unknown {
  return mapJson(value, decodeText, "");
}

function mapJson(value: unknown, text: (s: string) => string, key: string): unknown {
  let v = value;
  if (v !== null && typeof v === "object" && typeof (v as { toJSON?: unknown }).toJSON === "function") {
    v = (v as { toJSON(key: string): unknown }).toJSON(key);
  }
  if (typeof v === "string") return text(v);
  if (Array.isArray(v)) return v.map((x, i) => mapJson(x, text, String(i)));
  if (v !== null && typeof v === "object") {
    // fromEntries defines own properties: a "__proto__" key stays a key.
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [text(k), mapJson(x, text, k)]));
  }
  return v;
}
