/**
 * `npm run check` and `npm run render` validate a stack file without the Pulumi CLI, through the
 * loadConfig() that index.ts runs: the real scripts as child processes on temp stack files, their
 * errors compared with the shared function's and with the program's own (under Pulumi mocks).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../config";
import { readPulumiProject, stackFileSource, StackFileError } from "../config/stack-file";
import { loadStackConfig, UsageError } from "../scripts/stack-config";
import { operatorStackFile, REPO_ROOT, runStack } from "./harness";

interface ScriptRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `tsx scripts/<name>.ts ...` from the repository root, as `npm run <name> -- ...` runs it. */
function runScript(name: string, ...args: string[]): Promise<ScriptRun> {
  const tsx = join(REPO_ROOT, "node_modules/tsx/dist/cli.mjs");
  return new Promise((done) => {
    execFile(process.execPath, [tsx, `scripts/${name}.ts`, ...args], { cwd: REPO_ROOT }, (error, stdout, stderr) => {
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

const repoStackFile = (stack: string) => readFileSync(join(REPO_ROOT, `Pulumi.${stack}.yaml`), "utf8");
const apexValuesIn = (yamlText: string) =>
  Object.entries((parse(yamlText) as { config: Record<string, unknown> }).config).filter(([k]) => k.startsWith("apex:")).map(([, v]) => v);
const isSecure = (v: unknown) => typeof v === "object" && v !== null && "secure" in v;

/** The dev stack with a word for a number, a plaintext LLM key and a key that does not exist. */
const invalidDevOverrides = { workers: { replicas: "three" }, colour: "blue", openaiApiKey: "sk-live-LEAKED-123" };
const invalidDevYaml = repoStackFile("dev").replace("    replicas: 3\n", "    replicas: three\n") +
  "  apex:colour: blue\n  apex:openaiApiKey: sk-live-LEAKED-123\n";

function configErrorOf(load: () => unknown): ConfigError {
  try {
    load();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("config was accepted");
}

let dir: string;
const file = (name: string) => join(dir, name);
const runs: Record<string, ScriptRun> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "apex-config-check-"));
  writeFileSync(file("Pulumi.dev.yaml"), repoStackFile("dev"));
  operatorStackFile("prod", dir); // the committed file leaves apex:observability.runbookBaseUrl to the operator
  mkdirSync(file("invalid"));
  writeFileSync(file("invalid/Pulumi.dev.yaml"), invalidDevYaml);
  // Each spawn costs over a second of CPU (tsx, the Pulumi SDK): run them side by side.
  const [validDev, validProd, invalid, render] = await Promise.all([
    runScript("check", "--file", file("Pulumi.dev.yaml")),
    runScript("check", "--file", file("Pulumi.prod.yaml")),
    runScript("check", "--file", file("invalid/Pulumi.dev.yaml")),
    runScript("render", "--file", file("invalid/Pulumi.dev.yaml"), "--out", file("out")),
  ]);
  Object.assign(runs, { validDev, validProd, invalid, render });
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("npm run check", () => {
  it("passes a copy of each stack with a one-line summary", () => {
    expect(runs.validDev).toMatchObject({ code: 0, stderr: "" });
    expect(runs.validDev?.stdout).toBe(`${file("Pulumi.dev.yaml")}: apex config valid (environment dev, target docker, ${apexValuesIn(repoStackFile("dev")).length} keys)\n`);
    const prod = apexValuesIn(repoStackFile("prod"));
    expect(runs.validProd).toMatchObject({ code: 0, stderr: "" });
    expect(runs.validProd?.stdout).toBe(
      `${file("Pulumi.prod.yaml")}: apex config valid (environment prod, target kubernetes, ${prod.length} keys, ${prod.filter(isSecure).length} secure (not decrypted here))\n`,
    );
  });

  it("prints exactly the shared validation's error, naming each key, and never the secret", () => {
    const project = readPulumiProject(REPO_ROOT);
    const expected = configErrorOf(() => loadConfig(stackFileSource(project, file("invalid/Pulumi.dev.yaml"), "dev")));
    expect(expected.problems.map((p) => p.key)).toEqual(["apex:colour", "apex:workers.replicas", "apex:openaiApiKey"]);
    expect(expected.message).toContain('  apex:workers.replicas: expected a positive integer, got "three"\n');
    expect(expected.message).toContain("  apex:openaiApiKey: expected an encrypted (secure:) value");
    expect(expected.message).toContain('  apex:colour: unknown key (see docs/configuration.md), got "blue"');
    expect(runs.invalid).toMatchObject({ code: 1, stdout: "" });
    expect(runs.invalid?.stderr).toBe(`${file("invalid/Pulumi.dev.yaml")}: ${expected.message}\n`);
    expect(runs.invalid?.stderr).not.toContain("LEAKED");
  });

  it("reports what the program itself reports under pulumi preview for the same config", async () => {
    const program = await runStack({ stack: "dev", config: invalidDevOverrides }).then(
      () => expect.unreachable("the program accepted the config"),
      (e: unknown) => e as Error,
    );
    expect(program).toBeInstanceOf(ConfigError);
    expect(runs.invalid?.stderr).toBe(`${file("invalid/Pulumi.dev.yaml")}: ${program.message}\n`);
  });

  it("without --stack, or with a stack that does not exist, lists the available stacks (exit 2)", () => {
    // In-process: exitWithError() prefixes these with "check: " and exits 2.
    expect(() => loadStackConfig({})).toThrow(new UsageError("expected --stack <name> (available stacks: dev, prod) or --file <path>, got neither"));
    expect(() => loadStackConfig({ stack: "staging" })).toThrow(
      new UsageError('--stack: expected one of the project\'s stacks (dev, prod), got "staging" (no Pulumi.staging.yaml)'),
    );
    expect(() => loadStackConfig({ file: file("missing.yaml") })).toThrow(/^--file: expected a stack file, got ".*missing\.yaml" \(no such file\)$/);
  });
});

describe("npm run render", () => {
  it("refuses an invalid stack with the same error, before writing anything", () => {
    expect(runs.render?.code).toBe(1);
    expect(runs.render?.stderr).toBe(runs.invalid?.stderr);
    expect(existsSync(file("out"))).toBe(false);
  });
});

describe("reading a stack file without the CLI", () => {
  /** A project directory with its own Pulumi.yaml and one stack file. */
  function project(projectYaml: string, stackYaml: string) {
    const root = mkdtempSync(join(dir, "project-"));
    writeFileSync(join(root, "Pulumi.yaml"), projectYaml);
    writeFileSync(join(root, "Pulumi.dev.yaml"), stackYaml);
    const p = readPulumiProject(root);
    return () => stackFileSource(p, join(root, "Pulumi.dev.yaml"), "dev");
  }

  it("applies the project's config defaults under the stack file's values, as the CLI does", () => {
    const source = project(
      [
        "name: apex",
        "runtime: nodejs",
        "config:",
        "  logLevel: warn", // no namespace: the project's
        "  apex:namespace: { default: team-a }",
        "  apex:workers: { value: { replicas: 5 } }",
        "  pulumi:tags: { value: { app: apex } }",
      ].join("\n"),
      "config:\n  apex:logLevel: error\n",
    );
    const config = loadConfig(source());
    expect(config).toMatchObject({ logLevel: "error", namespace: "team-a", workers: { replicas: 5, concurrency: 4 } });
  });

  it("stops where the CLI would: a key the project requires, a key without a namespace", () => {
    const required = project("name: apex\nruntime: nodejs\nconfig:\n  region:\n    type: string\n", "config: {}\n");
    expect(required).toThrow(new StackFileError("Stack 'dev' is missing configuration value 'region' (declared in Pulumi.yaml without a default)"));
    const bare = project("name: apex\nruntime: nodejs\n", "config:\n  workers: { replicas: 2 }\n");
    expect(bare).toThrow(/config key "workers" is not of the form <namespace>:<name> \(e\.g\. "apex:workers"\)/);
  });

  it("takes secure: values as set secrets and refuses them for plain keys; notes ESC imports it cannot see", () => {
    const source = project(
      "name: apex\nruntime: nodejs\n",
      [
        "environment: [apex/dev]",
        "config:",
        "  apex:openaiApiKey: { secure: v1:Zm9v }",
        "  apex:registry: { server: ghcr.io, username: { secure: v1:YmFy } }",
      ].join("\n"),
    )();
    expect(source.notes).toEqual([expect.stringMatching(/imports Pulumi ESC environments: their values are not seen without the Pulumi CLI$/)]);
    expect(configErrorOf(() => loadConfig(source)).problems).toEqual([
      { key: "apex:registry", message: "expected a plain value (not a secret): set it with `pulumi config set apex:registry <value>`, got an encrypted value" },
    ]);
  });
});
