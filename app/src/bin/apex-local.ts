#!/usr/bin/env node
/**
 * `npm start`: API and worker in one process with no servers needed (embedded PGlite, in-process
 * coordination, local LLM provider, local sandbox). Options: --data-dir <dir> keeps the database
 * between runs (default: in memory), relative to the directory the command was typed in. Env vars
 * of contract/env.ts still apply. Prints the banner (local-banner.ts) and writes the instance file
 * through which `npm run demo` finds this process (instance-file.ts).
 */
// First: instruments http, fastify, grpc, pg and ioredis before anything below requires them.
import "../telemetry/register";
import { parseArgs } from "node:util";
import { runtimeEnv } from "../contract/env";
import { logger } from "../telemetry/logger";
import { startTracing } from "../telemetry/tracing";
import { localBanner } from "./local-banner";
import { startLocal } from "./local";
import { onShutdownSignal } from "./signals";
import { resolveUserPath } from "./user-path";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { "data-dir": { type: "string" } } });
  // Spans exist even with no OTEL_EXPORTER_OTLP_ENDPOINT: trace ids reach the logs and GET /v1/dags/:id.
  const tracing = startTracing({ serviceName: process.env[runtimeEnv.serviceName] ?? "apex-local" });
  // Local mode listens on loopback only: it is a developer's machine, not a server.
  const dataDir = values["data-dir"] === undefined ? undefined : resolveUserPath(values["data-dir"]);
  const local = await startLocal({ dataDir });
  process.stdout.write(localBanner(local));
  onShutdownSignal(async () => {
    await local.close();
    await tracing.shutdown();
  });
}

main().catch((err: NodeJS.ErrnoException) => {
  const hint = err.code === "EADDRINUSE" ? ` (another npm start? choose other ports with ${runtimeEnv.httpPort} and ${runtimeEnv.grpcPort})` : "";
  logger.fatal({ err: err.message }, "apex-local failed to start");
  process.stderr.write(`apex-local failed to start: ${err.message}${hint}\n`);
  process.exit(1);
});
