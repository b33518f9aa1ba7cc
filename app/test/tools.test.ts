import { describe, expect, it } from "vitest";
import { z, ZodError } from "zod";
import { LocalSandboxDriver } from "../src/sandbox/local/driver";
import type { SandboxDriver, SandboxRequest, SandboxResult } from "../src/sandbox/types";
import { ToolError } from "../src/tools/errors";
import { createToolRegistry } from "../src/tools/registry";
import type { ToolContext, ToolDefinition } from "../src/tools/types";

const registry = createToolRegistry();
const tool = (name: string): ToolDefinition => {
  const t = registry.get(name);
  if (!t) throw new Error(`no tool ${name}`);
  return t;
};
const sandbox = new LocalSandboxDriver();
const ctx = (timeoutMs = 15_000, driver: SandboxDriver = sandbox): ToolContext => ({ sandbox: driver, signal: new AbortController().signal, timeoutMs });
const call = (name: string, args: unknown, c: ToolContext = ctx()) => tool(name).run(tool(name).args.parse(args), c);

/** The first zod issue's path for args that must be rejected. */
function issuePath(name: string, args: unknown): (string | number)[] {
  const r = tool(name).args.safeParse(args);
  if (r.success) throw new Error(`expected ${JSON.stringify(args)} to be rejected by ${name}`);
  expect(r.error).toBeInstanceOf(ZodError);
  return r.error.issues[0]!.path as (string | number)[];
}

/** Records requests; answers with a fixed result. Used only to check the request a tool builds. */
class RecordingDriver implements SandboxDriver {
  readonly name = "local" as const;
  readonly requests: SandboxRequest[] = [];
  constructor(private readonly result: Partial<SandboxResult> = {}) {}
  async run(req: SandboxRequest): Promise<SandboxResult> {
    this.requests.push(req);
    return { exitCode: 0, signal: null, stdout: "", stderr: "", timedOut: false, durationMs: 1, ...this.result };
  }
}

describe("tool registry", () => {
  it("lists the builtins with their approval flags", () => {
    expect(Object.fromEntries(registry.list().map((t) => [t.name, t.requiresApproval]))).toEqual({
      python: true,
      run_command: true,
      text_stats: false,
      json_extract: false,
    });
    for (const t of registry.list()) expect(t.description.length).toBeGreaterThan(20);
  });

  it("adds extra tools and rejects duplicates and bad names", () => {
    const echo: ToolDefinition = { name: "echo_args", description: "returns its args", args: z.object({ x: z.number() }), requiresApproval: false, run: async (a) => a };
    expect(createToolRegistry([echo]).get("echo_args")).toBe(echo);
    expect(() => createToolRegistry([echo, echo])).toThrow(/"echo_args" is registered twice/);
    expect(() => createToolRegistry([{ ...echo, name: "python" }])).toThrow(/"python" is registered twice/);
    expect(() => createToolRegistry([{ ...echo, name: "Bad Name" }])).toThrow(/snake_case/);
    expect(registry.get("nope")).toBeUndefined();
  });

  it("rejects bad args with the field's path", () => {
    expect(issuePath("python", {})).toEqual(["code"]);
    expect(issuePath("python", { code: 42 })).toEqual(["code"]);
    expect(issuePath("python", { code: "print(1)", cod: "x" })).toEqual([]); // unrecognized key, named in the message
    expect(tool("python").args.safeParse({ code: "1", cod: "x" }).error?.issues[0]?.message).toMatch(/cod/);
    expect(issuePath("python", { code: "x".repeat(70_000) })).toEqual(["code"]);
    expect(issuePath("run_command", { argv: [] })).toEqual(["argv"]);
    expect(issuePath("run_command", { argv: ["ls", "a\0b"] })).toEqual(["argv", 1]);
    expect(issuePath("run_command", { argv: ["env"], env: { "BAD-NAME": "1" } })).toEqual(["env", "BAD-NAME"]);
    expect(issuePath("text_stats", {})).toEqual(["text"]);
    expect(issuePath("text_stats", { text: "a", top: 1000 })).toEqual(["top"]);
    expect(issuePath("json_extract", { data: {}, paths: { a: "x..y" } })).toEqual(["paths", "a"]);
  });
});

