/**
 * Environment variables the runtime reads. The Pulumi program sets exactly these on the apex-api
 * and apex-worker containers, so a rename here breaks the type-check on both sides.
 */
export const runtimeEnv = {
  databaseUrl: "DATABASE_URL",
  /** Postgres password, injected from the secret and spliced into DATABASE_URL by the runtime. */
  databasePassword: "DATABASE_PASSWORD",
  redisUrl: "REDIS_URL",
  /** Redis AUTH password, injected from the secret and spliced into REDIS_URL by the runtime (as DATABASE_PASSWORD). */
  redisPassword: "REDIS_PASSWORD",
  httpPort: "APEX_HTTP_PORT",
  grpcPort: "APEX_GRPC_PORT",
  metricsPort: "APEX_METRICS_PORT",
  workerConcurrency: "APEX_WORKER_CONCURRENCY",
  leaseMs: "APEX_LEASE_MS",
  /** Postgres connections of the process's pool; unset = sized to what the process runs (config.ts `dbPoolSizeOf`). */
  dbPoolSize: "APEX_DB_POOL_SIZE",
  /** Opening a Postgres connection, or waiting for a free one in the pool (ms, 0 = none). Default 3000. */
  dbConnectTimeoutMs: "APEX_DB_CONNECT_TIMEOUT_MS",
  /** Client-side deadline of one query: no answer by then fails it and drops its connection (ms, 0 = none). Default 3500. */
  dbQueryTimeoutMs: "APEX_DB_QUERY_TIMEOUT_MS",
  /** Postgres `statement_timeout` of the runtime's sessions (ms, 0 = none). Default 3000. */
  dbStatementTimeoutMs: "APEX_DB_STATEMENT_TIMEOUT_MS",
  /** How long an API key lookup is reused in the process (ms, 0–60000, default 5000); also how late another replica sees a revocation. */
  apiKeyCacheMs: "APEX_API_KEY_CACHE_MS",
  /** How long an unknown API key is remembered as unknown (ms, 0–300000, default 10000): repeats cost no query. */
  apiKeyMissCacheMs: "APEX_API_KEY_MISS_CACHE_MS",
  /** API requests per minute per API key (token bucket, burst of 10 s' worth); 0 = no limit. Default 1200. */
  apiRateLimitPerKey: "APEX_API_RATE_LIMIT_PER_KEY",
  /** API requests per minute per client IP, counted before authentication; 0 = no limit. Default 3000. */
  apiRateLimitPerIp: "APEX_API_RATE_LIMIT_PER_IP",
  /** Open DAG watches (SSE and gRPC WatchDag) per API key on one API replica; 0 = no cap. Default 50. */
  apiMaxWatchesPerKey: "APEX_API_MAX_WATCHES_PER_KEY",
  /** `true` lets the API key that submitted a DAG approve its tool calls; default `false`. */
  approvalAllowSelf: "APEX_APPROVAL_ALLOW_SELF",
  /** How long an approval may be decided and then used, from the moment it is requested (ms). Default 24 h. */
  approvalTtlMs: "APEX_APPROVAL_TTL_MS",
  sandboxDriver: "APEX_SANDBOX_DRIVER",
  /** Sandbox image the docker/kubernetes drivers run (the stack's build, by digest when pushed). */
  sandboxImage: "APEX_SANDBOX_IMAGE",
  /** RuntimeClass of sandbox Pods (e.g. gVisor); unset = the node's default runtime. */
  sandboxRuntimeClass: "APEX_SANDBOX_RUNTIME_CLASS",
  /** JSON node labels of the sandbox node pool, e.g. `{"apex.dev/pool":"sandbox"}`; unset = any node. */
  sandboxNodeSelector: "APEX_SANDBOX_NODE_SELECTOR",
  /** JSON list of tolerations of the sandbox pool's taint, e.g. `[{"key":"apex.dev/sandbox","operator":"Equal","value":"true","effect":"NoSchedule"}]`. */
  sandboxTolerations: "APEX_SANDBOX_TOLERATIONS",
  /** Local sandbox driver hardening: `auto` (default; without bwrap a worker with code-running tools refuses to start), `required` (also needs cgroups), `off` (no sandbox, logged loudly). */
  sandboxHardened: "APEX_SANDBOX_HARDENED",
  /** Comma-separated hosts (`docs.python.org`, `*.wikipedia.org`) `http_fetch` may GET; unset = no http_fetch tool. */
  toolHttpAllowlist: "APEX_TOOL_HTTP_ALLOWLIST",
  /** JSON per provider: `{"openai":{"requestsPerMinute":500,"tokensPerMinute":200000}}`; unset = no limits of ours. */
  llmRateLimits: "APEX_LLM_RATE_LIMITS",
  /** JSON, any subset of `{"failureThreshold":5,"cooldownMs":30000,"probeLeaseMs":120000}` (the defaults). */
  llmBreaker: "APEX_LLM_BREAKER",
  /** Client timeout of one LLM provider request (ms, 1000–3600000). Default 120000 (contract/worker-drain.ts). */
  llmTimeoutMs: "APEX_LLM_TIMEOUT_MS",
  /** How long a worker's in-flight tasks may finish on SIGTERM (ms); at least APEX_LLM_TIMEOUT_MS. Default: the timeout + 15 s. */
  workerShutdownGraceMs: "APEX_WORKER_SHUTDOWN_GRACE_MS",
  /** A trace's page for the console's links, `{trace_id}` filled in, e.g. `http://localhost:16686/trace/{trace_id}`; unset = no trace links. */
  traceUrlTemplate: "APEX_TRACE_URL_TEMPLATE",
  /** A DAG's logs for the console's links, `{dag_id}`, `{task_id}`, `{trace_id}` filled in (URL-encoded); unset = no log links. */
  logsUrlTemplate: "APEX_LOGS_URL_TEMPLATE",
  /** `npm start` only: the built console it serves on the API's origin. Default: console/dist of the checkout. */
  consoleDir: "APEX_CONSOLE_DIR",
  bootstrapAdminKey: "APEX_BOOTSTRAP_ADMIN_KEY",
  openaiApiKey: "OPENAI_API_KEY",
  anthropicApiKey: "ANTHROPIC_API_KEY",
  openaiBaseUrl: "OPENAI_BASE_URL",
  anthropicBaseUrl: "ANTHROPIC_BASE_URL",
  otlpEndpoint: "OTEL_EXPORTER_OTLP_ENDPOINT",
  /** `grpc` (default), `http/protobuf` or `http/json`; the traces-only variable below wins. */
  otlpProtocol: "OTEL_EXPORTER_OTLP_PROTOCOL",
  otlpTracesProtocol: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
  serviceName: "OTEL_SERVICE_NAME",
  logLevel: "LOG_LEVEL",
} as const;

export type RuntimeEnvKey = keyof typeof runtimeEnv;

/** Keys of the `apex-secrets` Secret (the seed's names) and the env vars they feed. */
export const secretKeys = {
  openaiApiKey: "OPENAI_API_KEY",
  anthropicApiKey: "ANTHROPIC_API_KEY",
  postgresPassword: "POSTGRES_PASSWORD",
} as const;
