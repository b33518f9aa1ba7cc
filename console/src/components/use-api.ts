/**
 * Loads something from the API for a screen: data, error and loading, reloadable, aborted on
 * unmount or when `key` changes. `key` names what is loaded (e.g. the filters, serialised); the
 * previous data stays shown while a reload runs.
 */
import { useCallback, useEffect, useEffectEvent, useState } from "react";

export interface ApiData<T> {
  readonly data?: T;
  readonly error?: unknown;
  readonly loading: boolean;
  reload(): void;
}

export function useApi<T>(key: string, load: (signal: AbortSignal) => Promise<T>): ApiData<T> {
  const [generation, setGeneration] = useState(0);
  const [result, setResult] = useState<{ for: string; data?: T; error?: unknown }>();
  const requestKey = `${key}#${generation}`;
  const run = useEffectEvent((signal: AbortSignal) => load(signal));

  useEffect(() => {
    const controller = new AbortController();
    run(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setResult({ for: requestKey, data });
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setResult((prev) => ({ for: requestKey, data: prev?.data, error }));
      },
    );
    return () => controller.abort();
  }, [requestKey]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { data: result?.data, error: result?.for === requestKey ? result.error : undefined, loading: result?.for !== requestKey, reload };
}
