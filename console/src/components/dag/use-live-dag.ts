/**
 * A DAG kept up to date: loaded once, then followed over the event stream (GET /v1/dags/:id/events)
 * until it reaches a final status. Each event triggers a refetch of the whole DAG (throttled, one
 * request in flight at a time) so outputs, attempts and usage appear with the status. When the
 * stream drops before the DAG finished, it reconnects with exponential backoff.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import type { ApiClient } from "../../api/client";
import type { Dag } from "../../api/types";
import { isFinalDagStatus } from "./format";

export type StreamState = "connecting" | "live" | "reconnecting" | "finished";

export const liveTiming = {
  /** At most one refetch per this interval, however many events arrive. */
  refetchThrottleMs: 300,
  /** First reconnect delay; doubles per failure up to the maximum. */
  reconnectBaseMs: 1_000,
  reconnectMaxMs: 30_000,
};

export interface LiveDag {
  readonly dag?: Dag;
  /** The first load failed (nothing to show). */
  readonly error?: unknown;
  /** A later refetch failed (the DAG shown may be stale). */
  readonly refreshError?: unknown;
  readonly stream: StreamState;
  /** Load again from scratch (after an error). */
  retry(): void;
  /** Refetch now (after an action such as cancelling). */
  refresh(): void;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export function useLiveDag(client: ApiClient, id: string): LiveDag {
  const [generation, setGeneration] = useState(0);
  const [state, setState] = useState<{ for: string; dag?: Dag; error?: unknown; refreshError?: unknown; stream: StreamState }>({
    for: "",
    stream: "connecting",
  });
  const refreshRef = useRef<() => void>(() => undefined);
  const runKey = `${id}#${generation}`;

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    const update = (patch: Partial<typeof state>) => {
      if (!signal.aborted) setState((prev) => ({ ...(prev.for === runKey ? prev : { stream: "connecting" as StreamState }), ...patch, for: runKey }));
    };

    let inFlight: Promise<Dag | undefined> | undefined;
    let queued = false;
    const load = (): Promise<Dag | undefined> => {
      if (inFlight) {
        queued = true;
        return inFlight;
      }
      inFlight = client.getDag(id, signal).then(
        (dag) => {
          update({ dag, refreshError: undefined });
          return dag;
        },
        (error: unknown) => {
          if (!signal.aborted) setState((prev) => (prev.for === runKey && prev.dag ? { ...prev, refreshError: error } : { for: runKey, error, stream: "connecting" }));
          return undefined;
        },
      );
      void inFlight.finally(() => {
        inFlight = undefined;
        if (queued && !signal.aborted) {
          queued = false;
          void load();
        }
      });
      return inFlight;
    };

    let throttle: ReturnType<typeof setTimeout> | undefined;
    const refetchSoon = () => {
      throttle ??= setTimeout(() => {
        throttle = undefined;
        void load();
      }, liveTiming.refetchThrottleMs);
    };
    refreshRef.current = () => void load();

    void (async () => {
      const first = await load();
      if (!first || signal.aborted) return;
      if (isFinalDagStatus(first.status)) return update({ stream: "finished" });
      let failures = 0;
      while (!signal.aborted) {
        let finished = false;
        let heard = false;
        try {
          await client.watchDag(
            id,
            (event) => {
              heard = true;
              failures = 0;
              if (event.type === "dag_status" && isFinalDagStatus(event.status)) finished = true;
              update({ stream: "live" });
              refetchSoon();
            },
            signal,
          );
          // A stream that closes without a word is a failure too, or we would reconnect at full speed.
          if (!heard) failures += 1;
        } catch {
          failures += 1;
        }
        if (signal.aborted) return;
        if (finished) {
          update({ stream: "finished" });
          refetchSoon();
          return;
        }
        // Dropped (or closed by a restarting server) before the DAG finished: try again.
        update({ stream: "reconnecting" });
        refetchSoon();
        const delay = Math.min(liveTiming.reconnectBaseMs * 2 ** Math.max(0, failures - 1), liveTiming.reconnectMaxMs);
        await sleep(delay, signal);
      }
    })();

    return () => {
      controller.abort();
      clearTimeout(throttle);
    };
  }, [client, id, runKey]);

  const retry = useCallback(() => setGeneration((g) => g + 1), []);
  const refresh = useCallback(() => refreshRef.current(), []);
  const current = state.for === runKey ? state : { stream: "connecting" as StreamState };
  return { ...current, retry, refresh };
}
