/**
 * Fans the engine's DAG events (Postgres NOTIFY on apex_dag_events, sent inside the transaction
 * that made the change) out to this process's watchers: one LISTEN per process, however many
 * streaming clients.
 */
import type { Db } from "../store/db";
import { channels } from "../engine/events";
import { logger } from "../telemetry/logger";
import type { DagEvent } from "./types";

export class DagWatchHub {
  private readonly watchers = new Map<string, Set<(e: DagEvent) => void>>();
  private listening?: Promise<() => Promise<void>>;

  constructor(private readonly db: Db) {}

  async watch(dagId: string, onEvent: (e: DagEvent) => void): Promise<() => void> {
    await this.ensureListening();
    let set = this.watchers.get(dagId);
    if (!set) this.watchers.set(dagId, (set = new Set()));
    set.add(onEvent);
    return () => {
      set.delete(onEvent);
      if (set.size === 0 && this.watchers.get(dagId) === set) this.watchers.delete(dagId);
    };
  }

  private ensureListening(): Promise<unknown> {
    if (!this.db.listen) throw new Error(`this store (${this.db.kind}) cannot LISTEN for DAG events`);
    if (!this.listening) {
      const listening = this.db.listen(channels.dagEvents, (payload) => this.dispatch(payload));
      // A failed LISTEN (store down at that moment) must not be remembered: the next watch retries.
      listening.catch(() => {
        if (this.listening === listening) this.listening = undefined;
      });
      this.listening = listening;
    }
    return this.listening;
  }

  private dispatch(payload: string): void {
    let event: DagEvent;
    try {
      event = JSON.parse(payload) as DagEvent;
    } catch {
      logger.warn({ channel: channels.dagEvents }, "ignoring a malformed DAG event");
      return;
    }
    for (const w of this.watchers.get(event.dagId) ?? []) w(event);
  }

  async close(): Promise<void> {
    const unlisten = await this.listening?.catch(() => undefined);
    this.listening = undefined;
    this.watchers.clear();
    await unlisten?.();
  }
}
