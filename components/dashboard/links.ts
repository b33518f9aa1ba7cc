/**
 * The console's links out of Apex (GET /v1/me `links`): a DAG's trace in Jaeger and its logs in
 * Grafana, as URL templates the API hands out (APEX_TRACE_URL_TEMPLATE, APEX_LOGS_URL_TEMPLATE).
 * The console fills `{trace_id}`, `{dag_id}` and `{task_id}` in, URL-encoded; everything else in a
 * template is already a finished URL.
 */
import { runtimeEnv, services } from "../../app/src/contract";
import type { ApexConfig } from "../../config";
import { datasourceUids } from "../observability/grafana-datasources";

/** Where a browser opens the UIs; a UI without an address a browser can reach gets no links. */
export interface BrowserUiUrls {
  readonly jaegerUrl?: string;
  readonly grafanaUrl?: string;
}

export interface ConsoleLinkTemplates {
  readonly traceUrlTemplate?: string;
  readonly logsUrlTemplate?: string;
}

/** How far back the logs link looks: the prod log retention (apex:observability.logRetention default). */
export const LOGS_LINK_RANGE = "now-7d";

/**
 * LogQL for one DAG's log lines from the runtime: Promtail (docker) and Alloy (kubernetes) label
 * lines with `service_name` (the app.kubernetes.io/name label), and every line logged inside a
 * DAG's work carries `"dag_id":"<id>"` (pino JSON; the logger's baggage mixin,
 * app/src/telemetry/logger.ts). A line filter on exactly that (a raw string, no escaping) is cheap
 * and precise, and names the DAG once, so the console fills one placeholder; `json` then shows
 * the fields.
 */
export const dagLogQuery = (dagId: string): string =>
  `{service_name=~"${services.api.name}|${services.worker.name}"} |= \`"dag_id":"${dagId}"\` | json`;

const withoutTrailingSlash = (url: string): string => url.replace(/\/+$/, "");

/**
 * The templates for where the UIs are. Grafana's is an Explore URL on the stack's Loki data
 * source (its uid is fixed: grafana-datasources.ts) with `left` URL-encoded as Grafana expects,
 * `{dag_id}` left in place for the console.
 */
export function consoleLinkTemplates(urls: BrowserUiUrls): ConsoleLinkTemplates {
  const marker = "APEXDAGIDPLACEHOLDER";
  const logsUrlTemplate = urls.grafanaUrl === undefined ? undefined : (() => {
    const pane = {
      datasource: datasourceUids.loki,
      queries: [{ refId: "A", datasource: { type: "loki", uid: datasourceUids.loki }, expr: dagLogQuery(marker), queryType: "range" }],
      range: { from: LOGS_LINK_RANGE, to: "now" },
    };
    const left = encodeURIComponent(JSON.stringify(pane)).replaceAll(marker, "{dag_id}");
    return `${withoutTrailingSlash(urls.grafanaUrl)}/explore?orgId=1&left=${left}`;
  })();
  return {
    ...(urls.jaegerUrl === undefined ? {} : { traceUrlTemplate: `${withoutTrailingSlash(urls.jaegerUrl)}/trace/{trace_id}` }),
    ...(logsUrlTemplate === undefined ? {} : { logsUrlTemplate }),
  };
}

/** The templates as apex-api env; a link that is not configured is left out (the console hides it). */
export function consoleLinkEnv(urls: BrowserUiUrls): Record<string, string> {
  const t = consoleLinkTemplates(urls);
  return {
    ...(t.traceUrlTemplate === undefined ? {} : { [runtimeEnv.traceUrlTemplate]: t.traceUrlTemplate }),
    ...(t.logsUrlTemplate === undefined ? {} : { [runtimeEnv.logsUrlTemplate]: t.logsUrlTemplate }),
  };
}

/**
 * Where the stack puts Jaeger's and Grafana's UIs for a browser, from config alone (the runtime is
 * declared before observability): docker publishes them on apex:docker.publishAddress; on
 * kubernetes only an Ingress host (apex:observability.hosts) or Grafana's configured URL is
 * reachable from outside the cluster. The same addresses as the jaegerUrl/grafanaUrl outputs.
 */
export function browserUiUrls(config: Pick<ApexConfig, "target" | "docker" | "ingress" | "observability">): BrowserUiUrls {
  const o = config.observability;
  if (config.target === "docker") {
    const published = (port: number) => `http://${config.docker.publishAddress}:${port}`;
    return { jaegerUrl: published(services.jaeger.uiPort), grafanaUrl: o.grafana.url ?? published(services.grafana.devHostPort) };
  }
  const scheme = config.ingress.tls ? "https" : "http";
  const routed = (host: string | undefined) => (host === undefined ? undefined : `${scheme}://${host}`);
  return {
    jaegerUrl: routed(o.hosts.jaeger),
    grafanaUrl: o.grafana.url ?? (o.grafana.deploy ? routed(o.hosts.grafana) : undefined),
  };
}
