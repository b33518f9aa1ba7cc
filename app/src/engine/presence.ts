/**
 * A worker's presence row (migration 0008): announced at start and on every heartbeat, withdrawn
 * when the worker stops claiming. What apex_workers_alive and apex_active_agents count.
 * Failures are logged, never thrown: presence is telemetry, the worker keeps running its tasks.
 */
import os from "node:os";
import type { Db } from "../store/db";
import { announceWorker, removeWorker } from "../store/queries/workers";
import { logger } from "../telemetry/logger";

export class Presence {
  private writing?: Promise<void>;
  private withdrawn = false;

  constructor(
    private readonly db: Db,
    private readonly worker: { readonly id: string; readonly concurrency: number; readonly leaseMs: number },
  ) {}

  /** Inserts or renews the row. One write at a time: a beat while the last one is still out joins it. */
  announce(): Promise<void> {
    if (this.withdrawn) return Promise.resolve();
    this.writing ??= this.write().finally(() => (this.writing = undefined));
    return this.writing;
  }

  /** Deletes the row once any announce in flight has landed; later announces do nothing. */
  async withdraw(): Promise<void> {
    this.withdrawn = true;
    await this.writing;
    try {
      await removeWorker(this.db, this.worker.id);
    } catch (err) {
      logger.warn({ worker_id: this.worker.id, err: (err as Error).message }, "could not remove the worker's presence row; it expires with the lease");
    }
  }

  private async write(): Promise<void> {
    const { id, concurrency: slots, leaseMs } = this.worker;
    try {
      await announceWorker(this.db, { id, hostname: os.hostname(), pid: process.pid, slots, leaseMs });
    } catch (err) {
      logger.warn({ worker_id: id, err: (err as Error).message }, "worker presence heartbeat failed");
    }
  }
}
