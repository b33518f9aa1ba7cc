import { describe, expect, it } from "vitest";
import { denseSeries } from "../src/components/cost/CostOverTime";

describe("denseSeries", () => {
  it("fills every hour of the period, keeping the reported buckets", () => {
    const series = denseSeries({
      since: "2026-12-07T10:30:00.000Z",
      until: "2026-12-07T14:10:00.000Z",
      bucket: "hour",
      series: [{ start: "2026-12-07T12:00:00.000Z", cost_usd: 0.5, input_tokens: 10, output_tokens: 2 }],
    });
    expect(series.map((s) => [s.start.slice(11, 16), s.cost_usd])).toEqual([
      ["10:00", 0],
      ["11:00", 0],
      ["12:00", 0.5],
      ["13:00", 0],
      ["14:00", 0],
    ]);
  });

  it("buckets days on UTC midnights", () => {
    const series = denseSeries({
      since: "2026-12-01T18:00:00.000Z",
      until: "2026-12-04T06:00:00.000Z",
      bucket: "day",
      series: [{ start: "2026-12-03T00:00:00.000Z", cost_usd: 1, input_tokens: 1, output_tokens: 1 }],
    });
    expect(series.map((s) => `${s.start.slice(0, 10)}=${s.cost_usd}`)).toEqual(["2026-12-01=0", "2026-12-02=0", "2026-12-03=1", "2026-12-04=0"]);
  });
});
