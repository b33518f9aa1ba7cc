/**
 * The HTTP JSON API (port 8080): the authenticated /v1 routes from the route table, the DAG event
 * stream (server-sent events), health, readiness, metrics and the OpenAPI document. Returns a
 * Fastify instance that is not listening; the caller listens and closes it.
 */
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { ServerResponse } from "node:http";
import { httpPaths } from "../../contract/services";
import { defaultMaxRequestBytes, type ApiDeps } from "../deps";
import { ApiError, databaseRetryAfterSeconds, errorBody, httpStatusOf, retryAfterOf, toApiError } from "../errors";
import { authenticate, invoke, operations, watchDag, type Operation } from "../operations";
import { serveConsoleFiles } from "./console-files";
import { buildOpenApiDocument } from "./openapi";
import { apiRoutes } from "./routes";

/** /readyz answers not_ready when the store has not answered by then (well inside a probe's timeout). */
const readinessDeadlineMs = 1_000;

/** Comment lines keep idle event streams open through proxies. */
const sseKeepAliveMs = 15_000;

export interface HttpServerOptions {
  /** A built console (console/dist) served on this origin: local mode only (console-files.ts). */
  readonly consoleDir?: string;
}

export function buildHttpServer(deps: ApiDeps, options: HttpServerOptions = {}): FastifyInstance {
  const app = Fastify({
    // Unset: Fastify's logger stays disabled.
    loggerInstance: deps.logger as FastifyBaseLogger | undefined,
    bodyLimit: deps.maxRequestBytes ?? defaultMaxRequestBytes,
    // Fastify's request logs carry method, url and status, never headers: Authorization stays out.
  });

  // The API speaks JSON only: other bodies get 415 rather than a string parsed as input.
  app.removeContentTypeParser("text/plain");

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const apiError = fromHttpError(error);
    if (apiError.code === "internal") request.log.error({ err: error }, "request failed");
    else if (apiError.code === "unavailable") request.log.warn({ err: error.message, code: error.code }, "request failed: unavailable");
    sendError(reply, apiError);
  });
  const consoleFiles = options.consoleDir === undefined ? undefined : serveConsoleFiles(app, options.consoleDir);
  app.setNotFoundHandler((request, reply) => {
    if (consoleFiles?.answerPage(request, reply)) return reply;
    sendError(reply, new ApiError("not_found", `no route ${request.method} ${request.url.split("?")[0]}`));
  });

  // Each request runs inside the HTTP instrumentation's SERVER span (continuing the caller's
  // traceparent), named after its route by @fastify/otel (telemetry/instrumentations.ts).
  for (const route of apiRoutes) {
    const operation: Operation<unknown, unknown> = operations[route.operation];
    app.route({
      method: route.method,
      url: route.url,
      handler: async (request, reply) => {
        const principal = await authenticate(deps, request.headers.authorization, request.ip);
        const result = await invoke(deps, principal, operation, route.input(request));
        return reply.code(route.successStatus).send(result);
      },
    });
  }

  const openStreams = new Set<ServerResponse>();
  app.get("/v1/dags/:id/events", async (request, reply) => {
    const principal = await authenticate(deps, request.headers.authorization, request.ip);
    await streamDagEvents(deps, principal, request, reply, openStreams);
  });
  // Event streams would hold close() open until the DAGs finish: end them first.
  app.addHook("preClose", async () => {
    for (const stream of openStreams) stream.end();
  });

  app.get(httpPaths.health, async () => ({ status: "ok" }));
  app.get(httpPaths.ready, async (request, reply) => {
    // A blackholed database would hold the probe until the query timeout: answer within the deadline.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), readinessDeadlineMs)));
    const check = deps.service.ready().catch((error: unknown) => {
      request.log.warn({ err: error }, "readiness check failed");
      return false;
    });
    const ready = await Promise.race([check, deadline]).finally(() => clearTimeout(timer));
    if (!ready) reply.header("retry-after", String(databaseRetryAfterSeconds));
    return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not_ready" });
  });

  let openApi: Record<string, unknown> | undefined;
  app.get("/openapi.json", async () => (openApi ??= buildOpenApiDocument()));

  const registry = deps.registry;
  if (registry) {
    app.get(httpPaths.metrics, async (_request, reply) =>
      reply.header("content-type", registry.contentType).send(await registry.metrics()),
    );
  }

  return app;
}

async function streamDagEvents(
  deps: ApiDeps,
  principal: Awaited<ReturnType<typeof authenticate>>,
  request: FastifyRequest,
  reply: FastifyReply,
  openStreams: Set<ServerResponse>,
): Promise<void> {
  const raw = reply.raw;
  let keepAlive: NodeJS.Timeout | undefined;
  const open = (): void => {
    if (openStreams.has(raw) || raw.writableEnded) return;
    // Errors before the first event (401/403/404) still go through the JSON error handler.
    reply.hijack();
    raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    openStreams.add(raw);
    keepAlive = setInterval(() => raw.write(": keep-alive\n\n"), sseKeepAliveMs);
    keepAlive.unref();
  };
  const finish = (): void => {
    clearInterval(keepAlive);
    openStreams.delete(raw);
    if (!raw.writableEnded) raw.end();
  };

  const stop = await watchDag(deps, principal, request.params, {
    event(e) {
      open();
      if (!raw.writableEnded) raw.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    },
    end: finish,
  });
  // The DAG had already finished, or the client left while the watch was being set up.
  if (raw.writableEnded || raw.destroyed) {
    finish();
    await stop();
    return;
  }
  raw.on("close", () => {
    finish();
    stop().catch((error: unknown) => request.log.warn({ err: error }, "stopping a DAG watch failed"));
  });
}

function sendError(reply: FastifyReply, error: ApiError): FastifyReply {
  if (error.code === "unauthenticated") reply.header("www-authenticate", 'Bearer realm="apex"');
  const retryAfter = retryAfterOf(error);
  if (retryAfter !== undefined) reply.header("retry-after", String(retryAfter));
  return reply.code(httpStatusOf[error.code]).send(errorBody(error));
}

/** Fastify's own 4xx errors (body too large, bad JSON, wrong content type) in our error format. */
function fromHttpError(error: FastifyError): ApiError {
  if (error instanceof ApiError) return error;
  const status = error.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500 && error.code?.startsWith("FST_")) {
    if (status === 413) return new ApiError("payload_too_large", error.message, "body");
    if (status === 415) return new ApiError("unsupported_media_type", error.message, "content-type");
    return new ApiError("invalid_argument", error.message, "body");
  }
  return toApiError(error);
}
