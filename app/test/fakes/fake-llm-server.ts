/**
 * A fake OpenAI + Anthropic HTTP server on 127.0.0.1 (ephemeral port) for tests that drive the
 * real SDK clients over real HTTP. Any test file may use it.
 *
 *   const fake = await startFakeLlmServer();          // or startFakeLlmServer({ apiKey: "sk-test" })
 *   new OpenAI({ baseURL: fake.openaiBaseUrl, apiKey: "x" })        // POST {url}/v1/chat/completions
 *   new Anthropic({ baseURL: fake.anthropicBaseUrl, apiKey: "x" })  // POST {url}/v1/messages
 *
 * Every request is answered by the first behaviour that applies:
 *   1. `fake.failNow(b?)` switch: every request gets `b` (default HTTP 500) until `fake.recover()`.
 *   1b. the `answerFor(api, body)` option, when it returns a behaviour (per-prompt answers);
 *   2. the per-API queue (`fake.enqueueFor("openai" | "anthropic", ...behaviours)`), FIFO, one per request;
 *   3. the shared queue (`fake.enqueue(...behaviours)`), FIFO, one per request;
 *   4. the default (`fake.setDefault(b)`), initially `{ kind: "success" }`.
 *
 * Behaviours (`FakeBehaviour`):
 *   { kind: "success", text?, model?, usage?: { input?, output?, cached?, cacheWrite? }, finishReason?, delayMs?, after? }
 *       200 in the API's own response format. Defaults: text "echo: <last user message>", the
 *       requested model, token counts = whitespace-separated words, cached 0.
 *   { kind: "error", status, message?, retryAfter?, retryAfterMs?, headers? }
 *       an error in the API's own error format; `retryAfter` (seconds or an HTTP date) sets Retry-After.
 *   { kind: "hang" }        accepts the request and never answers (until the client aborts or close()).
 *   { kind: "malformed", body? } 200, content-type application/json, body that is not JSON.
 *   { kind: "wrong_shape", body } 200 with valid JSON of the wrong shape.
 *   { kind: "reset" }       destroys the connection without a response.
 *
 * `fake.requests` records every request ({ api, path, headers, body, at }); with `apiKey` set, a
 * request without that key (Authorization: Bearer, or x-api-key for Anthropic) gets 401 before any behaviour.
 * `fake.reset()` clears queues, records and the failing switch. Call `await fake.close()` after.
 * The `onSettled(request, outcome)` option hears how each recorded request ended: the HTTP status
 * sent (`answered`: a whole 200 answer was written) or none (hung, reset, or the client went away).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type FakeApi = "openai" | "anthropic";

export type FakeBehaviour =
  | {
      readonly kind: "success";
      readonly text?: string;
      readonly model?: string;
      readonly usage?: { readonly input?: number; readonly output?: number; readonly cached?: number; readonly cacheWrite?: number };
      readonly finishReason?: string;
      readonly delayMs?: number;
      /** Answer only once this settles (a test decides the moment the answer arrives). */
      readonly after?: Promise<unknown>;
    }
  | {
      readonly kind: "error";
      readonly status: number;
      readonly message?: string;
      readonly retryAfter?: string | number;
      readonly retryAfterMs?: number;
      readonly headers?: Readonly<Record<string, string>>;
    }
  | { readonly kind: "hang" }
  | { readonly kind: "malformed"; readonly body?: string }
  | { readonly kind: "wrong_shape"; readonly body: unknown }
  | { readonly kind: "reset" };

export interface FakeRequest {
  readonly api: FakeApi;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: unknown;
  readonly at: number;
}

