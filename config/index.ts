import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ConfigError, describeGiven, type ConfigProblem } from "./errors";
import { environments, type ConfigSection, type Environment, type SectionValue } from "./section";
import { configChecks, configSections, type ConfigSections } from "./sections";

export { ConfigError, type ConfigProblem } from "./errors";
export type { Environment } from "./section";

/** The whole stack config as plain typed values (secrets as Pulumi secret Outputs). */
export type ApexConfig = {
  readonly stack: string;
  readonly environment: Environment;
} & { readonly [K in keyof ConfigSections]: SectionValue<ConfigSections[K]> };

export const CONFIG_NAMESPACE = "apex";

/** One raw `apex:` value as a config source hands it over. */
export type RawConfigValue =
  /** Plaintext: from the CLI (`secret` when the stack file holds it as `secure:`), or a literal in unit tests. */
  | { readonly value: string; readonly secret: boolean }
  /** A `secure:` value read from a stack file without the CLI (config/stack-file.ts): set, encrypted, plaintext unknown. */
  | { readonly ciphertext: string };

/**
 * Where raw config comes from: the Pulumi engine in a real run, the stack file in
 * `npm run check`/`render`, a literal map in unit tests. All of them go through loadConfig().
 */
export interface ConfigSource {
  readonly stack: string;
  /** Keys of the `apex` namespace without the prefix. */
  entries(): ReadonlyMap<string, RawConfigValue>;
  /**
   * A secret key's value as the source's own secret Output (the engine's `requireSecret`), once
   * loadConfig has checked its shape. Sources without one hand over `pulumi.secret(value)`.
   */
  secretOutput?(key: string): pulumi.Output<string>;
}

/**
 * Reads the `apex:*` keys through `pulumi.Config("apex")`: plain keys with `get` (structured ones
 * are JSON, decoded against their zod schema), secret keys with `requireSecret`, so the program
 * only ever holds them as secret Outputs. The engine's key list is read for the names alone, to
 * report a misspelt key instead of ignoring it.
 */
export function pulumiConfigSource(): ConfigSource {
  const config = new pulumi.Config(CONFIG_NAMESPACE);
  const runtime = pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean };
  const prefix = `${CONFIG_NAMESPACE}:`;
  return {
    stack: pulumi.getStack(),
    entries() {
      const out = new Map<string, RawConfigValue>();
      const keys = Object.keys(pulumi.runtime.allConfig()).filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
      for (const key of keys) {
        const value = config.get(key);
        if (value !== undefined) out.set(key, { value, secret: runtime.isConfigSecret?.(`${prefix}${key}`) ?? false });
      }
      return out;
    },
    secretOutput: (key) => config.requireSecret(key),
  };
}

/**
 * Parses and validates the stack config once. Throws ConfigError listing every problem, each
 * naming the key, the expected form and the value given.
 */
export function loadConfig(source: ConfigSource = pulumiConfigSource()): ApexConfig {
  const entries = source.entries();
  const problems: ConfigProblem[] = [];
  const known = new Set<string>(["environment", ...Object.keys(configSections)]);
  /** Plaintext of the keys that are not secrets; an encrypted one is refused rather than read. */
  const plain = new Map<string, string>();
  for (const [key, entry] of entries) {
    if (!known.has(key)) {
      problems.push({ key: `apex:${key}`, message: `unknown key (see docs/configuration.md), got ${describeRaw(entry)}` });
      continue;
    }
    if (key !== "environment" && configSections[key as keyof ConfigSections].kind === "secret") continue; // readSecret, below
    if ("ciphertext" in entry || entry.secret) {
      // The program would put it in state and outputs as plain text, and `npm run check` cannot read it.
      problems.push({ key: `apex:${key}`, message: `expected a plain value (not a secret): set it with \`pulumi config set apex:${key} <value>\`, got an encrypted value` });
    } else {
      plain.set(key, entry.value);
    }
  }

  const givenEnvironment = plain.get("environment") ?? source.stack;
  if (!(environments as readonly string[]).includes(givenEnvironment)) {
    const from = plain.has("environment") ? "" : ` (taken from the stack name; set apex:environment)`;
    problems.push({
      key: "apex:environment",
      message: `expected one of ${environments.map((e) => `"${e}"`).join(", ")}${from}, got ${describeGiven(givenEnvironment)}`,
    });
    throw new ConfigError(problems);
  }
  const environment = givenEnvironment as Environment;

  const values: Record<string, unknown> = {};
  for (const [key, section] of Object.entries(configSections) as [string, ConfigSection][]) {
    if (section.kind === "secret") {
      values[key] = readSecret(key, section, entries.get(key), environment, problems, source.secretOutput);
      continue;
    }
    const raw = plain.get(key);
    const given = raw === undefined ? undefined : decode(raw, section.schema);
    const merged = mergeOver(defaultsFor(section, environment), given);
    const parsed = section.schema.safeParse(merged);
    if (parsed.success) values[key] = parsed.data;
    else problems.push(...issuesToProblems(key, parsed.error, merged));
  }
  if (problems.length > 0) throw new ConfigError(dedupe(problems));

  const config = { stack: source.stack, environment, ...values } as ApexConfig;
  const crossProblems = configChecks.flatMap((check) => check(config));
  if (crossProblems.length > 0) throw new ConfigError(crossProblems);
  return config;
}

