/**
 * What must never reach a log line: API keys, Authorization headers, LLM provider keys and every
 * secret configuration value. Two layers:
 *  - `redactPaths`: pino removes these fields by name wherever they are logged as structured data;
 *  - `SecretScrubber`: a last pass over every serialised line that replaces known secret values
 *    (wherever they hide: a message, an error text, a URL) and well-known key shapes.
 */
import { runtimeEnv } from "../contract/env";

export const REDACTED = "[REDACTED]";

/** Field names (at the top level or one object deep) that pino censors. */
const sensitiveKeys = [
  "authorization",
  "Authorization",
  "apiKey",
  "api_key",
  "apikey",
  "password",
  "secret",
  "token",
  "accessToken",
  "access_token",
  "bootstrapAdminKey",
  "openaiApiKey",
  "anthropicApiKey",
  '"x-api-key"',
  runtimeEnv.openaiApiKey,
  runtimeEnv.anthropicApiKey,
  runtimeEnv.bootstrapAdminKey,
  runtimeEnv.databasePassword,
];

function pathFor(key: string, prefix: string): string {
  return key.startsWith('"') ? `${prefix}[${key}]` : `${prefix}.${key}`;
}

export const redactPaths: readonly string[] = [
  ...sensitiveKeys.map((k) => (k.startsWith('"') ? `[${k}]` : k)),
  ...sensitiveKeys.map((k) => pathFor(k, "*")),
  ...sensitiveKeys.map((k) => pathFor(k, "headers")),
  ...sensitiveKeys.map((k) => pathFor(k, "req.headers")),
  ...sensitiveKeys.map((k) => pathFor(k, "*.headers")),
];

/** Env vars whose values are secrets in every deployment (contract/env.ts). */
export const secretEnvVars: readonly string[] = [
  runtimeEnv.openaiApiKey,
  runtimeEnv.anthropicApiKey,
  runtimeEnv.bootstrapAdminKey,
  runtimeEnv.databasePassword,
];

/** Env vars that are URLs which may carry a password in their userinfo. */
const urlEnvVars: readonly string[] = [runtimeEnv.databaseUrl, runtimeEnv.redisUrl];

/** Shapes that are secrets whatever their value: provider keys, bearer tokens, URL passwords. */
const secretPatterns: readonly [RegExp, string][] = [
  [/\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}/g, REDACTED],
  // Apex API keys (auth/keys.ts: "apex_" + 32 random bytes, base64url).
  [/\bapex_[A-Za-z0-9_-]{32,}/g, REDACTED],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`],
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s"]*:)[^@\s"/]+@/gi, `$1${REDACTED}@`],
];

/** Shorter values are not scrubbed by value: they would censor ordinary words, and are no secret. */
const MIN_SECRET_LENGTH = 4;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export class SecretScrubber {
  private readonly values = new Set<string>();
  private matcher: RegExp | undefined;

  /** Adds secret values; each is also matched in its JSON-escaped form. */
  add(...values: readonly (string | undefined)[]): void {
    for (const v of values) {
      if (!v || v.length < MIN_SECRET_LENGTH) continue;
      this.values.add(v);
      this.values.add(JSON.stringify(v).slice(1, -1));
      this.values.add(encodeURIComponent(v));
    }
    // Longest first, so a secret that contains another is replaced whole.
    const sorted = [...this.values].sort((a, b) => b.length - a.length);
    this.matcher = sorted.length ? new RegExp(sorted.map(escapeRegExp).join("|"), "g") : undefined;
  }

  /** Adds the values of the secret env vars and the passwords inside URL env vars. */
  addFromEnv(env: NodeJS.ProcessEnv = process.env): void {
    this.add(...secretEnvVars.map((name) => env[name]));
    for (const name of urlEnvVars) {
      const raw = env[name];
      if (!raw) continue;
      try {
        const password = new URL(raw).password;
        if (password) this.add(decodeURIComponent(password), password);
      } catch {
        // Not a URL: nothing to extract; the URL's own validation reports it elsewhere.
      }
    }
  }

  scrub(line: string): string {
    let out = this.matcher ? line.replace(this.matcher, REDACTED) : line;
    for (const [pattern, replacement] of secretPatterns) out = out.replace(pattern, replacement);
    return out;
  }
}

/** The process-wide scrubber every logger uses; seeded from the environment at first use. */
export const secretScrubber = new SecretScrubber();
secretScrubber.addFromEnv();

/** Registers a secret obtained at run time (e.g. read from Vault) so no logger ever prints it. */
export function registerSecretValue(value: string | undefined): void {
  secretScrubber.add(value);
}
