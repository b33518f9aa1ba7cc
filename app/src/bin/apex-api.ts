#!/usr/bin/env node
/**
 * apex-api: the HTTP (:8080) and gRPC (:50051) API over the store. Config from env
 * (contract/env.ts). Runs migrations at start; prints a generated admin key once when no admin
 * exists and APEX_BOOTSTRAP_ADMIN_KEY is unset.
 */
// First: instruments http, fastify, grpc, pg and ioredis before anything below requires them.
import "../telemetry/register";
import { buildHttpServer } from "../api/http/server";
import { ApiRateLimiter } from "../api/rate-limit";
import { startGrpcServer } from "../api/grpc/server";
import { describeConfig, loadConfig } from "../config";
import { services } from "../contract/services";
import { logger, type Logger } from "../telemetry/logger";
import { clusterSnapshotQuery } from "../telemetry/cluster-gauges";
import { registerClusterGauges, registry, unregisterClusterGauges } from "../telemetry/metrics";
import { startTracing } from "../telemetry/tracing";
import { openRuntime, type Runtime } from "./runtime";
import { onShutdownSignal } from "./signals";

export interface RunningApi {
  readonly httpPort: number;
  readonly grpcPort: number;
  /** Set once, when a new admin key was generated. */
  readonly generatedAdminKey?: string;
  close(): Promise<void>;
}

export interface StartApiOptions {
  /** Request logs and server errors; default the process logger (one INFO line per request). */
  readonly logger?: Logger;
  /** A built console served on the HTTP port (local mode); apex-api itself never passes one. */
  readonly consoleDir?: string;
}

/** Serves the API of an opened runtime on the given ports (0 = ephemeral). */
export async function startApi(rt: Runtime, ports: { http: number; grpc: number }, host = "0.0.0.0", options: StartApiOptions = {}): Promise<RunningApi> {
  const generatedAdminKey = await rt.keys.bootstrapAdmin(rt.config.bootstrapAdminKey);
  const limits = new ApiRateLimiter(
    { perKeyPerMinute: rt.config.apiRateLimitPerKey, perIpPerMinute: rt.config.apiRateLimitPerIp, maxWatchesPerKey: rt.config.apiMaxWatchesPerKey },
    // Shared by the replicas through Redis when there is one; in-process coordination would keep unbounded buckets.
    { shared: rt.coordination.kind === "redis" ? rt.coordination.rateLimiter : undefined },
  );
  const links = { traceUrlTemplate: rt.config.traceUrlTemplate, logsUrlTemplate: rt.config.logsUrlTemplate };
  const deps = { service: rt.service, keys: rt.keys, registry, logger: options.logger ?? logger, limits, links };
  const http = buildHttpServer(deps, { consoleDir: options.consoleDir });
  await http.listen({ port: ports.http, host });
  const address = http.server.address();
  const httpPort = typeof address === "object" && address ? address.port : ports.http;
  const grpc = await startGrpcServer(deps, ports.grpc, host);
  return {
    httpPort,
    grpcPort: grpc.port,
    generatedAdminKey,
    async close() {
      await grpc.close();
      await http.close();
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const tracing = startTracing({ serviceName: config.serviceName ?? services.api.name, endpoint: config.otlpEndpoint ?? null });
  logger.info({ config: describeConfig(config) }, `${services.api.name} starting`);
  const rt = await openRuntime(config, { runs: "api" });
  // Queue depth and active agents stay visible when no worker runs (max() over replicas in PromQL).
  registerClusterGauges(clusterSnapshotQuery(rt.db), (err) =>
    logger.warn({ err: err instanceof Error ? err.message : String(err) }, "cluster gauge query failed"),
  );
  const api = await startApi(rt, { http: config.httpPort, grpc: config.grpcPort });
  if (api.generatedAdminKey) {
    // Printed once, on stdout only, outside the structured log stream (logs never carry secrets).
    process.stdout.write(`\nGenerated admin API key (shown once, store it now): ${api.generatedAdminKey}\n\n`);
  }
  logger.info({ http_port: api.httpPort, grpc_port: api.grpcPort }, `${services.api.name} listening`);
  onShutdownSignal(async () => {
    await api.close();
    unregisterClusterGauges();
    await rt.close();
    await tracing.shutdown();
  });
}

if (require.main === module) {
  main().catch((err: Error) => {
    logger.fatal({ err: err.message }, `${services.api.name} failed to start`);
    process.exit(1);
  });
}
