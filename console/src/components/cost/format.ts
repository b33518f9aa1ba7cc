/** What the cost screen needs beyond components/format.ts: shares of a total and series bucket labels. */
const percent = new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: 1 });

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
