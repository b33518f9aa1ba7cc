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
  /** Prefix of every NOTIFY channel (a letter first). Default "apex_ev_". Channel names must stay under 64 bytes. */
  readonly channelPrefix?: string;
}

/** Postgres refuses NOTIFY payloads of 8000 bytes or more. */
export const maxNotifyPayloadBytes = 7_999;
/** Postgres identifiers, hence channel names, are at most 63 bytes. */
const maxChannelBytes = 63;

export function createPgNotifyEventBus(db: Db, opts: PgNotifyEventBusOptions = {}): EventBus {
  const listen = db.listen?.bind(db);
  if (!listen) throw new Error(`event bus: this store (${db.kind}) cannot LISTEN`);
  const prefix = opts.channelPrefix ?? "apex_ev_";
  // PGlite's listen() sends the name unquoted: keep to what is a valid lower-case identifier as is
  // (so "dag:<uuid>" becomes "apex_ev_dag_<uuid with _>"). Names that fold together share a
  // channel; subscribers check what they get (the DAG watch compares the event's dag id).
  const channelName = (channel: string) => {
    const name = (prefix + channel).toLowerCase().replace(/[^a-z0-9_]/g, "_");
    if (Buffer.byteLength(name) > maxChannelBytes) {
      throw new Error(`event bus: channel "${name}" is longer than ${maxChannelBytes} bytes (a Postgres identifier)`);
    }
    return name;
  };

  let tail: Promise<unknown> = Promise.resolve();
  return {
    kind: "postgres",
    publish(channel, event) {
      let name: string;
      const payload = JSON.stringify(event);
      try {
        name = channelName(channel);
        if (Buffer.byteLength(payload) > maxNotifyPayloadBytes) {
          throw new Error(`event bus: event on ${channel} is ${Buffer.byteLength(payload)} bytes, over the NOTIFY limit of ${maxNotifyPayloadBytes}`);
        }
      } catch (err) {
        return Promise.reject(err as Error);
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
