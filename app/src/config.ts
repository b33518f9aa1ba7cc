/**
 * Runtime configuration from the environment (names from contract/env.ts), parsed once with zod.
 * A bad value stops the process with an error naming the variable. Secrets stay in this object and
 * are never logged (see `describeConfig`).
 */
import { z } from "zod";
import { runtimeEnv } from "./contract/env";
import type { SandboxToleration } from "./contract/sandbox";
import { defaultLlmRequestTimeoutMs, minWorkerShutdownGraceMs } from "./contract/worker-drain";
import { services } from "./contract/services";
import { defaultBreakerPolicy, type BreakerPolicy } from "./coord/types";
import type { ProviderRateLimits } from "./llm/gateway";
import { providerNames, type ProviderName } from "./llm/model-id";
import { sandboxNodeSelectorSchema, sandboxTolerationsSchema } from "./sandbox/placement";
import { createHttpFetchTool } from "./tools/builtin/http-fetch";
import type { DbTimeouts } from "./store/db";

const port = z.coerce.number().int().min(0).max(65_535);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));
const optionalUrl = optionalString.pipe(z.url().optional());
/** A whole number from min to max; empty or unset = undefined (the caller's default). */
const optionalInteger = (min: number, max: number, expected: string) => {
  const error = `expected ${expected}`;
  return optionalString.pipe(z.coerce.number<string>({ error }).int({ error }).min(min, { error }).max(max, { error }).optional());
};

/** Default of APEX_API_KEY_CACHE_MS: a revoked key stays usable on other replicas this long. */
export const defaultApiKeyCacheMs = 5_000;
/** Longest APEX_API_KEY_CACHE_MS accepted: the revocation delay stays under a minute. */
export const maxApiKeyCacheMs = 60_000;

/**
 * Database timeout defaults: a dead or blackholed database fails a request within about 3.5 s, so
 * the API answers 503 well inside its 5 s budget; the server cancels a slow statement (3 s) before
 * the client gives up on the link (3.5 s).
 */
export const defaultDbTimeouts = { connectTimeoutMs: 3_000, queryTimeoutMs: 3_500, statementTimeoutMs: 3_000 } as const;
const dbTimeout = optionalInteger(0, 3_600_000, "milliseconds from 0 (none) to 3600000");

/** Defaults of the API's abuse limits and of approvals (docs/configuration.md). */
export const defaultApiKeyMissCacheMs = 10_000;
export const defaultApiRateLimitPerKey = 1_200;
export const defaultApiRateLimitPerIp = 3_000;
export const defaultApiMaxWatchesPerKey = 50;
export const defaultApprovalTtlMs = 24 * 60 * 60_000;
const booleanFlag = optionalString.pipe(z.enum(["true", "false"], { error: "expected true or false" }).optional());

/** A variable holding JSON, parsed then checked by `schema` (issues name the field inside). */
const jsonValue = <S extends z.ZodType>(schema: S, example: string) =>
  optionalString
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      try {
        return JSON.parse(v) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: `expected JSON such as ${example}` });
        return z.NEVER;
      }
    })
    .pipe(schema.optional());

const perMinute = z.number({ error: "expected a positive integer" }).int({ error: "expected a positive integer" }).positive({ error: "expected a positive integer" });
const providerRateLimits = z.strictObject({ requestsPerMinute: perMinute.optional(), tokensPerMinute: perMinute.optional() });
const rateLimitsSchema = z.strictObject(
  Object.fromEntries(providerNames.map((p) => [p, providerRateLimits.optional()])) as Record<ProviderName, z.ZodOptional<typeof providerRateLimits>>,
  {
    error: (iss) =>
      iss.code === "unrecognized_keys" ? `unknown provider ${iss.keys.map((k) => `"${k}"`).join(", ")} (known: ${providerNames.join(", ")})` : undefined,
  },
);
const atLeast = (min: number) => z.number({ error: `expected an integer >= ${min}` }).int({ error: `expected an integer >= ${min}` }).min(min, { error: `expected an integer >= ${min}` });
const breakerSchema = z.strictObject({
  failureThreshold: atLeast(1).optional(),
  cooldownMs: atLeast(0).optional(),
  probeLeaseMs: atLeast(1).optional(),
  probeTimeoutMs: atLeast(1).optional(),
}).superRefine((b, ctx) => {
  // The probe's slot must outlive its time limit, or a second probe could go out while it runs.
  const lease = b.probeLeaseMs ?? defaultBreakerPolicy.probeLeaseMs;
  if ((b.probeTimeoutMs ?? defaultBreakerPolicy.probeTimeoutMs) > lease) {
    ctx.addIssue({ code: "custom", path: ["probeTimeoutMs"], message: `must not exceed probeLeaseMs (${lease})` });
  }
});

