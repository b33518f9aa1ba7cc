/**
 * A view of a logger whose `info` lines are written at `debug`, children included. Local mode
 * gives it to the HTTP server: Fastify logs every request at info ("incoming request", "request
 * completed"), which would bury the banner of `npm start`; LOG_LEVEL=debug shows them again.
 * Warnings and errors keep their level.
 */
import type { Bindings, ChildLoggerOptions } from "pino";
import type { Logger } from "../telemetry/logger";

export function infoAsDebug(logger: Logger): Logger {
  return new Proxy(logger, {
    get(target, property, receiver) {
      if (property === "info") return target.debug.bind(target);
      if (property === "child") return (bindings: Bindings, options?: ChildLoggerOptions<never>) => infoAsDebug(target.child(bindings, options));
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}
