/**
 * A chart as everyone can read it: a heading, the picture (hidden from screen readers, which get
 * the same numbers in the table), a caption summarising the top values, and the exact table.
 */
import { useId, type ReactNode } from "react";
import { useContainerWidth } from "./use-container-width";

export interface ChartSectionProps {
  readonly title: string;
  /** One or two sentences naming the top values; the figure's caption. */
  readonly summary: string;
  readonly chart: (width: number) => ReactNode;
  readonly table: ReactNode;
}

export function ChartSection({ title, summary, chart, table }: ChartSectionProps) {
  const id = useId();
  const [ref, width] = useContainerWidth();
  return (
    <section className="chart-section" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{title}</h2>
      <figure aria-labelledby={`${id}-caption`}>
        <div ref={ref} className="chart" aria-hidden="true">
          {chart(width)}
        </div>
        <figcaption id={`${id}-caption`}>{summary}</figcaption>
      </figure>
      {table}
    </section>
  );
}
