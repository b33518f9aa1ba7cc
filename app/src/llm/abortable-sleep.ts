import { abortedError } from "./errors";

/** Resolves after `ms`, or rejects with the cancelled/timeout LlmError as soon as `signal` aborts. */
export function abortableSleep(ms: number, signal: AbortSignal, provider: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortedError(provider, signal));
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(provider, signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
