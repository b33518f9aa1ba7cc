/**
 * Links out of Apex (Jaeger, Grafana) from the URL templates GET /v1/me returns: `{trace_id}`,
 * `{dag_id}` and `{task_id}` are replaced by URL-encoded values. No template, or a placeholder
 * without a value, means no link: a link to the wrong trace is worse than none.
 */
import type { Me } from "../../api/types";

export interface LinkValues {
  readonly trace_id?: string;
  readonly dag_id?: string;
  /** For a DAG's own logs link there is no task: `{task_id}` becomes empty. */
  readonly task_id?: string;
}

const placeholder = /\{(trace_id|dag_id|task_id)\}/g;

/** The template filled in, or undefined when it is absent or needs a value we do not have. */
export function fillTemplate(template: string | undefined, values: LinkValues, optional: ReadonlyArray<keyof LinkValues> = []): string | undefined {
  if (!template) return undefined;
  let missing = false;
  const url = template.replace(placeholder, (_match, name: keyof LinkValues) => {
    const value = values[name];
    if (value === undefined || value === "") {
      if (!optional.includes(name)) missing = true;
      return "";
    }
    return encodeURIComponent(value);
  });
  return missing ? undefined : url;
}

export function traceUrl(links: Me["links"], traceId: string | undefined): string | undefined {
  if (!traceId) return undefined;
  return fillTemplate(links.trace_url_template, { trace_id: traceId });
}

/** Logs of a whole DAG (no task_id) or of one of its tasks. */
export function logsUrl(links: Me["links"], values: { dag_id: string; trace_id?: string; task_id?: string }): string | undefined {
  return fillTemplate(links.logs_url_template, values, values.task_id === undefined ? ["task_id"] : []);
}

/** An external link: new tab (the arrow says so to sighted readers), no opener, no referrer. */
export function ExternalLink({ href, children }: { href: string; children: string }) {
  return (
    <a href={href} target="_blank" rel="noopener noreferrer" title="Opens in a new tab">
      {children}
      <span aria-hidden="true"> ↗</span>
    </a>
  );
}
