/** Cost split by one dimension (agent or model): a bar per item, most expensive first, and its table. */
import { Bar, BarChart, CartesianGrid, Tooltip, XAxis, YAxis } from "recharts";
import { ChartSection } from "./ChartSection";
import { formatCount, formatUsdExact } from "../format";
import { formatShare } from "./format";

export interface BreakdownRow {
  readonly key: string;
  readonly name: string;
  readonly cost_usd: number;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly calls: number;
}

export interface CostBreakdownProps {
  readonly title: string;
  /** What one row is, singular ("Agent", "Model"): the first column's header. */
  readonly itemLabel: string;
  readonly rows: readonly BreakdownRow[];
  readonly totalCost: number;
}

/** "Most expensive: janitor $1.2000 (80%), planner $0.3000 (20%). 2 agents in all." */
export function breakdownSummary(rows: readonly BreakdownRow[], totalCost: number, itemLabel: string): string {
  if (rows.length === 0) return `No ${itemLabel.toLowerCase()} recorded usage.`;
  const top = rows
    .slice(0, 3)
    .map((r) => `${r.name} ${formatUsdExact(r.cost_usd)} (${formatShare(r.cost_usd, totalCost)})`)
    .join(", ");
  const noun = rows.length === 1 ? itemLabel.toLowerCase() : `${itemLabel.toLowerCase()}s`;
  return `Most expensive: ${top}. ${rows.length} ${noun} in all.`;
}

export function CostBreakdown({ title, itemLabel, rows, totalCost }: CostBreakdownProps) {
  const height = Math.max(120, rows.length * 36 + 48);
  return (
    <ChartSection
      title={title}
      summary={breakdownSummary(rows, totalCost, itemLabel)}
      chart={(width) => (
        <BarChart width={width} height={height} data={[...rows]} layout="vertical" margin={{ left: 8, right: 24 }} accessibilityLayer={false}>
          <CartesianGrid strokeDasharray="3 3" horizontal={false} />
          <XAxis type="number" tickFormatter={(v: number) => `$${v}`} />
          <YAxis type="category" dataKey="name" width={Math.min(220, Math.floor(width / 3))} />
          <Tooltip formatter={(v) => formatUsdExact(Number(v))} />
          <Bar dataKey="cost_usd" name="Cost (USD)" fill="#0a58ca" maxBarSize={28} isAnimationActive={false} />
        </BarChart>
      )}
      table={
        <table className="compact">
          <caption className="visually-hidden">{title}: exact values</caption>
          <thead>
            <tr>
              <th scope="col">{itemLabel}</th>
              <th scope="col" className="num">Cost (USD)</th>
              <th scope="col" className="num">Share</th>
              <th scope="col" className="num">Input tokens</th>
              <th scope="col" className="num">Output tokens</th>
              <th scope="col" className="num">Calls</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.key}>
                <th scope="row">{r.name}</th>
                <td className="num">{formatUsdExact(r.cost_usd)}</td>
                <td className="num">{formatShare(r.cost_usd, totalCost)}</td>
                <td className="num">{formatCount(r.input_tokens)}</td>
                <td className="num">{formatCount(r.output_tokens)}</td>
                <td className="num">{formatCount(r.calls)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      }
    />
  );
}
