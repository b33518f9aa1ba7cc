/**
 * The circuit breaker's state machine as a pure function. The in-process store runs it directly;
 * the Redis store runs the same rules in a Lua script (redis-scripts.ts) so every replica sees one
 * atomic transition. The shared test suite holds both to the same behaviour.
 */
import type { BreakerPolicy, BreakerState } from "./types";

export interface BreakerRecord {
  readonly state: BreakerState;
  /** Consecutive failures while closed. */
  readonly failures: number;
  /** When the breaker last opened (ms since epoch). */
  readonly openedAt: number;
  /** While half_open: the admitted probe holds the slot until this time (0 = slot free). */
  readonly probeUntil: number;
}

export type BreakerOp = "state" | "admit" | "success" | "failure" | "release";

export const closedRecord: BreakerRecord = { state: "closed", failures: 0, openedAt: 0, probeUntil: 0 };

export function stepBreaker(
  rec: BreakerRecord,
  op: BreakerOp,
  now: number,
  policy: BreakerPolicy,
): { record: BreakerRecord; admitted: boolean } {
  let { state, failures, openedAt, probeUntil } = rec;
  if (state === "open" && now >= openedAt + policy.cooldownMs) {
    state = "half_open";
    probeUntil = 0;
  }
  let admitted = false;
  switch (op) {
    case "state":
      break;
    case "admit":
      if (state === "closed") admitted = true;
      else if (state === "half_open" && probeUntil <= now) {
        probeUntil = now + policy.probeLeaseMs;
        admitted = true;
      }
      break;
    case "success":
      // A late success while open (a call admitted before the breaker opened) does not cut the cool-down short.
      if (state !== "open") {
        state = "closed";
        failures = 0;
        probeUntil = 0;
      }
      break;
    case "failure":
      if (state === "closed") {
        failures += 1;
        if (failures >= policy.failureThreshold) {
          state = "open";
          openedAt = now;
          failures = 0;
        }
      } else if (state === "half_open") {
        state = "open";
        openedAt = now;
        probeUntil = 0;
      }
      break;
    case "release":
      if (state === "half_open") probeUntil = 0;
      break;
  }
  return { record: { state, failures, openedAt, probeUntil }, admitted };
}

/** Throws when a policy cannot work, naming the field. */
export function validateBreakerPolicy(policy: BreakerPolicy): BreakerPolicy {
  const check = (field: keyof BreakerPolicy, min: number) => {
    const v = policy[field];
    if (!Number.isFinite(v) || v < min) throw new Error(`breaker policy: ${field} must be a number >= ${min}, got ${String(v)}`);
  };
  check("failureThreshold", 1);
  check("cooldownMs", 0);
  check("probeLeaseMs", 1);
  return policy;
}