/** Comma-separated host patterns; each is checked by http_fetch's own validation. */
const hostList = optionalString
  .transform((v) => (v === undefined ? undefined : v.split(",").map((h) => h.trim()).filter((h) => h !== "")))
  .superRefine((hosts, ctx) => {
    if (hosts === undefined) return;
    if (hosts.length === 0) ctx.addIssue({ code: "custom", message: "expected comma-separated host names such as docs.python.org,*.wikipedia.org" });
    for (const h of hosts) {
      try {
        createHttpFetchTool({ allowHosts: [h] });
      } catch {
        ctx.addIssue({ code: "custom", message: `entry "${h}" must be a host name (docs.python.org) or *.domain, without scheme or port` });
      }
    }
  });

/** A link template of the console (APEX_TRACE_URL_TEMPLATE, APEX_LOGS_URL_TEMPLATE): an absolute http(s) URL, kept as written. */
const urlTemplate = (placeholders: readonly string[]) =>
  optionalString.superRefine((v, ctx) => {
    if (v === undefined) return;
    let protocol: string | undefined;
    try {
      protocol = new URL(v).protocol;
    } catch {
      protocol = undefined;
    }
    if (protocol !== "http:" && protocol !== "https:") {
      ctx.addIssue({ code: "custom", message: "expected an absolute http:// or https:// URL" });
    }
    for (const p of placeholders) if (!v.includes(p)) ctx.addIssue({ code: "custom", message: `expected the placeholder ${p} in the URL` });
  });

