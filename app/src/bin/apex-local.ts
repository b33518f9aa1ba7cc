#!/usr/bin/env node
/**
 * `npm start`: API and worker in one process with no servers needed (embedded PGlite, in-process
 * coordination, local LLM provider, local sandbox). Options: --data-dir <dir> keeps the database
 * between runs (default: in memory). Env vars of contract/env.ts still apply.
 */
import { parseArgs } from "node:util";
import { runtimeEnv } from "../contract/env";
import { logger } from "../telemetry/logger";
import { startTracing } from "../telemetry/tracing";
import { localAdminKeyFile, startLocal } from "./local";
import { onShutdownSignal } from "./signals";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { "data-dir": { type: "string" } } });
  // Spans exist even with no OTEL_EXPORTER_OTLP_ENDPOINT: trace ids reach the logs and GET /v1/dags/:id.
  const tracing = startTracing({ serviceName: process.env[runtimeEnv.serviceName] ?? "apex-local" });
  // Local mode listens on loopback only: it is a developer's machine, not a server.
  const local = await startLocal({ dataDir: values["data-dir"] });
  const { api, runtime } = local;
  const lines = [
    "",
    "Apex is running (local mode)",
    `  HTTP API   http://localhost:${api.httpPort}   (OpenAPI: http://localhost:${api.httpPort}/openapi.json)`,
    `  gRPC API   localhost:${api.grpcPort}`,
    `  Store      ${runtime.config.databaseUrl ? `Postgres (${runtimeEnv.databaseUrl})` : values["data-dir"] ? `PGlite at ${values["data-dir"]}` : "PGlite in memory"}`,
    `  Worker     ${local.worker.id}, ${local.worker.concurrency} slots`,
    api.generatedAdminKey
      ? `  Admin key  ${api.generatedAdminKey}\n             (shown once; also saved to ${localAdminKeyFile} for npm run demo)`
      : `  Admin key  ${runtimeEnv.bootstrapAdminKey}, or the key printed at the first start of this data dir`,
    "",
    `Try:  npm run demo`,
    `      curl -H "Authorization: Bearer <admin key>" http://localhost:${api.httpPort}/v1/agents`,
    "",
  ];
  process.stdout.write(lines.join("\n") + "\n");
  onShutdownSignal(async () => {
    await local.close();
    await tracing.shutdown();
  });
}

main().catch((err: Error) => {
  logger.fatal({ err: err.message }, "apex-local failed to start");
  process.exit(1);
});
