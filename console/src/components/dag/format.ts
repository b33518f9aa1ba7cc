/** What the DAG screens need beyond components/format.ts: final statuses, durations, token totals. */

export const finalDagStatuses: ReadonlySet<string> = new Set(["succeeded", "failed", "cancelled"]);

export function isFinalDagStatus(status: string): boolean {
  return finalDagStatuses.has(status);
}

/** "850 ms", "42 s", "3 min 5 s", "2 h 4 min". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes % 60} min`;
}

/** Time from `start` to `end`, or to now (as "…so far") for something still going. */
export function formatElapsed(start: string, end: string | undefined, now = Date.now()): string {
  const from = Date.parse(start);
  const to = end ? Date.parse(end) : now;
  const text = formatDuration(to - from);
  return end || text === "—" ? text : `${text} so far`;
}

/** Input + output tokens, the figure the lists show (cached tokens are part of input). */
export function totalTokens(usage: { input_tokens: number; output_tokens: number }): number {
  return usage.input_tokens + usage.output_tokens;
}

const budgetExceededPrefix = "budget_exceeded: ";

/** The refusal of a task a budget stopped (its error after `budget_exceeded: `), else undefined. */
export function budgetRefusal(error: string | undefined): string | undefined {
  return error?.startsWith(budgetExceededPrefix) ? error.slice(budgetExceededPrefix.length) : undefined;
}

/** What a task's status alone does not say: why a ready task is not starting, or that a budget stopped it. */
export function taskNote(task: { status: string; waiting_for?: string; error?: string }): string | undefined {
  if (task.waiting_for === "budget") return "waiting for budget";
  if (task.waiting_for === "provider") return "waiting for its provider";
  if (task.status === "failed" && budgetRefusal(task.error) !== undefined) return "budget exceeded";
  return undefined;
}
