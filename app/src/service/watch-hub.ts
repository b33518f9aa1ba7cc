/**
 * Fans DAG events out to this process's watchers, from the event bus the runtime chose (Redis
 * pub/sub, Postgres LISTEN/NOTIFY or in-process; see engine/events.ts). Each DAG has its own
 * channel; every bus keeps one underlying subscription per channel however many watchers share
 * it, and forgets a subscription that failed, so the next watch retries it.
 */
import type { EventBus } from "../coord/types";
import { dagEventChannel, parseDagEvents } from "../engine/events";
import { logger } from "../telemetry/logger";
import type { DagEvent } from "./types";

export class DagWatchHub {
  private readonly open = new Set<() => Promise<void>>();

  constructor(private readonly bus: EventBus) {}

  /** Resolves once events of `dagId` are live; rejects (nothing kept) when the bus cannot subscribe. */
  async watch(dagId: string, onEvent: (e: DagEvent) => void): Promise<() => void> {
    const wanted = dagId.toLowerCase();
    const unsubscribe = await this.bus.subscribe(dagEventChannel(dagId), (raw) => {
      const events = parseDagEvents(raw);
      if (!events) {
        logger.warn({ bus: this.bus.kind }, "ignoring a malformed DAG event");
        return;
      }
      for (const event of events) if (event.dagId.toLowerCase() === wanted) onEvent(event);
    });
    let done = false;
    const stop = async () => {
      if (done) return;
      done = true;
      this.open.delete(stop);
      await unsubscribe().catch((err: unknown) => logger.warn({ err: (err as Error).message }, "DAG event unsubscribe failed"));
    };
    this.open.add(stop);
    return () => void stop();
  }

  async close(): Promise<void> {
    await Promise.all([...this.open].map((stop) => stop()));
  }
}
