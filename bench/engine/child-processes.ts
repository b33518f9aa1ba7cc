/**
 * The processes the bench spawns: each node script runs in its own process group with the bench
 * preloads, an IPC channel and its stdout/stderr in a log file. Every group is killed when the bench
 * exits, however it exits (see killAllChildren and exit-with-parent-preload.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync, readFileSync } from "node:fs";
import path from "node:path";
import { ChildIpc } from "./ipc";

const preloads = [path.join(__dirname, "exit-with-parent-preload.ts"), path.join(__dirname, "pg-count-preload.ts")];

export interface BenchChild {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  readonly logFile: string;
  readonly ipc: ChildIpc;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<BenchChild>();

export interface SpawnOptions {
  readonly name: string;
  readonly script: string;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly logFile: string;
}

/** `node --import tsx <preloads> script`, in a new process group, logging to `logFile`. */
export function spawnBenchChild(o: SpawnOptions): BenchChild {
  const log = openSync(o.logFile, "a");
  const args = ["--import", "tsx", ...preloads.flatMap((p) => ["--import", p]), o.script];
  const child = spawn(process.execPath, args, { cwd: o.cwd, env: o.env, detached: true, stdio: ["ignore", log, log, "ipc"] });
  closeSync(log);
  if (child.pid === undefined) throw new Error(`could not spawn ${o.name}`);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const bc: BenchChild = { name: o.name, process: child, pid: child.pid, logFile: o.logFile, ipc: new ChildIpc(child, o.name), exited };
  live.add(bc);
  void exited.then(() => live.delete(bc));
  return bc;
}

const isRunning = (c: BenchChild) => c.process.exitCode === null && c.process.signalCode === null;

function signalGroup(c: BenchChild, signal: NodeJS.Signals): void {
  try {
    process.kill(-c.pid, signal);
  } catch {
    // the group is gone already
  }
}

/** SIGTERM (the processes' own graceful shutdown), then SIGKILL after `graceMs`. */
export async function stopChild(c: BenchChild, graceMs = 25_000): Promise<void> {
  if (!isRunning(c)) return;
  signalGroup(c, "SIGCONT"); // a paused worker would never see the SIGTERM
  signalGroup(c, "SIGTERM");
  const timer = setTimeout(() => signalGroup(c, "SIGKILL"), graceMs);
  await c.exited;
  clearTimeout(timer);
}

export function pauseChild(c: BenchChild): void {
  signalGroup(c, "SIGSTOP");
}

export function resumeChild(c: BenchChild): void {
  signalGroup(c, "SIGCONT");
}

/** Synchronous, for process exit paths: SIGKILL every group still running. */
export function killAllChildren(): void {
  for (const c of live) {
    signalGroup(c, "SIGCONT");
    signalGroup(c, "SIGKILL");
  }
}

/** The first JSON log line of `c` whose `message` is `message`; fails when the process exits first. */
export async function waitForLogLine(c: BenchChild, message: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = readFileSync(c.logFile, "utf8")
      .split("\n")
      .map(parseJsonLine)
      .find((line) => line?.message === message);
    if (found) return found;
    if (!isRunning(c)) throw new Error(`${c.name} exited before logging "${message}":\n${tail(c.logFile)}`);
    if (Date.now() > deadline) throw new Error(`${c.name} did not log "${message}" within ${timeoutMs} ms:\n${tail(c.logFile)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function parseJsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The last lines of a log file, for error messages. */
export function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

export interface Memory {
  /** Resident set now, bytes. */
  readonly rss: number;
  /** Peak resident set over the process's life (VmHWM), bytes. */
  readonly peakRss: number;
}

/** From /proc/<pid>/status; undefined once the process is gone. */
export function readMemory(pid: number): Memory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib("VmRSS"), peakRss: kib("VmHWM") };
}