export interface FakeLlmServer {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** `${url}/v1`, for the OpenAI SDK's baseURL. */
  readonly openaiBaseUrl: string;
  /** `${url}`, for the Anthropic SDK's baseURL. */
  readonly anthropicBaseUrl: string;
  readonly requests: readonly FakeRequest[];
  requestCount(api?: FakeApi): number;
  enqueue(...behaviours: FakeBehaviour[]): void;
  enqueueFor(api: FakeApi, ...behaviours: FakeBehaviour[]): void;
  setDefault(behaviour: FakeBehaviour): void;
  failNow(behaviour?: FakeBehaviour): void;
  recover(): void;
  reset(): void;
  close(): Promise<void>;
}

export interface FakeLlmServerOptions {
  /** When set, requests must carry this key or get 401. */
  readonly apiKey?: string;
  /** Consulted after failNow(), before the queues: a behaviour for this request, or undefined. */
  readonly answerFor?: (api: FakeApi, body: unknown) => FakeBehaviour | undefined;
  /** Called once per recorded request when its response has ended. */
  readonly onSettled?: (request: FakeRequest, outcome: { readonly status?: number; readonly answered: boolean }) => void;
}

const words = (text: string) => (text.trim() ? text.trim().split(/\s+/).length : 0);

function lastUserText(api: FakeApi, body: unknown): string {
  const messages = (body as { messages?: { role?: string; content?: unknown }[] } | undefined)?.messages ?? [];
  const user = [...messages].reverse().find((m) => m.role === "user");
  if (!user) return "";
  if (typeof user.content === "string") return user.content;
  if (Array.isArray(user.content)) {
    return user.content.map((b: { text?: string }) => b.text ?? "").join("");
  }
  return api;
}

function allPromptText(body: unknown): string {
  const b = body as { messages?: { content?: unknown }[]; system?: unknown } | undefined;
  const parts = (b?.messages ?? []).map((m) => (typeof m.content === "string" ? m.content : JSON.stringify(m.content ?? "")));
  if (typeof b?.system === "string") parts.push(b.system);
  return parts.join(" ");
}

