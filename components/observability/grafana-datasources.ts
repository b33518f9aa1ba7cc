/**
 * The three data sources Grafana shows, described once for both ways they reach Grafana (files
 * the deployed Grafana provisions at start, grafana-provisioning.ts; the API of an external
 * Grafana, grafana-content.ts): Prometheus, Loki and Jaeger linked on trace_id (Prometheus
 * exemplar -> Jaeger; Loki log line -> Jaeger trace; Jaeger span -> Loki logs).
 */

/** Stable data source uids: dashboards and the trace links refer to them. */
export const datasourceUids = { prometheus: "apex-prometheus", jaeger: "apex-jaeger", loki: "apex-loki" } as const;

export type DatasourceKey = keyof typeof datasourceUids;

/** Data source URLs as Grafana's server reaches them (this stack's service names and ports). */
export type DatasourceUrls = Readonly<Record<DatasourceKey, string>>;

/** Loki derived field: the runtime's JSON logs carry "trace_id":"<32 hex>". */
export const traceIdMatcher = '"trace_id":"([0-9a-f]{32})"';

export interface ApexDatasource {
  readonly key: DatasourceKey;
  readonly type: "prometheus" | "loki" | "jaeger";
  readonly name: string;
  readonly uid: string;
  readonly url: string;
  readonly isDefault: boolean;
  /** Grafana's `jsonData`. Strings may hold Grafana template variables (`${__value.raw}`). */
  readonly jsonData: Readonly<Record<string, unknown>>;
}

export function apexDatasources(urls: DatasourceUrls): ApexDatasource[] {
  return [
    {
      key: "prometheus",
      type: "prometheus",
      name: "Prometheus",
      uid: datasourceUids.prometheus,
      url: urls.prometheus,
      isDefault: true,
      jsonData: {
        httpMethod: "POST",
        timeInterval: "15s",
        exemplarTraceIdDestinations: [{ name: "trace_id", datasourceUid: datasourceUids.jaeger }],
      },
    },
    {
      key: "loki",
      type: "loki",
      name: "Loki",
      uid: datasourceUids.loki,
      url: urls.loki,
      isDefault: false,
      jsonData: {
        maxLines: 1000,
        derivedFields: [{ name: "TraceID", matcherRegex: traceIdMatcher, datasourceUid: datasourceUids.jaeger, url: "${__value.raw}", urlDisplayLabel: "Open trace in Jaeger" }],
      },
    },
    {
      key: "jaeger",
      type: "jaeger",
      name: "Jaeger",
      uid: datasourceUids.jaeger,
      url: urls.jaeger,
      isDefault: false,
      jsonData: {
        tracesToLogsV2: {
          datasourceUid: datasourceUids.loki,
          spanStartTimeShift: "-5m",
          spanEndTimeShift: "5m",
          filterByTraceID: false,
          filterBySpanID: false,
          customQuery: true,
          query: '{service_name=~"apex-.+"} | json | trace_id="${__trace.traceId}"',
        },
      },
    },
  ];
}
