/** Host processes by command line: proves that nothing a sandboxed run started outlives it. */
import { readdirSync, readFileSync } from "node:fs";
import { expect } from "vitest";

/** Host processes whose command line contains the marker. */
export function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, "utf8").includes(marker)) found.push(Number(d));
    } catch {
      // Exited while listing.
    }
  }
  return found;
}

/** Polls until no host process carries the marker (killed processes take a moment to be reaped). */
export const allGone = (marker: string) => expect.poll(() => processesWith(marker), { timeout: 10_000, interval: 20 }).toEqual([]);
