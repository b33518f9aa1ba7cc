/**
 * A stack's raw `apex:` config read from the project's files, as the Pulumi CLI hands it to the
 * program: Pulumi.<stack>.yaml over the project-level config of Pulumi.yaml. For tools that run
 * without the CLI (`npm run check`, `npm run render`); they validate it with loadConfig(), as
 * index.ts does under `pulumi preview`.
 *
 * `secure:` values cannot be decrypted here. They arrive as ciphertext, which loadConfig() takes
 * as a secret that is set; what only the plaintext can show (length, URL form) is left to the CLI.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parse } from "yaml";
import { CONFIG_NAMESPACE, type ConfigSource, type RawConfigValue } from "./index";

/** A project or stack file the Pulumi CLI itself would refuse before running the program. */
export class StackFileError extends Error {
  override name = "StackFileError";
}

export interface PulumiProject {
  /** The namespace of project-level keys written without one. */
  readonly name: string;
  /** Where the stack files are: `stackConfigDir`, or next to Pulumi.yaml. */
  readonly stackDir: string;
  /** Project-level config: key -> a value, or `{ value | default, type, secret, ... }`. */
  readonly config: Readonly<Record<string, unknown>>;
}

export interface StackFileSource extends ConfigSource {
  /** What could not be taken into account without the CLI, one sentence each. */
  readonly notes: readonly string[];
}

export function readPulumiProject(projectDir: string): PulumiProject {
  const file = join(projectDir, "Pulumi.yaml");
  const doc = readYamlMapping(file);
  if (typeof doc.name !== "string") throw new StackFileError(`${file}: expected a project name, got ${JSON.stringify(doc.name)}`);
  const stackConfigDir = typeof doc.stackConfigDir === "string" ? doc.stackConfigDir : ".";
  return { name: doc.name, stackDir: join(projectDir, stackConfigDir), config: mappingAt(doc, "config", file) };
}

/** `dev` for …/Pulumi.dev.yaml; undefined for a file not named like a stack file. */
export const stackNameOfFile = (file: string): string | undefined => /^Pulumi\.(.+)\.yaml$/.exec(basename(file))?.[1];

/** The project's stacks: one Pulumi.<stack>.yaml each. */
export function stackNames(project: PulumiProject): string[] {
  if (!existsSync(project.stackDir)) return [];
  return readdirSync(project.stackDir)
    .map(stackNameOfFile)
    .filter((name): name is string => name !== undefined)
    .sort();
}

export const stackFilePath = (project: PulumiProject, stack: string): string => join(project.stackDir, `Pulumi.${stack}.yaml`);

export function stackFileSource(project: PulumiProject, stackFile: string, stack: string): StackFileSource {
  const doc = readYamlMapping(stackFile);
  const notes: string[] = [];
  if (doc.environment !== undefined) {
    notes.push(`${stackFile} imports Pulumi ESC environments: their values are not seen without the Pulumi CLI`);
  }
  const merged = new Map<string, unknown>();
  for (const [key, value] of Object.entries(mappingAt(doc, "config", stackFile))) {
    if (!key.includes(":")) {
      throw new StackFileError(`${stackFile}: config key "${key}" is not of the form <namespace>:<name> (e.g. "${CONFIG_NAMESPACE}:${key}")`);
    }
    merged.set(key, value);
  }
  for (const [declared, declaration] of Object.entries(project.config)) {
    const key = declared.includes(":") ? declared : `${project.name}:${declared}`;
    if (merged.has(key)) continue;
    const projectValue = projectConfigValue(declaration);
    if (projectValue !== undefined) merged.set(key, projectValue);
    else if (key.startsWith(`${project.name}:`)) throw new StackFileError(`Stack '${stack}' is missing configuration value '${declared}' (declared in Pulumi.yaml without a default)`);
  }

  const entries = new Map<string, RawConfigValue>();
  const prefix = `${CONFIG_NAMESPACE}:`;
  for (const [key, value] of merged) {
    if (key.startsWith(prefix)) entries.set(key.slice(prefix.length), rawConfigValue(value));
  }
  return { stack, notes, entries: () => entries };
}

/** Project-level config: a plain value, or an object declaring `default` (wins) or `value`. */
function projectConfigValue(declaration: unknown): unknown {
  if (!isPlainObject(declaration)) return declaration;
  return declaration.default ?? declaration.value;
}

/** As the CLI passes a value to the program: strings as written, everything else as JSON. */
function rawConfigValue(value: unknown): RawConfigValue {
  if (isSecure(value)) return { ciphertext: value.secure };
  // An object holding a secure: leaf is handed over as one secret value.
  if (containsSecure(value)) return { ciphertext: JSON.stringify(value) };
  return { value: typeof value === "string" ? value : JSON.stringify(value), secret: false };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const isSecure = (v: unknown): v is { secure: string } => isPlainObject(v) && Object.keys(v).length === 1 && typeof v.secure === "string";

const containsSecure = (v: unknown): boolean =>
  isSecure(v) || (Array.isArray(v) ? v.some(containsSecure) : isPlainObject(v) && Object.values(v).some(containsSecure));

function readYamlMapping(file: string): Record<string, unknown> {
  if (!existsSync(file)) throw new StackFileError(`${file}: no such file`);
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new StackFileError(`${file}: not valid YAML: ${(e as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isPlainObject(doc)) throw new StackFileError(`${file}: expected a YAML mapping at the top level`);
  return doc;
}

function mappingAt(doc: Record<string, unknown>, key: string, file: string): Record<string, unknown> {
  const value = doc[key];
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) throw new StackFileError(`${file}: expected \`${key}:\` to be a mapping of keys to values`);
  return value;
}
