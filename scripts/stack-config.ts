/**
 * The stack a script works on without the Pulumi CLI (`--stack <name>` or `--file <path>`), and its
 * config validated by loadConfig(), the function index.ts runs under `pulumi preview`: the same
 * rules and the same error text.
 */
import { existsSync } from "node:fs";
import { basename, isAbsolute, relative, resolve } from "node:path";
import type { ScrapePlatform } from "../components/observability/scrape-jobs";
import { ConfigError, loadConfig, type ApexConfig } from "../config";
import { readPulumiProject, stackFilePath, stackFileSource, stackNameOfFile, stackNames, StackFileError } from "../config/stack-file";

export const projectDir = resolve(__dirname, "..");

/** parseArgs options every stack script accepts. */
export const stackArgOptions = { stack: { type: "string" }, file: { type: "string" } } as const;

/** The arguments do not name a stack file that exists. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The stack file's config is invalid; the message is the file, then ConfigError's own text. */
export class InvalidStackConfig extends Error {
  override name = "InvalidStackConfig";
  constructor(readonly file: string, readonly configError: ConfigError) {
    super(`${file}: ${configError.message}`);
  }
}

export interface ValidatedStack {
  readonly stack: string;
  /** The stack file as the user would name it (relative to the working directory when inside it). */
  readonly file: string;
  readonly config: ApexConfig;
  /** `apex:` keys set by the stack file and the project defaults, and how many of them are `secure:`. */
  readonly keyCount: number;
  readonly encryptedCount: number;
  readonly notes: readonly string[];
}

/**
 * `--stack dev` reads Pulumi.dev.yaml of this project; `--file path` reads any file as a stack file
 * of this project, named by `--stack`, else by its file name (`Pulumi.<stack>.yaml`, or `<stack>.yaml`).
 */
export function loadStackConfig(args: { readonly stack?: string; readonly file?: string }): ValidatedStack {
  const project = readPulumiProject(projectDir);
  const stacks = stackNames(project);
  const available = stacks.length > 0 ? stacks.join(", ") : "none";
  let stack = args.stack;
  let path: string;
  if (args.file !== undefined) {
    path = resolve(args.file);
    if (!existsSync(path)) throw new UsageError(`--file: expected a stack file, got "${args.file}" (no such file)`);
    stack ??= stackNameOfFile(path) ?? basename(path).replace(/\.ya?ml$/, "");
  } else if (stack === undefined) {
    throw new UsageError(`expected --stack <name> (available stacks: ${available}) or --file <path>, got neither`);
  } else {
    if (!stacks.includes(stack)) {
      const missing = /^[A-Za-z0-9_.-]+$/.test(stack) ? ` (no ${relative(projectDir, stackFilePath(project, stack))})` : "";
      throw new UsageError(`--stack: expected one of the project's stacks (${available}), got "${stack}"${missing}`);
    }
    path = stackFilePath(project, stack);
  }

  const file = shownPath(path);
  const source = stackFileSource(project, path, stack);
  let config: ApexConfig;
  try {
    config = loadConfig(source);
  } catch (e) {
    if (e instanceof ConfigError) throw new InvalidStackConfig(file, e);
    throw e;
  }
  const entries = [...source.entries().values()];
  return {
    stack,
    file,
    config,
    keyCount: entries.length,
    encryptedCount: entries.filter((e) => "ciphertext" in e).length,
    notes: source.notes,
  };
}

/** Prints why a stack script cannot go on and exits: 1 for a config or stack file problem, 2 for bad arguments. */
export function exitWithError(script: string, error: unknown): never {
  if (error instanceof InvalidStackConfig || error instanceof StackFileError) {
    console.error(error.message);
    process.exit(1);
  }
  if (error instanceof UsageError || isParseArgsError(error)) {
    console.error(`${script}: ${(error as Error).message}`);
    process.exit(2);
  }
  console.error(`${script}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

/** util.parseArgs refusing an option (its errors carry a code such as ERR_PARSE_ARGS_UNKNOWN_OPTION). */
const isParseArgsError = (e: unknown): boolean => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
};

function shownPath(path: string): string {
  const fromCwd = relative(process.cwd(), path);
  return fromCwd.startsWith("..") || isAbsolute(fromCwd) ? path : fromCwd;
}

/** What the generated observability files of a stack depend on, from its validated config. */
export interface StackObservability {
  readonly stack: string;
  readonly settings: ApexConfig["observability"];
  readonly platform: ScrapePlatform;
}

export function stackObservability(args: { readonly stack?: string; readonly file?: string }): StackObservability & { readonly notes: readonly string[] } {
  const { stack, config, notes } = loadStackConfig(args);
  const platform: ScrapePlatform = config.target === "kubernetes" ? { kind: "kubernetes", namespace: config.namespace } : { kind: "docker" };
  return { stack, settings: config.observability, platform, notes };
}
