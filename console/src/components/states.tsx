/** The states every screen shares, written for people: loading, nothing here yet, and failed. */
import type { ReactNode } from "react";
import { ApiRequestError } from "../api/client";

export function Loading({ label = "Loading" }: { label?: string }) {
  return (
    <p className="state state-loading" role="status" aria-live="polite">
      {label}…
    </p>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty">
      <p className="state-title">{title}</p>
      {children ? <p>{children}</p> : null}
    </div>
  );
}

/** A human sentence for an API error: what happened and what to do. */
export function describeError(error: unknown): string {
  if (error instanceof ApiRequestError) {
    switch (error.code) {
      case "permission_denied":
        return `Your key's role may not do this: ${error.message}.`;
      case "not_found":
        return `Not found: ${error.message}.`;
      case "unavailable":
        return `Apex is temporarily unavailable (${error.message}).${error.retryAfterSeconds ? ` Try again in ${error.retryAfterSeconds} s.` : " Try again shortly."}`;
      case "resource_exhausted":
        return `Too many requests: ${error.message}.${error.retryAfterSeconds ? ` Try again in ${error.retryAfterSeconds} s.` : ""}`;
      case "invalid_argument":
        // The API's messages usually start with the field already.
        return error.field && !error.message.startsWith(`${error.field}:`) ? `${error.field}: ${error.message}` : error.message;
      default:
        return error.message;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

export function ErrorState({ error, onRetry, title = "Something went wrong" }: { error: unknown; onRetry?: () => void; title?: string }) {
  return (
    <div className="state state-error" role="alert">
      <p className="state-title">{title}</p>
      <p>{describeError(error)}</p>
      {onRetry ? (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}