describe("python tool (in the real local sandbox)", () => {
  it("runs code with its input and returns printed JSON as result", async () => {
    const out = (await call("python", {
      code: "import json, os; d = json.loads(os.environ['APEX_TOOL_INPUT']); print(json.dumps({'sum': sum(d['xs'])}))",
      input: { xs: [1, 2, 3] },
    })) as { result: unknown; exit_code: number };
    expect(out.exit_code).toBe(0);
    expect(out.result).toEqual({ sum: 6 });
  });

  it("never sees the worker's secrets", async () => {
    process.env.ANTHROPIC_API_KEY = "sk-ant-worker-secret";
    try {
      const out = (await call("python", { code: "import os, json; print(json.dumps(sorted(os.environ)))" })) as { result: string[] };
      expect(out.result).not.toContain("ANTHROPIC_API_KEY");
    } finally {
      delete process.env.ANTHROPIC_API_KEY;
    }
  });

  it("fails the task with the program's stderr on a non-zero exit", async () => {
    const err = await call("python", { code: "raise ValueError('bad input')" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).message).toMatch(/python: program exited with code 1: .*ValueError: bad input/s);
    expect((err as ToolError).message).not.toMatch(/sandbox/i); // a tool_error, not a sandbox_error
  });

  it("fails on timeout", async () => {
    await expect(call("python", { code: "import time; time.sleep(20)" }, ctx(500))).rejects.toThrow(/python: timed out after 500 ms/);
  });

  it("builds a shell-free request: python3 -I -c <code>, input only in env", async () => {
    const rec = new RecordingDriver({ stdout: "plain text" });
    const out = await call("python", { code: "print('$(id)')", input: "x" }, ctx(1234, rec));
    expect(rec.requests[0]).toMatchObject({ argv: ["python3", "-I", "-c", "print('$(id)')"], env: { APEX_TOOL_INPUT: '"x"' }, timeoutMs: 1234 });
    expect(out).toMatchObject({ stdout: "plain text" });
    expect(out).not.toHaveProperty("result");
  });

  it("reports a killed program (e.g. by the memory limit)", async () => {
    const rec = new RecordingDriver({ exitCode: null, signal: "SIGKILL", oomKilled: true });
    await expect(call("python", { code: "x" }, ctx(1000, rec))).rejects.toThrow(/memory limit/);
  });
});

describe("run_command tool", () => {
  it("passes argv to the program without a shell", async () => {
    const out = (await call("run_command", { argv: ["echo", "a  b", "$HOME", "*"] })) as { stdout: string };
    expect(out.stdout).toBe("a  b $HOME *\n");
  });
});

describe("text_stats tool", () => {
  it("counts words, lines and sentences and ranks words without stopwords", async () => {
    const out = await call("text_stats", { text: "The cat sat. The cat ran!\nA dog barked?", top: 2 });
    expect(out).toEqual({
      characters: 39,
      words: 9,
      unique_words: 7,
      lines: 2,
      sentences: 3,
      average_word_length: 3.11, // 28 letters / 9 words
      top_words: [
        { word: "cat", count: 2 },
        { word: "barked", count: 1 },
      ],
    });
  });

  it("aggregates several texts (a fan-in) and keeps per-text stats", async () => {
    const out = (await call("text_stats", { texts: ["alpha beta", "beta gamma délta"], top: 1 })) as {
      words: number;
      top_words: unknown;
      per_text: { words: number }[];
    };
    expect(out.words).toBe(5);
    expect(out.top_words).toEqual([{ word: "beta", count: 2 }]);
    expect(out.per_text.map((p) => p.words)).toEqual([2, 3]);
  });
});

describe("json_extract tool", () => {
  const data = JSON.stringify({ items: [{ title: "first", tags: ["a"] }], total: 1 });
  it("picks values by path from JSON text", async () => {
    expect(await call("json_extract", { data, paths: { t: "items[0].title", tag: "items[0].tags[0]", n: "total" } })).toEqual({ t: "first", tag: "a", n: 1 });
  });
  it("names a missing path, or returns null when asked", async () => {
    await expect(call("json_extract", { data, paths: { x: "items[3].title" } })).rejects.toThrow(/"items\[3\]\.title" \(paths\.x\)/);
    expect(await call("json_extract", { data, paths: { x: "nope" }, missing: "null" })).toEqual({ x: null });
    await expect(call("json_extract", { data: "{not json", paths: { x: "a" } })).rejects.toThrow(/not valid JSON/);
  });
});
