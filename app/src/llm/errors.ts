/**
 * Turns what the provider SDKs throw into LlmError kinds, so the engine's retry policy does not
 * depend on any SDK: 429 -> rate_limited (with Retry-After), 5xx / connection / malformed response
 * -> provider_error, other 4xx -> invalid_request, our AbortSignal -> cancelled or timeout.
 */
import { LlmError, type LlmErrorKind, type LlmServerEndpoint } from "./types";

/** The error classes the official OpenAI and Anthropic SDKs share (both are Stainless-generated). */
export interface SdkErrorClasses {
  readonly APIError: abstract new (...args: never[]) => Error & { status: number | undefined; headers: Headers | undefined };
  readonly APIUserAbortError: abstract new (...args: never[]) => Error;
  readonly APIConnectionTimeoutError: abstract new (...args: never[]) => Error;
  readonly APIConnectionError: abstract new (...args: never[]) => Error;
}

/** timeout when the signal was aborted by AbortSignal.timeout() or with a TimeoutError reason. */
export function abortKind(signal: AbortSignal): "timeout" | "cancelled" {
  const reason: unknown = signal.reason;
  if (reason instanceof LlmError && (reason.kind === "timeout" || reason.kind === "cancelled")) return reason.kind;
  if (reason && typeof reason === "object" && "name" in reason && reason.name === "TimeoutError") return "timeout";
  return "cancelled";
}

export function abortedError(provider: string, signal: AbortSignal, cause?: unknown, server?: LlmServerEndpoint): LlmError {
  const kind = abortKind(signal);
  return new LlmError(kind, kind === "timeout" ? `${provider} call timed out` : `${provider} call cancelled`, {
    provider,
    server,
    cause: cause ?? signal.reason,
  });
}

/**
 * Retry-After as ms: `retry-after-ms` (OpenAI), else `retry-after` in seconds or as an HTTP date.
 * Undefined when absent or unparseable.
 */
export function parseRetryAfter(headers: Headers | undefined, now: number = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get("retry-after-ms");
  if (ms && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const value = headers.get("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** `server`: the endpoint the request went to, carried on the error for the span. */
export function mapSdkError(provider: string, err: unknown, signal: AbortSignal, sdk: SdkErrorClasses, server?: LlmServerEndpoint): LlmError {
  if (err instanceof LlmError) return err;
  if (signal.aborted || err instanceof sdk.APIUserAbortError) return abortedError(provider, signal, err, server);
  if (err instanceof sdk.APIConnectionTimeoutError) {
    return new LlmError("timeout", `${provider} request timed out (client timeout)`, { provider, server, cause: err });
  }
  if (err instanceof sdk.APIConnectionError) {
    return new LlmError("provider_error", `${provider} connection failed: ${err.message}`, { provider, server, cause: err });
  }
  if (err instanceof sdk.APIError && typeof err.status === "number") {
    const status = err.status;
    const kind: LlmErrorKind = status === 429 ? "rate_limited" : status >= 500 || status === 408 ? "provider_error" : "invalid_request";
    return new LlmError(kind, `${provider} returned HTTP ${status}: ${err.message}`, {
      provider,
      server,
      httpStatus: status,
      cause: err,
      retryAfterMs: status === 429 ? parseRetryAfter(err.headers) : undefined,
    });
  }
  if (err instanceof SyntaxError) {
    return new LlmError("provider_error", `${provider} returned a malformed response: ${err.message}`, { provider, server, cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new LlmError("provider_error", `${provider} call failed: ${message}`, { provider, server, cause: err });
}
