/**
 * Prompt templates: `{{input.a.b}}` reads the DAG input, `{{tasks.<id>.output}}` (optionally
 * `.output.field`) reads an upstream task's output. Strings are inserted as is, other values as
 * JSON. The same parser validates references at submission time and renders them at run time.
 */
const placeholder = /\{\{\s*([^{}]+?)\s*\}\}/g;

export type TemplateRef =
  | { readonly kind: "input"; readonly path: readonly string[]; readonly raw: string }
  | { readonly kind: "task"; readonly taskId: string; readonly path: readonly string[]; readonly raw: string };

export class TemplateError extends Error {
  override readonly name = "TemplateError";
}

/** Every placeholder of a template, parsed; throws TemplateError on an unknown root. */
export function templateRefs(template: string): TemplateRef[] {
  const refs: TemplateRef[] = [];
  for (const m of template.matchAll(placeholder)) {
    const raw = m[1] ?? "";
    const parts = raw.split(".");
    if (parts[0] === "input" && parts.length >= 2) {
      refs.push({ kind: "input", path: parts.slice(1), raw });
    } else if (parts[0] === "tasks" && parts.length >= 3 && parts[2] === "output" && parts[1]) {
      refs.push({ kind: "task", taskId: parts[1], path: parts.slice(3), raw });
    } else {
      throw new TemplateError(`unknown reference {{${raw}}}: expected {{input.<key>}} or {{tasks.<id>.output}}`);
    }
  }
  return refs;
}

export function lookupPath(value: unknown, path: readonly string[]): { found: boolean; value?: unknown } {
  let cur: unknown = value;
  for (const key of path) {
    if (cur === null || typeof cur !== "object" || !Object.prototype.hasOwnProperty.call(cur, key)) return { found: false };
    cur = (cur as Record<string, unknown>)[key];
  }
  return { found: true, value: cur };
}

export interface TemplateScope {
  readonly input: unknown;
  /** Outputs of upstream tasks, by task id. */
  readonly outputs: Readonly<Record<string, unknown>>;
}

export function renderTemplate(template: string, scope: TemplateScope): string {
  return template.replace(placeholder, (_whole, expr: string) => {
    const [ref] = templateRefs(`{{${expr}}}`);
    if (!ref) throw new TemplateError(`empty reference in template`);
    const hit =
      ref.kind === "input"
        ? lookupPath(scope.input, ref.path)
        : Object.prototype.hasOwnProperty.call(scope.outputs, ref.taskId)
          ? lookupPath(scope.outputs[ref.taskId], ref.path)
          : { found: false };
    if (!hit.found) throw new TemplateError(`{{${ref.raw}}} has no value`);
    return typeof hit.value === "string" ? hit.value : JSON.stringify(hit.value);
  });
}

/** Renders every string inside a JSON value (tool args). */
export function renderDeep(value: unknown, scope: TemplateScope): unknown {
  if (typeof value === "string") return renderTemplate(value, scope);
  if (Array.isArray(value)) return value.map((v) => renderDeep(v, scope));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDeep(v, scope)]));
  }
  return value;
}

/** Every template string inside a JSON value, with its path (for validation messages). */
export function collectStrings(value: unknown, path: string, out: Array<{ path: string; text: string }> = []) {
  if (typeof value === "string") out.push({ path, text: value });
  else if (Array.isArray(value)) value.forEach((v, i) => collectStrings(v, `${path}[${i}]`, out));
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) collectStrings(v, `${path}.${k}`, out);
  }
  return out;
}
