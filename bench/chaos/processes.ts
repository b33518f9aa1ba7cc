/**
 * apex-api and apex-worker as supervised processes (bench/engine's spawner: own process group,
 * log file, killed when the run exits). The run kills and stops them on purpose; any other exit is
 * unexpected: counted, reported with the log's tail, and the process started again (as an
 * orchestrator would), so the run keeps measuring.
 */
import { spawnBenchChild, stopChild, tail, waitForLogLine, type BenchChild } from "../engine/child-processes";
import { sleep } from "./wait";

export interface UnexpectedExit {
  readonly name: string;
  readonly how: string;
  readonly at: number;
  readonly logTail: string;
}

export interface ProcessSpec {
  /** e.g. apex-worker-1 */
  readonly name: string;
  readonly script: string;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** The JSON log message that says it is up (`apex-api listening`, `apex-worker running`). */
  readonly readyMessage: string;
  readonly logFile: (generation: number) => string;
}

const startTimeoutMs = 90_000;

export class SupervisedProcess {
  private child?: BenchChild;
  private generation = 0;
  private intended = new WeakSet<BenchChild>();
  private closed = false;
  /** The ready line's fields (worker_id, http_port, ...) of the current process. */
  ready: Record<string, unknown> = {};
  /** Starts that failed (exited or timed out before ready), e.g. while the database is down. */
  failedStarts = 0;

  constructor(
    private readonly spec: ProcessSpec,
    private readonly onUnexpectedExit: (e: UnexpectedExit) => void,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Spawns until one process reports ready, at most `tries` times (restarts after an exit retry until the run ends). */
  async start(tries = Infinity): Promise<void> {
    for (let tried = 1; ; tried++) {
      if (this.closed) return;
      const child = spawnBenchChild({ ...this.spec, logFile: this.spec.logFile(++this.generation) });
      this.child = child;
      try {
        this.ready = await waitForLogLine(child, this.spec.readyMessage, startTimeoutMs);
      } catch (err) {
        this.failedStarts++;
        this.intended.add(child);
        await stopChild(child, 2_000);
        if (tried >= tries) throw err;
        await sleep(1_000);
        continue;
      }
      void child.exited.then(({ code, signal }) => {
        if (this.intended.has(child) || this.closed) return;
        this.onUnexpectedExit({ name: this.spec.name, how: signal ?? `code ${code}`, at: Date.now(), logTail: tail(child.logFile, 8) });
        void this.start().catch(() => undefined);
      });
      return;
    }
  }

  /** SIGKILL, on purpose: not counted as an exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.intended.add(child);
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // gone already
    }
    await child.exited;
  }

  /** SIGTERM with a short grace, for the end of the run; no restart after. */
  async stop(graceMs = 5_000): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (!child) return;
    this.intended.add(child);
    await stopChild(child, graceMs);
  }
}
