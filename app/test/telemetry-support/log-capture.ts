/** Collects the process's JSON log lines into `lines` until the returned function is called. */
import { Writable } from "node:stream";
import { teeLogs } from "../../src/telemetry/logger";

export function captureLogLines(lines: Record<string, unknown>[]): () => void {
  return teeLogs(
    new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    }),
  );
}
