/**
 * The console's only way to Apex: the public HTTP API, same origin, `Authorization: Bearer <key>`.
 * The key lives in this object and in session storage (session.tsx), never in a URL or a log.
 * Errors carry the API's error body (code, message, field) for the screens to show.
 */
import { createParser } from "eventsource-parser";
import type {
  Agent,
  ApiKey,
  Approval,
  ApprovalStatusName,
  Budget,
  CreatedApiKey,
  Dag,
  DagEvent,
  DagList,
  DagStatus,
  ErrorJson,
  ListDagsQuery,
  Me,
  OwnerBudgets,
  Role,
  UsageReport,
  UsageReportQuery,
} from "./types";

export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "ApiRequestError";
  }
}

type Query = Record<string, string | number | undefined>;

export interface ApiClientOptions {
  /** Base URL of the API; default "" (same origin). */
  readonly baseUrl?: string;
  /** Called once a request comes back 401 (revoked or unknown key). */
  readonly onUnauthenticated?: () => void;
  readonly fetch?: typeof fetch;
}

export function createApiClient(key: string, options: ApiClientOptions = {}) {
  const base = options.baseUrl ?? "";
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const headers = (extra: Record<string, string> = {}): Record<string, string> => ({
    authorization: `Bearer ${key}`,
    accept: "application/json",
    ...extra,
  });

  async function failure(res: Response): Promise<ApiRequestError> {
    if (res.status === 401) options.onUnauthenticated?.();
    let body: Partial<ErrorJson> = {};
    try {
      body = (await res.json()) as Partial<ErrorJson>;
    } catch {
      // Not our JSON (a proxy's page): the status says enough.
    }
    const retry = Number(res.headers.get("retry-after"));
    return new ApiRequestError(
      res.status,
      body.error?.code ?? `http_${res.status}`,
      body.error?.message ?? `${res.status} ${res.statusText || "error"}`,
      body.error?.field,
      Number.isFinite(retry) && retry > 0 ? retry : undefined,
    );
  }

  async function request<T>(method: string, path: string, init: { query?: Query; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(init.query ?? {})) if (v !== undefined && v !== "") qs.set(k, String(v));
    const url = `${base}${path}${qs.size > 0 ? `?${qs.toString()}` : ""}`;
    let res: Response;
    try {
      res = await doFetch(url, {
        method,
        headers: headers(init.body === undefined ? {} : { "content-type": "application/json" }),
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: init.signal,
        credentials: "omit",
        cache: "no-store",
      });
    } catch (error) {
      if ((error as Error).name === "AbortError") throw error;
      throw new ApiRequestError(0, "unreachable", "Apex did not answer. Check your connection or whether the API is running.");
    }
    if (!res.ok) throw await failure(res);
    return (await res.json()) as T;
  }

  const enc = encodeURIComponent;
  return {
    me: (signal?: AbortSignal) => request<Me>("GET", "/v1/me", { signal }),
    listAgents: (signal?: AbortSignal) => request<{ agents: Agent[] }>("GET", "/v1/agents", { signal }),
    createAgent: (body: { name: string; description?: string }) => request<Agent>("POST", "/v1/agents", { body }),
    agentBudgets: (agentId: string, signal?: AbortSignal) => request<{ budgets: Budget[] }>("GET", `/v1/agents/${enc(agentId)}/budget`, { signal }),
    /** Replaces the agent's whole set of budgets: a period left out of `body` has none afterwards. */
    setAgentBudgets: (agentId: string, body: OwnerBudgets) => request<{ budgets: Budget[] }>("PUT", `/v1/agents/${enc(agentId)}/budget`, { body }),
    listDags: (query: ListDagsQuery, signal?: AbortSignal) => request<DagList>("GET", "/v1/dags", { query: query as Query, signal }),
    getDag: (id: string, signal?: AbortSignal) => request<Dag>("GET", `/v1/dags/${enc(id)}`, { signal }),
    submitDag: (body: unknown) => request<DagStatus>("POST", "/v1/dags", { body }),
    cancelDag: (id: string) => request<DagStatus>("POST", `/v1/dags/${enc(id)}/cancel`),
    listApprovals: (status?: ApprovalStatusName, signal?: AbortSignal) =>
      request<{ approvals: Approval[] }>("GET", "/v1/approvals", { query: { status }, signal }),
    decideApproval: (id: string, decision: "approve" | "reject", reason?: string) =>
      request<Approval>("POST", `/v1/approvals/${enc(id)}/${decision}`, { body: reason ? { reason } : {} }),
    usage: (query: UsageReportQuery, signal?: AbortSignal) => request<UsageReport>("GET", "/v1/usage", { query: query as Query, signal }),
    listApiKeys: (signal?: AbortSignal) => request<{ api_keys: ApiKey[] }>("GET", "/v1/api-keys", { signal }),
    createApiKey: (body: { name: string; role: Role; agent_id?: string }) => request<CreatedApiKey>("POST", "/v1/api-keys", { body }),
    revokeApiKey: (id: string) => request<ApiKey>("DELETE", `/v1/api-keys/${enc(id)}`),

    /**
     * Follows GET /v1/dags/:id/events (server-sent events; fetch, because EventSource cannot send
     * the Authorization header). Resolves when the server ends the stream (the DAG finished) or
     * the signal aborts; rejects when the connection fails, so the caller can reconnect.
     */
    async watchDag(id: string, onEvent: (e: DagEvent) => void, signal: AbortSignal): Promise<void> {
      let res: Response;
      try {
        res = await doFetch(`${base}/v1/dags/${enc(id)}/events`, {
          headers: headers({ accept: "text/event-stream" }),
          signal,
          credentials: "omit",
          cache: "no-store",
        });
      } catch (error) {
        if ((error as Error).name === "AbortError") return;
        throw new ApiRequestError(0, "unreachable", "The live event stream could not connect.");
      }
      if (!res.ok || !res.body) throw await failure(res);
      const parser = createParser({
        onEvent(message) {
          try {
            onEvent(JSON.parse(message.data) as DagEvent);
          } catch {
            // A malformed event is skipped; the next refetch shows the truth.
          }
        },
      });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          parser.feed(value);
        }
      } catch (error) {
        if ((error as Error).name === "AbortError" || signal.aborted) return;
        throw new ApiRequestError(0, "stream_lost", "The live event stream was interrupted.");
      }
    },
  };
}

export type ApiClient = ReturnType<typeof createApiClient>;
