import { jsonExtractTool } from "./builtin/json-extract";
import { pythonTool } from "./builtin/python";
import { runCommandTool } from "./builtin/run-command";
import { textStatsTool } from "./builtin/text-stats";
import type { ToolDefinition, ToolRegistry } from "./types";

/** The tools every worker and API replica knows. Untrusted code runs only in the sandbox. */
export const builtinTools: readonly ToolDefinition[] = [
  pythonTool,
  runCommandTool,
  textStatsTool,
  jsonExtractTool,
];

const toolName = /^[a-z][a-z0-9_]{0,63}$/;

/** The builtin tools plus `extra`; names must be unique and snake_case. */
export function createToolRegistry(extra: readonly ToolDefinition[] = []): ToolRegistry {
  const byName = new Map<string, ToolDefinition>();
  for (const tool of [...builtinTools, ...extra]) {
    if (!toolName.test(tool.name)) throw new TypeError(`tool name "${tool.name}" must be snake_case (a-z, 0-9, _), at most 64 characters`);
    if (byName.has(tool.name)) throw new TypeError(`tool "${tool.name}" is registered twice`);
    byName.set(tool.name, tool);
  }
  const list = Object.freeze([...byName.values()]);
  return {
    get: (name) => byName.get(name),
    list: () => list,
  };
}
