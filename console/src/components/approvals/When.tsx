/**
 * A moment shown the way people read it: relative ("in 12 min", "3 h ago") with the absolute,
 * local date and time beside it, in a <time> element carrying the machine-readable instant.
 */
import { formatDateTime } from "../format";

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });

const steps: ReadonlyArray<[Intl.RelativeTimeFormatUnit, number]> = [
  ["second", 60],
  ["minute", 60],
  ["hour", 24],
  ["day", 30],
  ["month", 12],
  ["year", Number.POSITIVE_INFINITY],
];

/** "in 5 min", "2 days ago": the largest unit that keeps the number small. */
export function relativeTime(iso: string, now = Date.now()): string {
  let amount = (Date.parse(iso) - now) / 1000;
  for (const [unit, size] of steps) {
    if (Math.abs(Math.round(amount)) < size) return relative.format(Math.round(amount), unit);
    amount /= size;
  }
  return relative.format(Math.round(amount), "year");
}

/** Relative and absolute; `absoluteOnly` for lists where the relative part is noise. */
export function When({ iso, absoluteOnly = false }: { iso: string; absoluteOnly?: boolean }) {
  if (Number.isNaN(Date.parse(iso))) return <span>{iso}</span>;
  return (
    <time dateTime={iso}>
      {absoluteOnly ? formatDateTime(iso) : `${relativeTime(iso)} (${formatDateTime(iso)})`}
    </time>
  );
}
