/**
 * Validates a `POST /v1/dags` body: the zod contract, then the graph (unique ids, known deps, no
 * cycle), template references, each LLM task's model (one the runtime can call: see
 * llm/model-check.ts) and each tool's own args schema. Every error is a ServiceError
 * ("invalid_argument") whose `field` is the path of the offending value, e.g. `tasks[2].depends_on[0]`.
 */
import type { z } from "zod";
import { collectStrings, lookupPath, TemplateError, templateRefs } from "../engine/template";
import type { ModelCheck } from "../llm/model-check";
import type { ToolRegistry } from "../tools/types";
import { dagLimits, dagSubmissionSchema, type DagSubmission } from "./dag-schema";
import { ServiceError } from "./types";

/** `["tasks", 2, "depends_on", 0]` -> `tasks[2].depends_on[0]`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out;
}

function invalid(field: string, message: string): ServiceError {
  return new ServiceError("invalid_argument", field ? `${field}: ${message}` : message, field || undefined);
}

function firstIssue(error: z.ZodError, prefix: readonly PropertyKey[] = []): ServiceError {
  const issue = error.issues[0];
  // An issue with the submission as a whole (not an object at all) names the body.
  const field = fieldPath([...prefix, ...(issue?.path ?? [])]) || "body";
  return invalid(field, issue?.message ?? "invalid value");
}

/** The path of the first array or object nested deeper than `max` levels; iterative, so a hostile body cannot overflow the stack. */
export function firstTooDeep(value: unknown, max: number): (string | number)[] | undefined {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    if (item.value === null || typeof item.value !== "object") continue;
    if (item.path.length >= max) return item.path;
    const entries: [string | number, unknown][] = Array.isArray(item.value) ? item.value.map((v, i) => [i, v]) : Object.entries(item.value);
    for (let i = entries.length - 1; i >= 0; i--) stack.push({ value: entries[i]![1], path: [...item.path, entries[i]![0]] });
  }
  return undefined;
}

/** Without `models`, LLM tasks' models are checked for their `provider/model` shape only. */
export function validateDagSubmission(body: unknown, tools: ToolRegistry, models?: ModelCheck): DagSubmission {
  const tooDeep = firstTooDeep(body, dagLimits.maxJsonDepth);
  if (tooDeep) throw invalid(fieldPath(tooDeep) || "body", `nested deeper than ${dagLimits.maxJsonDepth} levels of arrays and objects`);
  const size = Buffer.byteLength(JSON.stringify(body ?? null) ?? "", "utf8");
  if (size > dagLimits.maxBodyBytes) {
    throw invalid("", `body is ${size} bytes; the limit is ${dagLimits.maxBodyBytes}`);
  }
  // A helpful message for the commonest oversize case, before zod's generic "too big".
  const rawTasks = (body as { tasks?: unknown } | null)?.tasks;
  if (Array.isArray(rawTasks) && rawTasks.length > dagLimits.maxTasks) {
    throw invalid("tasks", `${rawTasks.length} tasks; the limit is ${dagLimits.maxTasks}`);
  }
  const parsed = dagSubmissionSchema.safeParse(body);
  if (!parsed.success) throw firstIssue(parsed.error);
  const dag = parsed.data;

  const index = new Map<string, number>();
  dag.tasks.forEach((t, i) => {
    const seen = index.get(t.id);
    if (seen !== undefined) throw invalid(`tasks[${i}].id`, `duplicate task id "${t.id}" (also tasks[${seen}])`);
    index.set(t.id, i);
  });
  dag.tasks.forEach((t, i) => {
    const deps = new Set<string>();
    t.depends_on.forEach((d, j) => {
      const field = `tasks[${i}].depends_on[${j}]`;
      if (!index.has(d)) throw invalid(field, `unknown task "${d}"`);
      if (d === t.id) throw invalid(field, `task "${t.id}" depends on itself`);
      if (deps.has(d)) throw invalid(field, `duplicate dependency "${d}"`);
      deps.add(d);
    });
  });
  const cycle = findCycle(dag);
  if (cycle) throw invalid("tasks", `cycle: ${cycle.join(" -> ")}`);

  dag.tasks.forEach((t, i) => {
    const templates =
      t.kind === "llm"
        ? [{ path: `tasks[${i}].prompt`, text: t.prompt }, ...(t.system ? [{ path: `tasks[${i}].system`, text: t.system }] : [])]
        : collectStrings(t.args, `tasks[${i}].args`);
    for (const { path, text } of templates) checkTemplate(path, text, t.depends_on, dag.input);
    if (t.kind === "llm") {
      const unavailable = models?.checkModel(t.model);
      if (unavailable) throw invalid(`tasks[${i}].model`, unavailable);
    }
    if (t.kind === "tool") {
      const tool = tools.get(t.tool);
      if (!tool) {
        const known = tools.list().map((x) => x.name).join(", ");
        throw invalid(`tasks[${i}].tool`, `unknown tool "${t.tool}" (known: ${known})`);
      }
      const args = tool.args.safeParse(t.args);
      if (!args.success) throw firstIssue(args.error, ["tasks", i, "args"]);
    }
  });
  return dag;
}

function checkTemplate(field: string, text: string, dependsOn: readonly string[], input: unknown): void {
  let refs;
  try {
    refs = templateRefs(text);
  } catch (err) {
    if (err instanceof TemplateError) throw invalid(field, err.message);
    throw err;
  }
  for (const ref of refs) {
    if (ref.kind === "task" && !dependsOn.includes(ref.taskId)) {
      throw invalid(field, `{{${ref.raw}}} refers to task "${ref.taskId}", which is not in depends_on`);
    }
    if (ref.kind === "input" && !lookupPath(input, ref.path).found) {
      throw invalid(field, `{{${ref.raw}}} refers to input.${ref.path.join(".")}, which the DAG input does not have`);
    }
  }
}

/** A cycle as a closed path of task ids (`["a", "b", "a"]`), or undefined. Iterative DFS. */
export function findCycle(dag: Pick<DagSubmission, "tasks">): string[] | undefined {
  const deps = new Map(dag.tasks.map((t) => [t.id, t.depends_on]));
  const state = new Map<string, "visiting" | "done">();
  for (const start of deps.keys()) {
    if (state.has(start)) continue;
    const stack: Array<{ id: string; next: number }> = [{ id: start, next: 0 }];
    state.set(start, "visiting");
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const children = deps.get(top.id) ?? [];
      if (top.next >= children.length) {
        state.set(top.id, "done");
        stack.pop();
        continue;
      }
      const child = children[top.next++]!;
      const s = state.get(child);
      if (s === "visiting") {
        const from = stack.findIndex((f) => f.id === child);
        // Edges point from a task to what it depends on; report in execution order (dep first).
        return [...stack.slice(from).map((f) => f.id), child].reverse();
      }
      if (s === undefined) {
        state.set(child, "visiting");
        stack.push({ id: child, next: 0 });
      }
    }
  }
  return undefined;
}
