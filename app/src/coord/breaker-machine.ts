/**
 * The circuit breaker's state machine as a pure function. The in-process store runs it directly;
 * the Redis store runs the same rules in a Lua script (redis-scripts.ts) so every replica sees one
 * atomic transition. The shared test suite holds both to the same behaviour.
 *
 * Calls in flight count once a failure is seen: while closed with no failure, every call is
 * admitted (a healthy provider gets all the concurrency the workers have); after a failure, a call
 * is admitted only while the calls admitted since then and still in flight stay below the failure
 * budget left (failureThreshold - consecutive failures). So beyond the calls already in the air
 * when a provider breaks, at most failureThreshold - 1 more reach it before the breaker opens. Such
 * a call holds its slot until it reports (success, failure, release) or until probeLeaseMs passed
 * (its worker died). Calls admitted without an id are never tracked.
 */
import type { BreakerAdmission, BreakerPolicy, BreakerState } from "./types";

export interface BreakerRecord {
  readonly state: BreakerState;
  /** Consecutive failures while closed. */
  readonly failures: number;
  /** When the breaker last opened (ms since epoch). */
  readonly openedAt: number;
  /** While half_open: the admitted probe holds the slot until this time (0 = slot free). */
  readonly probeUntil: number;
  /** Calls admitted while closed and not yet reported: call id -> when its slot lapses. */
  readonly inFlight: Readonly<Record<string, number>>;
}

export type BreakerOp = "state" | "admit" | "success" | "failure" | "release";

export const closedRecord: BreakerRecord = { state: "closed", failures: 0, openedAt: 0, probeUntil: 0, inFlight: {} };

export function stepBreaker(
  rec: BreakerRecord,
  op: BreakerOp,
  now: number,
  policy: BreakerPolicy,
  callId?: string,
): { record: BreakerRecord; admission: BreakerAdmission } {
  let { state, failures, openedAt, probeUntil } = rec;
  const inFlight: Record<string, number> = {};
  for (const [id, until] of Object.entries(rec.inFlight)) if (until > now) inFlight[id] = until;
  if (state === "open" && now >= openedAt + policy.cooldownMs) {
    state = "half_open";
    probeUntil = 0;
  }
  if (op !== "state" && op !== "admit" && callId !== undefined) delete inFlight[callId];
  let admission: BreakerAdmission = "refused";
  switch (op) {
    case "state":
      break;
    case "admit":
      if (state === "closed") {
        if (callId === undefined || failures === 0) admission = "admitted";
        else if (Object.keys(inFlight).length < policy.failureThreshold - failures) {
          inFlight[callId] = now + policy.probeLeaseMs;
          admission = "admitted";
        }
      } else if (state === "half_open" && probeUntil <= now) {
        probeUntil = now + policy.probeLeaseMs;
        admission = "probe";
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
  // Calls admitted before the breaker opened report into the void: their slots go with it.
  const slots = state === "open" ? {} : inFlight;
  return { record: { state, failures, openedAt, probeUntil, inFlight: slots }, admission };
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
  check("probeTimeoutMs", 1);
  if (policy.probeTimeoutMs > policy.probeLeaseMs) {
    throw new Error(`breaker policy: probeTimeoutMs (${policy.probeTimeoutMs}) must not exceed probeLeaseMs (${policy.probeLeaseMs})`);
  }
  return policy;
}
