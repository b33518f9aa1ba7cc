/**
 * The faults of issue 12, injected from outside the processes, each followed by recovery: the run
 * waits until every DAG accepted before the fault ended has finished, and records how long that
 * took (target: 60 s). Each fault first waits for work to be in flight, so it hits running tasks.
 */
import type { ChaosRig } from "./rig";
import { probeBadInputs, type BadInputResult } from "./workload";
import { pollUntil, sleep } from "./wait";

export interface FaultResult {
  readonly name: string;
  /** Not injected: the run's time budget was spent (a runtime that recovers slowly). */
  readonly skipped?: boolean;
  /** Seconds from the end of the fault until every DAG accepted before it had finished; undefined: not within the bound. */
  readonly recoverySeconds?: number;
  readonly note?: string;
}

export interface FaultWindow {
  readonly name: string;
  readonly from: number;
  readonly to: number;
}

export type FaultName =
  | "sigkill-worker-1"
  | "sigkill-worker-2"
  | "postgres-fast-restart"
  | "postgres-blackhole"
  | "redis-restart"
  | "provider-500"
  | "provider-hang"
  | "bad-inputs";

/** The recovery target of the issue, and how much longer the run waits before it moves on. */
export const recoveryTargetMs = 60_000;
export const recoveryBoundMs = 75_000;

export class FaultInjector {
  badInputs?: BadInputResult;
  /** When the run SIGKILLed a worker. */
  readonly killTimes: number[] = [];
  /** Each fault from its injection until its recovery (or the bound), to tell what a miss happened in. */
  readonly windows: FaultWindow[] = [];
  private injectedAt = 0;

  constructor(
    private readonly rig: ChaosRig,
    private readonly runTag: string,
    private readonly key: string,
    private readonly agentId: string,
    /** When the run must stop injecting and waiting, to report before its watchdog fires. */
    private readonly budgetEndsAt: number,
  ) {}

  /** Injects one fault, waits for recovery. */
  async run(fault: FaultName, options: { holdMs: number }): Promise<FaultResult> {
    if (Date.now() + options.holdMs + 10_000 > this.budgetEndsAt) return { name: fault, skipped: true, note: "not run: the time budget is spent" };
    let note: string | undefined;
    /** When the fault ended; a SIGKILL ends when it is sent (restarting the worker is recovery). */
    let endedAt: number | undefined;
    switch (fault) {
      case "sigkill-worker-1":
      case "sigkill-worker-2": {
        const worker = this.rig.workers[fault === "sigkill-worker-1" ? 0 : 1]!;
        note = await this.whenBusy(String(worker.ready.worker_id));
        this.killTimes.push(Date.now());
        await worker.kill();
        endedAt = Date.now();
        await worker.start();
        break;
      }
      case "postgres-fast-restart":
        note = await this.whenBusy();
        await this.rig.postgres!.stop({ mode: "fast" });
        await sleep(options.holdMs); // the outage itself
        await this.rig.postgres!.start();
        break;
      case "postgres-blackhole":
        note = await this.whenBusy();
        this.rig.proxy!.blackhole();
        await sleep(options.holdMs);
        this.rig.proxy!.restore();
        break;
      case "redis-restart":
        note = await this.whenBusy();
        await this.rig.redis!.restart();
        break;
      case "provider-500":
      case "provider-hang": {
        const provider = this.rig.provider!;
        this.injectedAt = Date.now();
        const before = [...provider.calls.values()].reduce((s, c) => s + c.requests, 0);
        provider.setMode(fault === "provider-500" ? "error500" : "hang");
        const until = Date.now() + options.holdMs;
        const calls = () => [...provider.calls.values()].reduce((s, c) => s + c.requests, 0) - before;
        // At least the hold, and long enough for more failed calls than the breaker's threshold.
        await pollUntil(`the provider refused more calls than the breaker threshold (${fault})`, options.holdMs + 30_000, () => {
          return Date.now() >= until && calls() > 5;
        }).catch(() => {
          note = `only ${calls()} calls reached the provider in ${(options.holdMs + 30_000) / 1000} s`;
        });
        provider.setMode("normal");
        break;
      }
      case "bad-inputs":
        // Not an outage: nothing to recover from.
        this.badInputs = await probeBadInputs(this.rig.client, this.key, this.agentId);
        return { name: fault, note: `${this.badInputs.sent} requests, ${this.badInputs.wrong.length} not answered 400` };
    }
    const recoverySeconds = await this.recovery(endedAt ?? Date.now());
    this.windows.push({ name: fault, from: this.injectedAt, to: Date.now() });
    return { name: fault, recoverySeconds, note };
  }

  /** Waits (up to 20 s) until tasks are running, on one worker when given; the fault is injected next. */
  private async whenBusy(workerId?: string): Promise<string | undefined> {
    try {
      return await this.waitBusy(workerId);
    } finally {
      this.injectedAt = Date.now();
    }
  }

  private async waitBusy(workerId?: string): Promise<string | undefined> {
    try {
      await pollUntil(`tasks are running${workerId ? ` on ${workerId}` : ""}`, 20_000, async () => {
        const r = await this.rig.observer!.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM attempts WHERE status = 'running' AND ($1::text IS NULL OR worker_id = $1)`,
          [workerId ?? null],
        );
        return r.rows[0]!.n > 0;
      });
      return undefined;
    } catch {
      return "no task was running when the fault started";
    }
  }

  /** Seconds until every DAG of the run created before `endedAt` has finished (undefined past the bound or the budget). */
  async recovery(endedAt: number): Promise<number | undefined> {
    const boundMs = Math.max(1_000, Math.min(recoveryBoundMs, this.budgetEndsAt - Date.now()));
    try {
      await pollUntil("every DAG accepted before the fault ended has finished", boundMs, async () => {
        const r = await this.rig.observer!.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM dags WHERE name LIKE $1 AND created_at <= to_timestamp($2::float8 / 1000) AND finished_at IS NULL`,
          [`${this.runTag}-%`, endedAt],
        );
        return r.rows[0]!.n === 0;
      });
      return (Date.now() - endedAt) / 1000;
    } catch {
      return undefined;
    }
  }
}

/** The faults of each size, in order, with how long each outage lasts. */
export function faultPlan(size: "small" | "default"): { fault: FaultName; holdMs: number }[] {
  if (size === "small") {
    return [
      { fault: "sigkill-worker-1", holdMs: 0 },
      { fault: "postgres-fast-restart", holdMs: 3_000 },
      { fault: "provider-500", holdMs: 6_000 },
      { fault: "bad-inputs", holdMs: 0 },
    ];
  }
  return [
    { fault: "sigkill-worker-1", holdMs: 0 },
    { fault: "sigkill-worker-2", holdMs: 0 },
    { fault: "postgres-fast-restart", holdMs: 8_000 },
    { fault: "postgres-fast-restart", holdMs: 8_000 },
    { fault: "postgres-blackhole", holdMs: 30_000 },
    { fault: "redis-restart", holdMs: 0 },
    { fault: "provider-500", holdMs: 10_000 },
    { fault: "provider-hang", holdMs: 12_000 },
    { fault: "bad-inputs", holdMs: 0 },
  ];
}
