/**
 * Runtime configuration from the environment (names from contract/env.ts), parsed once with zod.
 * A bad value stops the process with an error naming the variable. Secrets stay in this object and
 * are never logged (see `describeConfig`).
 */
import { z } from "zod";
import { runtimeEnv } from "./contract/env";
import { services } from "./contract/services";

const port = z.coerce.number().int().min(0).max(65_535);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));
const optionalUrl = optionalString.pipe(z.url().optional());

const envSchema = z.object({
  [runtimeEnv.databaseUrl]: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, "expected a postgres:// URL")
      .optional(),
  ),
  [runtimeEnv.databasePassword]: optionalString,
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
  [runtimeEnv.sandboxDriver]: z.enum(["local", "docker", "kubernetes"]).default("local"),
  [runtimeEnv.sandboxImage]: optionalString,
  [runtimeEnv.sandboxRuntimeClass]: optionalString,
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
  readonly sandboxDriver: "local" | "docker" | "kubernetes";
  /** Image of the docker/kubernetes sandbox drivers; unset = the contract's name. */
  readonly sandboxImage?: string;
  readonly sandboxRuntimeClass?: string;
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
    const problems = parsed.error.issues.map((i) => `${String(i.path[0] ?? "?")}: ${i.message}`);
    throw new Error(`invalid runtime configuration: ${problems.join("; ")}`);
  }
  const e = parsed.data;
  const rawDbUrl = e[runtimeEnv.databaseUrl];
  const password = e[runtimeEnv.databasePassword];
  return {
    databaseUrl: rawDbUrl === undefined ? undefined : withPassword(rawDbUrl, password),
    redisUrl: e[runtimeEnv.redisUrl],
    httpPort: e[runtimeEnv.httpPort],
    grpcPort: e[runtimeEnv.grpcPort],
    metricsPort: e[runtimeEnv.metricsPort],
    workerConcurrency: e[runtimeEnv.workerConcurrency],
    leaseMs: e[runtimeEnv.leaseMs],
    sandboxDriver: e[runtimeEnv.sandboxDriver],
    sandboxImage: e[runtimeEnv.sandboxImage],
    sandboxRuntimeClass: e[runtimeEnv.sandboxRuntimeClass],
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

/** DATABASE_PASSWORD comes from a Secret; splice it into the URL unless the URL has one. */
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
