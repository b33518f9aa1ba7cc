/** What the measured processes complained about during the run: their WARN/ERROR log lines, grouped. */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseJsonLine } from "./child-processes";

export interface LogComplaints {
  readonly file: string;
  /** Message -> count, for WARN and above (Apex's JSON lines, graphile-worker's console lines). */
  readonly byMessage: ReadonlyMap<string, number>;
}

function complaintOf(line: string): string | undefined {
  const json = parseJsonLine(line);
  if (json) {
    const level = String(json.level ?? "");
    if (!["WARN", "ERROR", "FATAL"].includes(level)) return undefined;
    const err = typeof json.err === "string" ? `: ${json.err}` : "";
    return `${level} ${String(json.message ?? "")}${err}`.slice(0, 200);
  }
  // graphile-worker's console lines: "[core] WARNING: ...", "[worker(...)] ERROR: ...".
  return /\b(WARN|WARNING|ERROR|FATAL):/.test(line) ? line.trim().slice(0, 200) : undefined;
}

export function scanLogs(runDir: string): LogComplaints[] {
  return readdirSync(runDir)
    .filter((f) => f.endsWith(".log"))
    .sort()
    .map((f) => {
      const byMessage = new Map<string, number>();
      for (const line of readFileSync(path.join(runDir, f), "utf8").split("\n")) {
        const c = complaintOf(line);
        if (c) byMessage.set(c, (byMessage.get(c) ?? 0) + 1);
      }
      return { file: f, byMessage };
    });
}

export function describeComplaints(all: readonly LogComplaints[]): string[] {
  return all.map(({ file, byMessage }) => {
    if (byMessage.size === 0) return `  ${file}: no warnings or errors`;
    const top = [...byMessage.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5);
    return [`  ${file}:`, ...top.map(([m, n]) => `    ${n} x ${m}`)].join("\n");
  });
}
