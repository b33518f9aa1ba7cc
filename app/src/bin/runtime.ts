/**
 * Wiring shared by the entry points: store (migrated), coordination, LLM gateway, tools, sandbox
 * and the service, from one RuntimeConfig. Each entry point adds what it serves.
 */
import { ApiKeyStore } from "../auth/keys";
import { dbPoolSizeOf, type RuntimeConfig, type RuntimeProcess } from "../config";
import { createCoordination } from "../coord";
import type { Coordination } from "../coord/types";
import { bundledPriceTable, createLlmGateway, type ApexLlmGateway } from "../llm";
import { DockerSandboxDriver } from "../sandbox/docker/driver";
import { KubernetesSandboxDriver } from "../sandbox/kubernetes/driver";
import { LocalSandboxDriver } from "../sandbox/local/driver";
import { checkLocalSandboxStartup } from "../sandbox/local/startup-check";
import { SandboxError } from "../sandbox/errors";
import type { SandboxDriver } from "../sandbox/types";
import { StoreApexService } from "../service/apex-service";
import { openDb, type Db } from "../store/db";
import { describeDbError, isDatabaseUnavailable } from "../store/db-errors";
import { migrate } from "../store/migrate";
import { llmGatewayTelemetry } from "../telemetry/llm-hooks";
import { logger } from "../telemetry/logger";
import { initialiseSeries, modelsOfProviders } from "../telemetry/record";
import { createHttpFetchTool } from "../tools/builtin/http-fetch";
import { runsCode } from "../tools/builtin/sandboxed";
import { createToolRegistry } from "../tools/registry";
import type { ToolRegistry } from "../tools/types";
import { sandboxSpec } from "../contract/sandbox";

export interface Runtime {
  readonly config: RuntimeConfig;
  readonly db: Db;
  readonly coordination: Coordination;
  readonly llm: ApexLlmGateway;
  readonly tools: ToolRegistry;
  readonly service: StoreApexService;
  readonly keys: ApiKeyStore;
  /** Created on first use: only workers run tools. */
  sandbox(): SandboxDriver;
  close(): Promise<void>;
}

export interface OpenRuntimeOptions {
  /** PGlite data directory when no DATABASE_URL; default in-memory. */
  readonly pgliteDataDir?: string;
  /** Prefix of Redis keys and channels; default "apex:" (tests isolate themselves with their own). */
  readonly redisKeyPrefix?: string;
  /** What this process serves; sizes the Postgres pool unless APEX_DB_POOL_SIZE does. Default local (API and worker). */
  readonly runs?: RuntimeProcess;
}

export async function openRuntime(config: RuntimeConfig, options: OpenRuntimeOptions = {}): Promise<Runtime> {
  const store = await openDb({
    databaseUrl: config.databaseUrl,
    dataDir: options.pgliteDataDir,
    poolSize: dbPoolSizeOf(config, options.runs ?? "local"),
    timeouts: config.dbTimeouts,
  });
  const applied = await migrateAtStart(config, store);
  if (applied.length > 0) logger.info({ migrations: applied }, "database migrations applied");
  // The DAG event backend is chosen here, once: Redis, else Postgres NOTIFY on a real Postgres, else in-process.
  const coordination = await createCoordination({ redisUrl: config.redisUrl, keyPrefix: options.redisKeyPrefix, eventsDb: store });
  logger.info({ coordination: coordination.kind, dagEvents: coordination.events.kind }, "coordination ready");
  // The service and the worker (apex-worker.ts) announce their DAG events on that bus, after commit.
  const db = store;
  const llm = createLlmGateway({
    coordination,
    openai: config.openaiApiKey ? { apiKey: config.openaiApiKey, baseURL: config.openaiBaseUrl } : undefined,
    anthropic: config.anthropicApiKey ? { apiKey: config.anthropicApiKey, baseURL: config.anthropicBaseUrl } : undefined,
    rateLimits: config.llmRateLimits,
    breaker: config.llmBreaker,
    requestTimeoutMs: config.llmTimeoutMs,
    ...llmGatewayTelemetry(),
  });
  // Every status, error type and provider breaker series exists from the first scrape (rate() needs a
  // start), and where LLM calls are made (not apex-api) the cost and token series of every priced
  // model of the configured providers (the gateway prices with the bundled table).
  const models = options.runs === "api" ? [] : modelsOfProviders(bundledPriceTable.models, llm.providers);
  initialiseSeries({ providers: llm.providers, models });
  // http_fetch is default-deny: registered only with an operator's allowlist. The API validates
  // submissions against this registry too, so both processes need the same list.
  const tools = createToolRegistry(config.httpFetchAllowHosts ? [createHttpFetchTool({ allowHosts: config.httpFetchAllowHosts })] : []);
  const service = new StoreApexService({ db, tools, events: coordination.events, models: llm, allowSelfApproval: config.approvalAllowSelf });
  let sandbox: SandboxDriver | undefined;
  return {
    config,
    db,
    coordination,
    llm,
    tools,
    service,
    keys: new ApiKeyStore(db, { cacheMs: config.apiKeyCacheMs, missCacheMs: config.apiKeyMissCacheMs }),
    sandbox: () => (sandbox ??= createSandbox(config, tools)),
    async close() {
      await service.close();
      await coordination.close();
      await db.close();
    },
  };
}

