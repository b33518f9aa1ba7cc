/**
 * Cost per hour or per day over the period. The API reports buckets with usage only; the chart
 * shows every bucket of the period (empty ones at $0) so its axis is time, not a list of dates.
 * The table keeps the API's rows: exact values where there was usage.
 */
import { Bar, BarChart, CartesianGrid, Tooltip, XAxis, YAxis } from "recharts";
import type { UsageReport } from "../../api/types";
import { ChartSection } from "./ChartSection";
import { formatCount, formatUsdExact } from "../format";
import { bucketLabel } from "./format";

export function seriesSummary(series: UsageReport["series"], bucket: UsageReport["bucket"]): string {
  if (series.length === 0) return "No usage in any " + bucket + ".";
  const peak = series.reduce((max, s) => (s.cost_usd > max.cost_usd ? s : max));
  const unit = bucket === "hour" ? "hour" : "day";
  return `Cost per ${unit}, ${series.length} ${unit}${series.length === 1 ? "" : "s"} with usage; highest ${formatUsdExact(peak.cost_usd)} at ${bucketLabel(peak.start, bucket)}.`;
}

const bucketMs = { hour: 3_600_000, day: 86_400_000 } as const;

/** Every bucket from `since` to `until` (UTC, as the API buckets), the reported ones filled in. */
export function denseSeries(report: Pick<UsageReport, "since" | "until" | "bucket" | "series">): UsageReport["series"] {
  const step = bucketMs[report.bucket];
  const byStart = new Map(report.series.map((s) => [Date.parse(s.start), s]));
  const first = Math.floor(Date.parse(report.since) / step) * step;
  const end = Date.parse(report.until);
  const out: UsageReport["series"] = [];
  for (let t = first; t < end && out.length <= 500; t += step) {
    out.push(byStart.get(t) ?? { start: new Date(t).toISOString(), cost_usd: 0, input_tokens: 0, output_tokens: 0 });
  }
  // A bucket the API reports outside the computed range (clock skew) is still shown.
  for (const s of report.series) if (!out.includes(s)) out.push(s);
  return out.sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
}

export function CostOverTime({ report }: { report: UsageReport }) {
  const data = report.series.map((s) => ({ ...s, label: bucketLabel(s.start, report.bucket) }));
  const chartData = denseSeries(report).map((s) => ({ ...s, label: bucketLabel(s.start, report.bucket) }));
  const unit = report.bucket === "hour" ? "Hour" : "Day";
  return (
    <ChartSection
      title="Cost over time"
      summary={seriesSummary(report.series, report.bucket)}
      chart={(width) => (
        <BarChart width={width} height={240} data={chartData} margin={{ left: 8, right: 24 }} accessibilityLayer={false}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} />
          <XAxis dataKey="label" />
          <YAxis tickFormatter={(v: number) => `$${v}`} width={88} />
          <Tooltip formatter={(v) => formatUsdExact(Number(v))} />
          <Bar dataKey="cost_usd" name="Cost (USD)" fill="#146c2e" maxBarSize={48} isAnimationActive={false} />
        </BarChart>
      )}
      table={
        <table className="compact">
          <caption className="visually-hidden">Cost over time: exact values per {unit.toLowerCase()}</caption>
          <thead>
            <tr>
              <th scope="col">{unit} starting</th>
              <th scope="col" className="num">Cost (USD)</th>
              <th scope="col" className="num">Input tokens</th>
              <th scope="col" className="num">Output tokens</th>
            </tr>
          </thead>
          <tbody>
            {data.map((s) => (
              <tr key={s.start}>
                <th scope="row">
                  <time dateTime={s.start}>{s.label}</time>
                </th>
                <td className="num">{formatUsdExact(s.cost_usd)}</td>
                <td className="num">{formatCount(s.input_tokens)}</td>
                <td className="num">{formatCount(s.output_tokens)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      }
    />
  );
}
