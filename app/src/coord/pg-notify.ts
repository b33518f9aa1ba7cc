/**
 * The EventBus over Postgres LISTEN/NOTIFY, for deployments with a real Postgres but no Redis
 * (separate API and worker processes share only the database). Also works on PGlite, whose
 * listen/notify is its own, which the tests use.
 *
 * Publishing is `SELECT pg_notify(...)` outside any transaction (callers publish after commit),
 * one at a time per bus: the pool would otherwise send two publishes on two connections and
 * they could arrive in either order. Subscribing goes through `Db.listen` (one LISTEN connection
 * per Db, shared by every channel, re-LISTENed after a reconnect).
 */
import type { Db } from "../store/db";
import type { EventBus } from "./types";

export interface PgNotifyEventBusOptions {
  /** Prefix of every NOTIFY channel. Default "apex_ev:". Channel names must stay under 64 bytes. */
  readonly channelPrefix?: string;
}

/** Postgres refuses NOTIFY payloads of 8000 bytes or more. */
export const maxNotifyPayloadBytes = 7_999;
/** Postgres identifiers, hence channel names, are at most 63 bytes. */
const maxChannelBytes = 63;

export function createPgNotifyEventBus(db: Db, opts: PgNotifyEventBusOptions = {}): EventBus {
  const listen = db.listen?.bind(db);
  if (!listen) throw new Error(`event bus: this store (${db.kind}) cannot LISTEN`);
  const prefix = opts.channelPrefix ?? "apex_ev:";
  const channelName = (channel: string) => {
    const name = prefix + channel;
    if (Buffer.byteLength(name) > maxChannelBytes) {
      throw new Error(`event bus: channel "${name}" is longer than ${maxChannelBytes} bytes (a Postgres identifier)`);
    }
    return name;
  };

  let tail: Promise<unknown> = Promise.resolve();
  return {
    kind: "postgres",
    publish(channel, event) {
      const name = channelName(channel);
      const payload = JSON.stringify(event);
      if (Buffer.byteLength(payload) > maxNotifyPayloadBytes) {
        return Promise.reject(new Error(`event bus: event on ${channel} is ${Buffer.byteLength(payload)} bytes, over the NOTIFY limit of ${maxNotifyPayloadBytes}`));
      }
      const sent = tail.then(() => db.query("SELECT pg_notify($1, $2)", [name, payload])).then(() => undefined);
      tail = sent.catch(() => undefined);
      return sent;
    },
    async subscribe(channel, onEvent) {
      return listen(channelName(channel), (payload) => {
        let event: unknown;
        try {
          event = JSON.parse(payload);
        } catch {
          return; // not ours: something else notified on our channel
        }
        try {
          onEvent(event);
        } catch {
          // the subscriber owns its errors, as with Redis
        }
      });
    },
  };
}
