/**
 * How long a worker may drain on SIGTERM, derived from one value: the LLM request timeout. The
 * Pulumi program sets APEX_LLM_TIMEOUT_MS and APEX_WORKER_SHUTDOWN_GRACE_MS from it and gives the
 * pod (Kubernetes `terminationGracePeriodSeconds`, Docker `stop_timeout`) more still; the runtime
 * refuses a grace shorter than the timeout. A call in flight when the worker is told to stop then
 * ends (answer or timeout) before the grace does, and is never cut off and paid again by a retry.
 */

/** Default client timeout of one LLM provider request (ms). */
export const defaultLlmRequestTimeoutMs = 120_000;

/**
 * What an LLM task spends beyond the provider request: waiting for a provider slot (the gateway's
 * maxSlotWaitMs, 10 s) and for the rate limiter (maxRateLimitWaitMs, 1 s), then recording the
 * answer and finishing the attempt.
 */
export const workerDrainMarginMs = 15_000;

/**
 * Beyond the worker's own grace, for what the process does after its tasks are done: releasing
 * what is left, closing the database pool and flushing traces.
 */
export const podShutdownMarginSeconds = 15;

/** The shortest drain that lets an LLM call started just before SIGTERM finish (ms). */
export const minWorkerShutdownGraceMs = (llmRequestTimeoutMs: number): number => llmRequestTimeoutMs + workerDrainMarginMs;

/** The pod's grace period (s) for a worker draining for `shutdownGraceMs`. */
export const podTerminationGraceSeconds = (shutdownGraceMs: number): number => Math.ceil(shutdownGraceMs / 1000) + podShutdownMarginSeconds;