const envSchema = z.object({
  [runtimeEnv.databaseUrl]: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, "expected a postgres:// URL")
      .optional(),
  ),
  [runtimeEnv.databasePassword]: optionalString,
  [runtimeEnv.redisPassword]: optionalString,
  [runtimeEnv.redisUrl]: optionalString.pipe(
    z
      .string()
      .regex(/^rediss?:\/\//, "expected a redis:// URL")
      .optional(),
  ),
  [runtimeEnv.httpPort]: port.default(services.api.httpPort),
  [runtimeEnv.grpcPort]: port.default(services.api.grpcPort),
  [runtimeEnv.metricsPort]: port.default(services.worker.metricsPort),
  [runtimeEnv.workerConcurrency]: z.coerce.number().int().min(1).max(256).default(4),
  [runtimeEnv.leaseMs]: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
  [runtimeEnv.dbPoolSize]: optionalInteger(1, 1_000, "a whole number of connections from 1 to 1000"),
  [runtimeEnv.dbConnectTimeoutMs]: dbTimeout,
  [runtimeEnv.dbQueryTimeoutMs]: dbTimeout,
  [runtimeEnv.dbStatementTimeoutMs]: dbTimeout,
  [runtimeEnv.apiKeyCacheMs]: optionalInteger(0, maxApiKeyCacheMs, `milliseconds from 0 (no cache) to ${maxApiKeyCacheMs}`),
  [runtimeEnv.apiKeyMissCacheMs]: optionalInteger(0, 300_000, "milliseconds from 0 (no cache) to 300000"),
  [runtimeEnv.apiRateLimitPerKey]: optionalInteger(0, 1_000_000, "requests per minute from 0 (no limit) to 1000000"),
  [runtimeEnv.apiRateLimitPerIp]: optionalInteger(0, 1_000_000, "requests per minute from 0 (no limit) to 1000000"),
  [runtimeEnv.apiMaxWatchesPerKey]: optionalInteger(0, 100_000, "a whole number of watches from 0 (no cap) to 100000"),
  [runtimeEnv.approvalAllowSelf]: booleanFlag,
  [runtimeEnv.approvalTtlMs]: optionalInteger(1_000, 30 * 24 * 60 * 60_000, "milliseconds from 1000 to 2592000000 (30 days)"),
  [runtimeEnv.sandboxDriver]: z.enum(["local", "docker", "kubernetes"]).default("local"),
  [runtimeEnv.sandboxImage]: optionalString,
  [runtimeEnv.sandboxRuntimeClass]: optionalString,
  [runtimeEnv.sandboxNodeSelector]: jsonValue(sandboxNodeSelectorSchema, '{"apex.dev/pool":"sandbox"}'),
  [runtimeEnv.sandboxTolerations]: jsonValue(sandboxTolerationsSchema, '[{"key":"apex.dev/sandbox","operator":"Equal","value":"true","effect":"NoSchedule"}]'),
  [runtimeEnv.sandboxHardened]: z.enum(["auto", "required", "off"]).default("auto"),
  [runtimeEnv.toolHttpAllowlist]: hostList,
  [runtimeEnv.llmRateLimits]: jsonValue(rateLimitsSchema, '{"openai":{"requestsPerMinute":500,"tokensPerMinute":200000}}'),
  [runtimeEnv.llmBreaker]: jsonValue(breakerSchema, '{"failureThreshold":5,"cooldownMs":30000}'),
  [runtimeEnv.llmTimeoutMs]: optionalInteger(1_000, 3_600_000, "milliseconds from 1000 to 3600000"),
  [runtimeEnv.workerShutdownGraceMs]: optionalInteger(1_000, 7_200_000, "milliseconds from 1000 to 7200000"),
  [runtimeEnv.traceUrlTemplate]: urlTemplate(["{trace_id}"]),
  [runtimeEnv.logsUrlTemplate]: urlTemplate([]),
  [runtimeEnv.bootstrapAdminKey]: optionalString,
  [runtimeEnv.openaiApiKey]: optionalString,
  [runtimeEnv.anthropicApiKey]: optionalString,
  [runtimeEnv.openaiBaseUrl]: optionalUrl,
  [runtimeEnv.anthropicBaseUrl]: optionalUrl,
  [runtimeEnv.otlpEndpoint]: optionalUrl,
  [runtimeEnv.serviceName]: optionalString,
  [runtimeEnv.logLevel]: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export interface RuntimeConfig {
  /** postgres:// URL with DATABASE_PASSWORD spliced in; unset = embedded PGlite. */
  readonly databaseUrl?: string;
  /** unset = in-process coordination. */
  readonly redisUrl?: string;
  readonly httpPort: number;
  readonly grpcPort: number;
  readonly metricsPort: number;
  /** Tasks one worker runs at once. Default 4. */
  readonly workerConcurrency: number;
  /** Task lease; heartbeats renew it at a third of this. Default 30 s. */
  readonly leaseMs: number;
  /** Postgres pool size set by the operator; unset = `dbPoolSizeOf`'s default for the process. */
  readonly dbPoolSize?: number;
  /** Connect, query and statement timeouts of the Postgres store (ms, 0 = none); defaults `defaultDbTimeouts`. */
  readonly dbTimeouts: DbTimeouts;
  /** How long an API key lookup is reused in this process; 0 = every request reads the table. Default 5 s. */
  readonly apiKeyCacheMs: number;
  /** How long an unknown key is remembered as unknown in this process; 0 = not at all. Default 10 s. */
  readonly apiKeyMissCacheMs: number;
  /** API requests per minute per key and per client IP; 0 = no limit. */
  readonly apiRateLimitPerKey: number;
  readonly apiRateLimitPerIp: number;
  /** Open DAG watches per key on one replica; 0 = no cap. */
  readonly apiMaxWatchesPerKey: number;
  /** May the key that submitted a DAG approve its tool calls? Default false. */
  readonly approvalAllowSelf: boolean;
  /** How long an approval may be decided and then used, from its request. Default 24 h. */
  readonly approvalTtlMs: number;
  readonly sandboxDriver: "local" | "docker" | "kubernetes";
  /** Image of the docker/kubernetes sandbox drivers; unset = the contract's name. */
  readonly sandboxImage?: string;
  readonly sandboxRuntimeClass?: string;
  /** The sandbox node pool's labels and taint tolerations (kubernetes driver); unset = none. */
  readonly sandboxNodeSelector?: Readonly<Record<string, string>>;
  readonly sandboxTolerations?: readonly SandboxToleration[];
  /** Hardening of the local sandbox driver: `auto` (default) uses bubblewrap + seccomp + cgroups and fails closed without bubblewrap; `required` also needs cgroups; `off` runs tools unsandboxed. */
  readonly sandboxHardened: "auto" | "required" | "off";
  /** Hosts `http_fetch` may GET; undefined = the tool is not registered (default deny). */
  readonly httpFetchAllowHosts?: readonly string[];
  /** Shared per-provider LLM limits; a provider left out is not limited by us. */
  readonly llmRateLimits: Partial<Record<ProviderName, ProviderRateLimits>>;
  /** Overrides of the LLM circuit breaker policy (the rest from coord's defaultBreakerPolicy). */
  readonly llmBreaker: Partial<BreakerPolicy>;
  /** Client timeout of one LLM provider request. Default 120 s. */
  readonly llmTimeoutMs: number;
  /** How long in-flight tasks may finish on SIGTERM; never shorter than an LLM call (contract/worker-drain.ts). */
  readonly workerShutdownGraceMs: number;
  /** The console's trace link, with `{trace_id}`; unset = no trace links. */
  readonly traceUrlTemplate?: string;
  /** The console's logs link (`{dag_id}`, `{task_id}`, `{trace_id}` filled in); unset = no log links. */
  readonly logsUrlTemplate?: string;
  readonly bootstrapAdminKey?: string;
  readonly openaiApiKey?: string;
  readonly anthropicApiKey?: string;
  readonly openaiBaseUrl?: string;
  readonly anthropicBaseUrl?: string;
  readonly otlpEndpoint?: string;
  readonly serviceName?: string;
  readonly logLevel: string;
}

/** Parses the runtime's env vars; throws one error listing every bad variable by name. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.map(String).join(".") : "?"}: ${i.message}`);
    throw new Error(`invalid runtime configuration: ${problems.join("; ")}`);
  }
  const e = parsed.data;
  const llmTimeoutMs = e[runtimeEnv.llmTimeoutMs] ?? defaultLlmRequestTimeoutMs;
  const minGraceMs = minWorkerShutdownGraceMs(llmTimeoutMs);
  const workerShutdownGraceMs = e[runtimeEnv.workerShutdownGraceMs] ?? minGraceMs;
  if (workerShutdownGraceMs < minGraceMs) {
    // A shorter drain would cut off a call in flight, and its retry would pay for it again.
    throw new Error(
      `invalid runtime configuration: ${runtimeEnv.workerShutdownGraceMs}: expected at least ${minGraceMs} ` +
        `(${runtimeEnv.llmTimeoutMs} ${llmTimeoutMs} + ${minGraceMs - llmTimeoutMs} ms margin), got ${workerShutdownGraceMs}`,
    );
  }
  const rawDbUrl = e[runtimeEnv.databaseUrl];
  const password = e[runtimeEnv.databasePassword];
  const rawRedisUrl = e[runtimeEnv.redisUrl];
  return {
    databaseUrl: rawDbUrl === undefined ? undefined : withPassword(rawDbUrl, password),
    redisUrl: rawRedisUrl === undefined ? undefined : withPassword(rawRedisUrl, e[runtimeEnv.redisPassword]),
    httpPort: e[runtimeEnv.httpPort],
    grpcPort: e[runtimeEnv.grpcPort],
    metricsPort: e[runtimeEnv.metricsPort],
    workerConcurrency: e[runtimeEnv.workerConcurrency],
    leaseMs: e[runtimeEnv.leaseMs],
    dbPoolSize: e[runtimeEnv.dbPoolSize],
    dbTimeouts: {
      connectTimeoutMs: e[runtimeEnv.dbConnectTimeoutMs] ?? defaultDbTimeouts.connectTimeoutMs,
      queryTimeoutMs: e[runtimeEnv.dbQueryTimeoutMs] ?? defaultDbTimeouts.queryTimeoutMs,
      statementTimeoutMs: e[runtimeEnv.dbStatementTimeoutMs] ?? defaultDbTimeouts.statementTimeoutMs,
    },
    apiKeyCacheMs: e[runtimeEnv.apiKeyCacheMs] ?? defaultApiKeyCacheMs,
    apiKeyMissCacheMs: e[runtimeEnv.apiKeyMissCacheMs] ?? defaultApiKeyMissCacheMs,
    apiRateLimitPerKey: e[runtimeEnv.apiRateLimitPerKey] ?? defaultApiRateLimitPerKey,
    apiRateLimitPerIp: e[runtimeEnv.apiRateLimitPerIp] ?? defaultApiRateLimitPerIp,
    apiMaxWatchesPerKey: e[runtimeEnv.apiMaxWatchesPerKey] ?? defaultApiMaxWatchesPerKey,
    approvalAllowSelf: e[runtimeEnv.approvalAllowSelf] === "true",
    approvalTtlMs: e[runtimeEnv.approvalTtlMs] ?? defaultApprovalTtlMs,
    sandboxDriver: e[runtimeEnv.sandboxDriver],
    sandboxImage: e[runtimeEnv.sandboxImage],
    sandboxRuntimeClass: e[runtimeEnv.sandboxRuntimeClass],
    sandboxNodeSelector: e[runtimeEnv.sandboxNodeSelector],
    sandboxTolerations: e[runtimeEnv.sandboxTolerations],
    sandboxHardened: e[runtimeEnv.sandboxHardened],
    httpFetchAllowHosts: e[runtimeEnv.toolHttpAllowlist],
    llmRateLimits: e[runtimeEnv.llmRateLimits] ?? {},
    llmBreaker: e[runtimeEnv.llmBreaker] ?? {},
    llmTimeoutMs,
    workerShutdownGraceMs,
    traceUrlTemplate: e[runtimeEnv.traceUrlTemplate],
    logsUrlTemplate: e[runtimeEnv.logsUrlTemplate],
    bootstrapAdminKey: e[runtimeEnv.bootstrapAdminKey],
    openaiApiKey: e[runtimeEnv.openaiApiKey],
    anthropicApiKey: e[runtimeEnv.anthropicApiKey],
    openaiBaseUrl: e[runtimeEnv.openaiBaseUrl],
    anthropicBaseUrl: e[runtimeEnv.anthropicBaseUrl],
    otlpEndpoint: e[runtimeEnv.otlpEndpoint],
    serviceName: e[runtimeEnv.serviceName],
    logLevel: e[runtimeEnv.logLevel],
  };
}

/** What a runtime process serves (its entry point); the database pool's default depends on it. */
export type RuntimeProcess = "api" | "worker" | "local";

/** The API's default pool: its requests each hold a connection for a query or two. */
const apiPoolSize = 10;
/** A worker's connections beyond one per task slot: claim loop, heartbeats, lease reclaim, gauges. LISTEN has its own. */
const workerPoolHeadroom = 4;
/** A default never asks for more; APEX_DB_POOL_SIZE may. */
const maxDefaultPoolSize = 100;

/**
 * Postgres connections the process's pool may open: APEX_DB_POOL_SIZE, else 10 for the API,
 * concurrency + 4 for a worker, their sum for local mode (both in one process), at most 100.
 */
export function dbPoolSizeOf(config: Pick<RuntimeConfig, "dbPoolSize" | "workerConcurrency">, runs: RuntimeProcess): number {
  if (config.dbPoolSize !== undefined) return config.dbPoolSize;
  const worker = config.workerConcurrency + workerPoolHeadroom;
  const wanted = runs === "api" ? apiPoolSize : runs === "worker" ? worker : apiPoolSize + worker;
  return Math.min(wanted, maxDefaultPoolSize);
}

/** DATABASE_PASSWORD / REDIS_PASSWORD come from a Secret; splice it into the URL unless the URL has one. */
function withPassword(url: string, password: string | undefined): string {
  if (!password) return url;
  const u = new URL(url);
  if (!u.password) u.password = password;
  return u.toString();
}

/** The config with secrets masked, safe to log. */
export function describeConfig(c: RuntimeConfig): Record<string, unknown> {
  const mask = (v: string | undefined) => (v === undefined ? undefined : "[REDACTED]");
  let database = "pglite (embedded)";
  if (c.databaseUrl) {
    const u = new URL(c.databaseUrl);
    if (u.password) u.password = "REDACTED";
    database = u.toString();
  }
  return {
    ...c,
    databaseUrl: database,
    redisUrl: c.redisUrl ? c.redisUrl.replace(/\/\/[^@/]*@/, "//REDACTED@") : "in-process",
    bootstrapAdminKey: mask(c.bootstrapAdminKey),
    openaiApiKey: mask(c.openaiApiKey),
    anthropicApiKey: mask(c.anthropicApiKey),
  };
}
