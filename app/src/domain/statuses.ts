/**
 * The runtime's states, defined once (zod schemas, with their types by z.infer): tasks, DAGs,
 * attempts and roles. Everything above (store edge, engine, service, API, telemetry) imports them.
 */
import { z } from "zod";

export const taskStatusSchema = z.enum(["pending", "ready", "running", "awaiting_approval", "succeeded", "failed", "cancelled", "skipped"]);
export type TaskStatus = z.infer<typeof taskStatusSchema>;

export const dagStatusSchema = z.enum(["running", "awaiting_approval", "succeeded", "failed", "cancelled"]);
export type DagStatus = z.infer<typeof dagStatusSchema>;

export const terminalTaskStatuses: readonly TaskStatus[] = ["succeeded", "failed", "cancelled", "skipped"];
export const terminalDagStatuses: readonly DagStatus[] = ["succeeded", "failed", "cancelled"];

/** attempts.end_reason: how an attempt ended (state in a column, never parsed from its error). */
export const attemptEndReasonSchema = z.enum(["succeeded", "failed", "rescheduled", "lease_expired", "cancelled"]);
export type AttemptEndReason = z.infer<typeof attemptEndReasonSchema>;

export const roleSchema = z.enum(["admin", "operator", "viewer", "agent"]);
export type Role = z.infer<typeof roleSchema>;
