/**
 * Waiting for a workload to finish: one cheap progress read every 50 ms, failing fast on failed
 * tasks and with a clear message when nothing finishes for a while (a stuck engine must not hang
 * the bench).
 */
export const pollMs = 50;

export interface Progress {
  /** Tasks finished successfully. */
  readonly succeeded: number;
  /** Tasks that ended otherwise (failed, skipped, cancelled). */
  readonly failed: number;
}

export interface CompletionWatch {
  /** e.g. "apex chains (repetition 2)". */
  readonly label: string;
  readonly expected: number;
  readonly read: () => Promise<Progress>;
  /** Extra condition checked once every task succeeded (e.g. the queue table is empty). */
  readonly settled?: () => Promise<boolean>;
  /** What is left, for the error message. */
  readonly describe: () => Promise<string>;
  /** Fail when no task finished for this long. */
  readonly stallMs: number;
  /** Called on every poll (memory sampling). */
  readonly onPoll?: () => void;
}

/** Resolves with the wall-clock time (ms) at which completion was observed. */
export async function waitForCompletion(w: CompletionWatch): Promise<number> {
  let lastCount = -1;
  let lastChange = Date.now();
  for (;;) {
    const p = await w.read();
    w.onPoll?.();
    if (p.failed > 0) throw new Error(`${w.label}: ${p.failed} of ${w.expected} tasks did not succeed: ${await w.describe()}`);
    if (p.succeeded >= w.expected && (!w.settled || (await w.settled()))) return Date.now();
    if (p.succeeded !== lastCount) {
      lastCount = p.succeeded;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > w.stallMs) {
      throw new Error(
        `${w.label}: stuck: ${p.succeeded} of ${w.expected} tasks finished and none for ${Math.round(w.stallMs / 1000)} s: ${await w.describe()}`,
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Runs `fn` over `items` with at most `parallelism` calls at once (the bench's submitters). */
export async function forEachParallel<T>(items: readonly T[], parallelism: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(parallelism, items.length) }, lane));
}
