/**
 * What Grafana shows, provisioned through its API with @pulumiverse/grafana and an explicit
 * provider: a folder, the Prometheus / Jaeger / Loki data sources linked on trace_id (Loki log
 * line -> Jaeger trace; Jaeger span -> Loki logs; Prometheus exemplar -> Jaeger), the dashboards.
 */
import * as grafana from "@pulumiverse/grafana";
import * as pulumi from "@pulumi/pulumi";
import type { RenderedDashboard } from "../../dashboards";

/** Stable data source uids: dashboards and the trace links refer to them. */
export const datasourceUids = { prometheus: "apex-prometheus", jaeger: "apex-jaeger", loki: "apex-loki" } as const;

export interface GrafanaContentArgs {
  /** Grafana base URL as seen from where `pulumi up` runs. */
  readonly url: pulumi.Input<string>;
  /** `user:password` basic auth (secret). */
  readonly auth: pulumi.Input<string>;
  readonly folderTitle: string;
  /** Data source URLs as Grafana's server reaches them (this stack's service names and ports). */
  readonly datasources: { readonly prometheus: string; readonly jaeger: string; readonly loki: string };
  readonly dashboards: readonly RenderedDashboard[];
}

/** Loki derived field: the runtime's JSON logs carry "trace_id":"<32 hex>". */
export const traceIdMatcher = '"trace_id":"([0-9a-f]{32})"';

export class GrafanaContent extends pulumi.ComponentResource {
  public readonly provider: grafana.Provider;
  public readonly folder: grafana.oss.Folder;
  public readonly datasources: Record<keyof typeof datasourceUids, grafana.oss.DataSource>;
  public readonly dashboards: grafana.oss.Dashboard[];

  constructor(name: string, args: GrafanaContentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:observability:GrafanaContent", name, {}, opts);
    this.provider = new grafana.Provider(`${name}-provider`, { url: args.url, auth: pulumi.secret(args.auth), retries: 10 }, { parent: this });
    const child = { parent: this, provider: this.provider };

    this.folder = new grafana.oss.Folder(`${name}-folder`, { title: args.folderTitle, uid: "apex" }, child);

    const prometheus = new grafana.oss.DataSource(`${name}-prometheus`, {
      type: "prometheus",
      name: "Prometheus",
      uid: datasourceUids.prometheus,
      url: args.datasources.prometheus,
      accessMode: "proxy",
      isDefault: true,
      jsonDataEncoded: JSON.stringify({
        httpMethod: "POST",
        timeInterval: "15s",
        exemplarTraceIdDestinations: [{ name: "trace_id", datasourceUid: datasourceUids.jaeger }],
      }),
    }, child);
    const loki = new grafana.oss.DataSource(`${name}-loki`, {
      type: "loki",
      name: "Loki",
      uid: datasourceUids.loki,
      url: args.datasources.loki,
      accessMode: "proxy",
      jsonDataEncoded: JSON.stringify({
        maxLines: 1000,
        derivedFields: [{ name: "TraceID", matcherRegex: traceIdMatcher, datasourceUid: datasourceUids.jaeger, url: "${__value.raw}", urlDisplayLabel: "Open trace in Jaeger" }],
      }),
    }, child);
    const jaeger = new grafana.oss.DataSource(`${name}-jaeger`, {
      type: "jaeger",
      name: "Jaeger",
      uid: datasourceUids.jaeger,
      url: args.datasources.jaeger,
      accessMode: "proxy",
      jsonDataEncoded: JSON.stringify({
        tracesToLogsV2: {
          datasourceUid: datasourceUids.loki,
          spanStartTimeShift: "-5m",
          spanEndTimeShift: "5m",
          filterByTraceID: false,
          filterBySpanID: false,
          customQuery: true,
          query: '{service_name=~"apex-.+"} | json | trace_id="${__trace.traceId}"',
        },
      }),
    }, child);
    this.datasources = { prometheus, loki, jaeger };

    this.dashboards = args.dashboards.map((d) => new grafana.oss.Dashboard(`${name}-${d.uid}`, {
      configJson: d.json,
      folder: this.folder.uid,
      overwrite: true,
      message: "Managed by Pulumi (dashboards/)",
    }, { ...child, dependsOn: [prometheus] }));

    this.registerOutputs({ folder: this.folder.uid });
  }
}