function readSecret(
  key: string,
  section: Extract<ConfigSection, { kind: "secret" }>,
  entry: RawConfigValue | undefined,
  environment: Environment,
  problems: ConfigProblem[],
  secretOutput?: (key: string) => pulumi.Output<string>,
): pulumi.Output<string> | undefined {
  const setIt = `set it with \`pulumi config set --secret apex:${key} <value>\``;
  if (entry === undefined) {
    if (section.requiredIn.includes(environment)) {
      problems.push({ key: `apex:${key}`, message: `required in ${environment}: ${setIt}, got nothing` });
    }
    return undefined;
  }
  if ("ciphertext" in entry) {
    // Set and encrypted, as required; its plaintext (length, URL form) is only checked where the
    // CLI decrypts it. An unknown Output says exactly that: present, value not known here.
    return pulumi.secret(pulumi.output(pulumi.unknown as unknown as string));
  }
  // The value itself is never echoed: only its shape.
  if (!entry.secret) {
    problems.push({ key: `apex:${key}`, message: `expected an encrypted (secure:) value: ${setIt}, got a plaintext value` });
  }
  const minLength = section.minLength ?? 1;
  if (entry.value.length < minLength) {
    problems.push({ key: `apex:${key}`, message: `expected at least ${minLength} characters, got ${entry.value.length}` });
  }
  if (section.format === "url" && !isHttpUrl(entry.value)) {
    problems.push({ key: `apex:${key}`, message: "expected an http(s) URL such as \"https://hooks.slack.com/services/...\", got a value that is not one" });
  }
  return secretOutput ? secretOutput(key) : pulumi.secret(entry.value);
}

/** A section's defaults in `environment`: the environment's own deep-merged over `all`. */
export function defaultsFor(section: Extract<ConfigSection, { kind: "plain" }>, environment: Environment): unknown {
  const all = section.defaults?.all;
  const own = section.defaults?.[environment];
  return all === undefined ? own : mergeOver(all, own);
}

/** How a raw value is shown in an error: never an encrypted value's plaintext. */
const describeRaw = (entry: RawConfigValue): string =>
  "ciphertext" in entry || entry.secret ? "an encrypted value" : describeGiven(entry.value);

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === "https:" || u.protocol === "http:") && u.hostname !== "";
  } catch {
    return false;
  }
}

/** Structured and numeric values arrive as JSON text; text-typed keys are taken verbatim. */
function decode(raw: string, schema: z.ZodType): unknown {
  if (acceptsText(schema)) return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

function acceptsText(schema: z.ZodType): boolean {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault) {
    s = s.unwrap() as z.ZodType;
  }
  return s instanceof z.ZodString || s instanceof z.ZodEnum;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Deep merge: objects key by key, anything else (lists, scalars, null) replaces the default. */
export function mergeOver(defaults: unknown, given: unknown): unknown {
  if (given === undefined) return defaults;
  if (!isPlainObject(defaults) || !isPlainObject(given)) return given;
  const out: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(given)) out[k] = mergeOver(defaults[k], v);
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const p of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function issuesToProblems(key: string, error: z.ZodError, merged: unknown): ConfigProblem[] {
  const name = (path: readonly PropertyKey[]) => `apex:${[key, ...path.map(String)].join(".")}`;
  return error.issues.flatMap((issue): ConfigProblem[] => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((k) => ({
        key: name([...issue.path, k]),
        message: `unknown key (see docs/configuration.md), got ${describeGiven(valueAt(merged, [...issue.path, k]))}`,
      }));
    }
    return [{ key: name(issue.path), message: `${issue.message}, got ${describeGiven(valueAt(merged, issue.path))}` }];
  });
}

function dedupe(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const id = `${p.key}\n${p.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
