/**
 * The worker's tiny HTTP server: Prometheus text on /metrics, liveness on /healthz, readiness on
 * /readyz (503 while the worker drains, while /healthz stays 200 so a liveness probe does not kill
 * a drain). A port still held by the previous process (a restart on the same port) is retried for
 * a while, not fatal.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { httpPaths } from "../contract/services";
import { logger } from "../telemetry/logger";
import { renderMetrics } from "../telemetry/metrics";

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  /**
   * How long to keep trying while the port is in use (a previous process on this port still
   * draining). Default 30 s, longer than a worker's shutdown grace. 0 = fail at once.
   */
  readonly bindRetryMs?: number;
  /** Stops the retries: the promise then rejects. */
  readonly signal?: AbortSignal;
  /** What /readyz answers (200 when true, else 503). Default: `healthy`. */
  readonly ready?: () => boolean;
}

const bindRetryEveryMs = 250;

/** Serves /metrics, /healthz and /readyz on `port`; resolves once bound, retrying EADDRINUSE for `bindRetryMs`. */
export async function startMetricsServer(port: number, healthy: () => boolean, host = "0.0.0.0", options: MetricsServerOptions = {}): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET") {
      res.writeHead(405, { allow: "GET" }).end();
    } else if (path === httpPaths.metrics) {
      renderMetrics().then(
        ({ contentType, body }) => res.writeHead(200, { "content-type": contentType }).end(body),
        (err: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(`metrics error: ${err.message}\n`),
      );
    } else if (path === httpPaths.health || path === httpPaths.ready) {
      const ok = path === httpPaths.ready && options.ready ? options.ready() : healthy();
      res.writeHead(ok ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify({ status: ok ? "ok" : "stopping" }));
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  const bindRetryMs = options.bindRetryMs ?? 30_000;
  const deadline = Date.now() + bindRetryMs;
  for (let tries = 1; ; tries++) {
    try {
      await listen(server, port, host);
      if (tries > 1) logger.info({ port, tries }, "metrics server bound after the port was freed");
      break;
    } catch (err) {
      const inUse = (err as NodeJS.ErrnoException).code === "EADDRINUSE";
      if (!inUse || options.signal?.aborted || Date.now() + bindRetryEveryMs > deadline) {
        throw new Error(`metrics server cannot listen on ${host}:${port}: ${(err as Error).message}`, { cause: err });
      }
      if (tries === 1) {
        logger.warn({ port, retry_for_ms: bindRetryMs }, "metrics port in use (a previous process still holds it?); retrying");
      }
      await new Promise((r) => setTimeout(r, bindRetryEveryMs));
    }
  }
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      server.off("listening", onListening);
      reject(err);
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
}