export async function startFakeLlmServer(opts: FakeLlmServerOptions = {}): Promise<FakeLlmServer> {
  const requests: FakeRequest[] = [];
  const queues: Record<FakeApi | "any", FakeBehaviour[]> = { openai: [], anthropic: [], any: [] };
  let fallback: FakeBehaviour = { kind: "success" };
  let failing: FakeBehaviour | undefined;
  let counter = 0;
  const sockets = new Set<Socket>();

  const next = (api: FakeApi, body: unknown): FakeBehaviour =>
    failing ?? opts.answerFor?.(api, body) ?? queues[api].shift() ?? queues.any.shift() ?? fallback;

  const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  const answer = async (api: FakeApi, body: unknown, res: ServerResponse, socket: Socket) => {
    const behaviour = next(api, body);
    switch (behaviour.kind) {
      case "hang":
        return; // the socket stays open until the client gives up or the server closes
      case "reset":
        socket.destroy();
        return;
      case "malformed": {
        const text = behaviour.body ?? '{"id": "broken", "choices": [';
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      case "wrong_shape":
        sendJson(res, 200, behaviour.body);
        return;
      case "error": {
        const headers: Record<string, string> = { ...behaviour.headers };
        if (behaviour.retryAfter !== undefined) headers["retry-after"] = String(behaviour.retryAfter);
        if (behaviour.retryAfterMs !== undefined) headers["retry-after-ms"] = String(behaviour.retryAfterMs);
        const message = behaviour.message ?? `fake ${api} error ${behaviour.status}`;
        const type = behaviour.status === 429 ? "rate_limit_error" : behaviour.status >= 500 ? "api_error" : "invalid_request_error";
        const errorBody =
          api === "openai"
            ? { error: { message, type, param: null, code: null } }
            : { type: "error", error: { type, message } };
        sendJson(res, behaviour.status, errorBody, headers);
        return;
      }
      case "success": {
        if (behaviour.delayMs) await new Promise((r) => setTimeout(r, behaviour.delayMs));
        if (behaviour.after) await behaviour.after.catch(() => undefined);
        if (res.destroyed || socket.destroyed) return;
        const requestModel = (body as { model?: string } | undefined)?.model ?? "unknown";
        const model = behaviour.model ?? requestModel;
        const text = behaviour.text ?? `echo: ${lastUserText(api, body)}`;
        const output = behaviour.usage?.output ?? words(text);
        const cached = behaviour.usage?.cached ?? 0;
        const cacheWrite = behaviour.usage?.cacheWrite ?? 0;
        const id = `fake-${++counter}`;
        if (api === "openai") {
          const input = behaviour.usage?.input ?? words(allPromptText(body));
          sendJson(res, 200, {
            id: `chatcmpl-${id}`,
            object: "chat.completion",
            created: Math.floor(Date.now() / 1000),
            model,
            choices: [
              { index: 0, message: { role: "assistant", content: text, refusal: null }, finish_reason: behaviour.finishReason ?? "stop", logprobs: null },
            ],
            usage: {
              prompt_tokens: input,
              completion_tokens: output,
              total_tokens: input + output,
              prompt_tokens_details: { cached_tokens: cached },
            },
          });
        } else {
          // Anthropic's input_tokens excludes cache reads and writes.
          const input = behaviour.usage?.input ?? words(allPromptText(body));
          sendJson(res, 200, {
            id: `msg_${id}`,
            type: "message",
            role: "assistant",
            model,
            content: [{ type: "text", text }],
            stop_reason: behaviour.finishReason ?? "end_turn",
            stop_sequence: null,
            usage: {
              input_tokens: input,
              output_tokens: output,
              cache_read_input_tokens: cached,
              cache_creation_input_tokens: cacheWrite,
            },
          });
        }
        return;
      }
    }
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      const api: FakeApi | undefined =
        req.method === "POST" && path === "/v1/chat/completions" ? "openai" : req.method === "POST" && path === "/v1/messages" ? "anthropic" : undefined;
      if (!api) {
        sendJson(res, 404, { error: { message: `no route ${req.method} ${path}` } });
        return;
      }
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        sendJson(res, 400, { error: { message: "request body is not JSON" } });
        return;
      }
      const recorded: FakeRequest = { api, path, headers: { ...req.headers }, body, at: Date.now() };
      requests.push(recorded);
      if (opts.onSettled) {
        const settled = opts.onSettled;
        res.once("close", () => {
          const sent = res.headersSent ? res.statusCode : undefined;
          settled(recorded, { status: sent, answered: sent === 200 && res.writableFinished });
        });
      }
      if (opts.apiKey) {
        // Anthropic accepts x-api-key; its SDK (1.x) sends Authorization: Bearer.
        const bearer = req.headers.authorization?.replace(/^Bearer\s+/i, "");
        const given = api === "anthropic" ? (req.headers["x-api-key"] ?? bearer) : bearer;
        if (given !== opts.apiKey) {
          const message = "invalid api key";
          sendJson(res, 401, api === "openai" ? { error: { message, type: "invalid_request_error", code: "invalid_api_key" } } : { type: "error", error: { type: "authentication_error", message } });
          return;
        }
      }
      void answer(api, body, res, req.socket);
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    openaiBaseUrl: `${url}/v1`,
    anthropicBaseUrl: url,
    requests,
    requestCount: (api) => (api ? requests.filter((r) => r.api === api).length : requests.length),
    enqueue: (...b) => void queues.any.push(...b),
    enqueueFor: (api, ...b) => void queues[api].push(...b),
    setDefault: (b) => {
      fallback = b;
    },
    failNow: (b = { kind: "error", status: 500 }) => {
      failing = b;
    },
    recover: () => {
      failing = undefined;
    },
    reset: () => {
      queues.openai.length = 0;
      queues.anthropic.length = 0;
      queues.any.length = 0;
      requests.length = 0;
      failing = undefined;
      fallback = { kind: "success" };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
