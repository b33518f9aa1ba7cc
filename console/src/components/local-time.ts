/**
 * `datetime-local` inputs speak the reader's local time without a zone; the API takes RFC 3339
 * instants. The two conversions every time filter uses.
 */

/** A `datetime-local` value as an RFC 3339 instant (UTC), or undefined when it is not a time. */
export function localToRfc3339(value: string): string | undefined {
  const ms = Date.parse(value);
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value) && !Number.isNaN(ms) ? new Date(ms).toISOString() : undefined;
}

/** An instant as a datetime-local value ("2026-11-26T11:05"), in the browser's time zone. */
export function toLocalInput(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
