/** Cost per hour or per day over the period (buckets with usage only, as the API reports them). */
import { Bar, BarChart, CartesianGrid, Tooltip, XAxis, YAxis } from "recharts";
import type { UsageReport } from "../../api/types";
import { ChartSection } from "./ChartSection";
import { bucketLabel, formatCount, formatUsd } from "./format";

export function seriesSummary(series: UsageReport["series"], bucket: UsageReport["bucket"]): string {
  if (series.length === 0) return "No usage in any " + bucket + ".";
  const peak = series.reduce((max, s) => (s.cost_usd > max.cost_usd ? s : max));
  const unit = bucket === "hour" ? "hour" : "day";
  return `Cost per ${unit}, ${series.length} ${unit}${series.length === 1 ? "" : "s"} with usage; highest ${formatUsd(peak.cost_usd)} at ${bucketLabel(peak.start, bucket)}.`;
}

export function CostOverTime({ report }: { report: UsageReport }) {
  const data = report.series.map((s) => ({ ...s, label: bucketLabel(s.start, report.bucket) }));
  const unit = report.bucket === "hour" ? "Hour" : "Day";
  return (
    <ChartSection
      title="Cost over time"
      summary={seriesSummary(report.series, report.bucket)}
      chart={(width) => (
        <BarChart width={width} height={240} data={data} margin={{ left: 8, right: 24 }} accessibilityLayer={false}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} />
          <XAxis dataKey="label" />
          <YAxis tickFormatter={(v: number) => `$${v}`} width={88} />
          <Tooltip formatter={(v) => formatUsd(Number(v))} />
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
                <td className="num">{formatUsd(s.cost_usd)}</td>
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