/** How long a process starting while Postgres is unreachable keeps trying before it gives up. */
const startupDbWaitMs = 60_000;

/**
 * Applies migrations on a connection of their own without query or statement timeout (they may
 * wait for another replica's lock, or build an index). A database that is down or restarting is
 * waited for, with a log line per try, up to `startupDbWaitMs`.
 */
async function migrateAtStart(config: RuntimeConfig, store: Db): Promise<string[]> {
  if (!config.databaseUrl) return migrate(store);
  const deadline = Date.now() + startupDbWaitMs;
  for (let delayMs = 500; ; delayMs = Math.min(delayMs * 2, 5_000)) {
    const db = await openDb({ databaseUrl: config.databaseUrl, poolSize: 1, timeouts: { connectTimeoutMs: config.dbTimeouts.connectTimeoutMs } });
    try {
      return await migrate(db);
    } catch (err) {
      if (!isDatabaseUnavailable(err) || Date.now() + delayMs > deadline) throw err;
      logger.warn({ ...describeDbError(err), retry_in_ms: delayMs }, "database unavailable at start; waiting for it");
    } finally {
      await db.close();
    }
    await new Promise((r) => setTimeout(r, delayMs));
  }
}

function createSandbox(config: RuntimeConfig, tools: ToolRegistry): SandboxDriver {
  // The stack sets APEX_SANDBOX_IMAGE to the image it built (by digest when pushed); the bare
  // contract name is only a local fallback, never something to pull from a public registry.
  const image = config.sandboxImage ?? sandboxSpec.image;
  switch (config.sandboxDriver) {
    case "local": {
      // APEX_SANDBOX_HARDENED=required makes this throw at worker start when bwrap or cgroups are
      // missing; auto refuses when a code-running tool would run unsandboxed; off is logged loudly.
      const driver = new LocalSandboxDriver({ hardened: config.sandboxHardened });
      const codeTools = tools.list().filter(runsCode).map((t) => t.name);
      const startup = checkLocalSandboxStartup(driver.capabilities, codeTools);
      if (startup.refusal) throw new SandboxError(startup.refusal);
      if (startup.warning) logger.warn({ hardened: config.sandboxHardened, code_running_tools: codeTools, notes: driver.capabilities.notes }, startup.warning);
      return driver;
    }
    case "docker":
      return new DockerSandboxDriver({ image });
    case "kubernetes":
      return new KubernetesSandboxDriver({
        image,
        runtimeClassName: config.sandboxRuntimeClass,
        nodeSelector: config.sandboxNodeSelector,
        tolerations: config.sandboxTolerations,
      });
  }
}
