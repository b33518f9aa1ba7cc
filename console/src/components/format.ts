/** How every screen writes a moment, a count and money. */

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const count = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const usdExact = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 4, maximumFractionDigits: 6 });

/** A timestamp in the reader's locale and time zone; "—" when absent, the text itself when unreadable. */
export function formatDateTime(iso: string | undefined): string {
  if (!iso) return "—";
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : dateTime.format(ms);
}

/** Tokens, calls: whole numbers in full, "12,345". */
export function formatCount(value: number): string {
  return count.format(value);
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

/** For reconciling (the cost screen): "$0.0123", "$12.3400", "$0.000042", four decimals at least, six when the cents need them. */
export function formatUsdExact(value: number): string {
  return usdExact.format(value);
}
