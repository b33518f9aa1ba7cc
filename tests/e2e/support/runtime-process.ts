/**
 * Runs apex-api / apex-worker as real child processes (their bin entry points through tsx) and
 * collects their JSON log lines from stdout.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";

const appDir = resolve(__dirname, "../../../app");

export interface RuntimeProcess {
  readonly name: string;
  readonly logs: readonly Record<string, unknown>[];
  /** Resolves with the first log line matching `predicate` (already seen or upcoming). */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
  /** SIGKILL: the process dies without its shutdown (no lease hand-back, no heartbeat row removed). */
  kill(): Promise<void>;
}

export function startRuntimeProcess(name: string, bin: "apex-api" | "apex-worker", env: Record<string, string>): RuntimeProcess {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", resolve(appDir, `src/bin/${bin}.ts`)], {
    cwd: appDir,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  let exited: number | null | undefined;
  let buffered = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.startsWith("{")) continue;
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a partial or foreign line: not a log record
      }
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => stderr.push(chunk));
  const exit = new Promise<void>((r) =>
    child.once("exit", (code) => {
      exited = code;
      r();
    }),
  );

  return {
    name,
    logs,
    async waitForLog(predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = logs.find(predicate);
        if (hit) return hit;
        if (exited !== undefined || Date.now() > deadline) {
          throw new Error(
            `${name}: expected log line not seen (${exited !== undefined ? `exited with ${exited}` : "timed out"}); ` +
              `last lines: ${JSON.stringify(logs.slice(-5))}; stderr: ${stderr.join("").slice(-2000)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (exited !== undefined) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exit;
      clearTimeout(killer);
    },
    async kill() {
      if (exited !== undefined) return;
      child.kill("SIGKILL");
      await exit;
    },
  };
}
