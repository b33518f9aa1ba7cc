/** Retry delays: exponential in the attempt number, capped, with "equal jitter" (half fixed, half random). */
export interface BackoffPolicy {
  /** Delay before the 2nd attempt, before jitter. Default 1 s. */
  readonly baseMs: number;
  /** Upper bound of any delay. Default 60 s. */
  readonly maxMs: number;
}

export const defaultBackoff: BackoffPolicy = { baseMs: 1_000, maxMs: 60_000 };

/** Delay after `attemptsSpent` failed attempts (1 = first failure). */
export function retryDelayMs(attemptsSpent: number, policy: BackoffPolicy = defaultBackoff, random = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attemptsSpent - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}
