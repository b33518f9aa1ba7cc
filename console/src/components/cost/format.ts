/** Numbers of the cost screen, exact enough to reconcile: USD to 4-6 decimals, tokens in full. */
const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 4, maximumFractionDigits: 6 });
const count = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const percent = new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: 1 });

/** "$0.0123", "$12.3400", "$0.000042": four decimals at least, six when the cents need them. */
export function formatUsd(value: number): string {
  return usd.format(value);
}

export function formatCount(value: number): string {
  return count.format(value);
}

/** Share of a total, "62.5%"; "—" when the total is zero. */
export function formatShare(part: number, total: number): string {
  return total > 0 ? percent.format(part / total) : "—";
}

const hourLabel = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const dayLabel = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", year: "numeric" });

/** A series bucket's start, as local time: the hour for hourly buckets, the date for daily ones. */
export function bucketLabel(start: string, bucket: "hour" | "day"): string {
  const ms = Date.parse(start);
  if (Number.isNaN(ms)) return start;
  return (bucket === "hour" ? hourLabel : dayLabel).format(ms);
}
