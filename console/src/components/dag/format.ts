/** How the DAG screens write times, durations, token counts and money. */

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const integer = new Intl.NumberFormat("en-US");

export const finalDagStatuses: ReadonlySet<string> = new Set(["succeeded", "failed", "cancelled"]);

export function isFinalDagStatus(status: string): boolean {
  return finalDagStatuses.has(status);
}

/** A timestamp in the reader's locale and time zone; "—" when absent or unreadable. */
export function formatDateTime(iso: string | undefined): string {
  if (!iso) return "—";
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : dateTime.format(ms);
}

/** "850 ms", "42 s", "3 min 5 s", "2 h 4 min". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes % 60} min`;
}

/** Time from `start` to `end`, or to now (as "…so far") for something still going. */
export function formatElapsed(start: string, end: string | undefined, now = Date.now()): string {
  const from = Date.parse(start);
  const to = end ? Date.parse(end) : now;
  const text = formatDuration(to - from);
  return end || text === "—" ? text : `${text} so far`;
}

export function formatTokens(n: number): string {
  return integer.format(n);
}

/** US dollars, with the digits a fraction of a cent needs (LLM calls are cheap): $0.0042, $12.50. */
export function formatUsd(usd: number): string {
  const abs = Math.abs(usd);
  if (abs === 0 || abs >= 1) return `${usd < 0 ? "-" : ""}$${abs.toFixed(2)}`;
  // Three significant digits, at least two decimals, no trailing zeros past those two.
  const digits = Math.min(10, Math.max(2, Math.ceil(-Math.log10(abs)) + 2));
  const text = abs.toFixed(digits).replace(/(\.\d\d\d*?)0+$/, "$1");
  return `${usd < 0 ? "-" : ""}$${text}`;
}

/** Input + output tokens, the figure the lists show (cached tokens are part of input). */
export function totalTokens(usage: { input_tokens: number; output_tokens: number }): number {
  return usage.input_tokens + usage.output_tokens;
}
