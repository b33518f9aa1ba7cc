/**
 * Worker presence (migration 0008): each worker's row, renewed on every heartbeat and deleted when
 * it stops. A worker is alive while its heartbeat is younger than its lease; the cluster gauges
 * (telemetry/cluster-gauges.ts) count the live ones and their slots.
 */
import type { Db } from "../db";

export interface WorkerPresence {
  readonly id: string;
  readonly hostname: string;
  readonly pid: number;
  /** Tasks it runs at once. */
  readonly slots: number;
  readonly leaseMs: number;
}

/** Rows of dead workers one heartbeat deletes at most (a few per beat keeps each beat small). */
const staleRowsPerBeat = 20;

/**
 * Inserts or renews `w`'s row (heartbeat_at = now(); started_at kept) and deletes up to
 * `staleRowsPerBeat` rows of workers whose heartbeat is older than their lease. Rows another
 * worker is deleting at the same moment are skipped (SKIP LOCKED), so beats never wait on each other.
 */
export async function announceWorker(db: Db, w: WorkerPresence): Promise<void> {
  await db.query(
    `WITH stale AS (
       SELECT id FROM workers
        WHERE id <> $1 AND heartbeat_at < now() - lease_ms * interval '1 millisecond'
        LIMIT ${staleRowsPerBeat}
        FOR UPDATE SKIP LOCKED
     ), gone AS (
       DELETE FROM workers w USING stale WHERE w.id = stale.id
     )
     INSERT INTO workers (id, hostname, pid, slots, lease_ms) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (id) DO UPDATE
       SET heartbeat_at = now(), hostname = excluded.hostname, pid = excluded.pid, slots = excluded.slots, lease_ms = excluded.lease_ms`,
    [w.id, w.hostname, w.pid, w.slots, w.leaseMs],
  );
}

/** Deletes `workerId`'s row (a clean stop): it no longer counts as alive. */
export async function removeWorker(db: Db, workerId: string): Promise<void> {
  await db.query("DELETE FROM workers WHERE id = $1", [workerId]);
}
