/**
 * Why Apex refused a decision, in words: a 409 means the approval moved on (decided by someone
 * else, or expired), a 403 that this key may not decide it (e.g. it submitted the DAG itself).
 */
import { ApiRequestError } from "../../api/client";
import { describeError } from "../states";

export function describeDecisionError(error: unknown): string {
  if (error instanceof ApiRequestError) {
    if (error.status === 409) return `This approval can no longer be decided: ${error.message}.`;
    if (error.status === 403) return `Apex refused your decision: ${error.message}.`;
  }
  return describeError(error);
}

/** Whether the list should be refetched after this failure (the approval's state changed). */
export function approvalMovedOn(error: unknown): boolean {
  return error instanceof ApiRequestError && error.status === 409;
}
