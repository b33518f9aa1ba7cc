/**
 * What Grafana 10.2.3 (the pinned grafana/grafana:10.2.3) reads in a dashboard, as data: the
 * schemaVersion it writes, the panel types we use with the option and field-config keys each has
 * in 10.2.3, and how a data source is referred to. check-dashboard.ts applies it.
 *
 * Sources, all built from Grafana's v10.2.3 tag:
 * - panel options and field config: @grafana/schema@10.2.3 (npm),
 *   dist/esm/raw/composable/<panel>/panelcfg/x/<Panel>PanelCfg_types.gen.d.ts and common/common.gen.d.ts,
 *   generated from public/app/plugins/panel/<panel>/panelcfg.cue (the same files as
 *   github.com/grafana/kind-registry grafana/v10.2.3/composable/<panel>/panelcfg.cue);
 * - dashboard, panel, field config, thresholds, mappings: @grafana/schema@10.2.3
 *   raw/dashboard/x/dashboard_types.gen.d.ts (kinds/dashboard/dashboard_kind.cue);
 * - Prometheus query: @grafana/schema@10.2.3 raw/composable/prometheus/dataquery/x/PrometheusDataQuery_types.gen.d.ts
 *   plus DataQuery of common.gen.d.ts;
 * - data source variable: @grafana/data@10.2.3 DataSourceVariableModel (and the models it extends);
 * - schemaVersion: DASHBOARD_SCHEMA_VERSION of public/app/features/dashboard/state/DashboardMigrator.ts,
 *   39 since grafana/grafana#76801 (in the 10.2.3 release notes; the kind's CUE default, 36, is
 *   not what Grafana writes).
 *
 * A key absent here is one Grafana 10.2.3 does not have: add it only from these sources.
 */

/** Keys an object may have: `true` = any value, a Shape = an object of that shape, `[Shape]` = an array of them; "*" = any key. */
export type Shape = { readonly [key: string]: true | Shape | readonly [Shape] };

const reduceOptions: Shape = { calcs: true, fields: true, limit: true, values: true };
const singleStatBase: Shape = { orientation: true, reduceOptions, text: { titleSize: true, valueSize: true } };
const legend: Shape = { asTable: true, calcs: true, displayMode: true, isVisible: true, placement: true, showLegend: true, sortBy: true, sortDesc: true, width: true };
const tooltip: Shape = { mode: true, sort: true };
const hideFrom: Shape = { hideFrom: { legend: true, tooltip: true, viz: true } };
const axis: Shape = {
  axisBorderShow: true, axisCenteredZero: true, axisColorMode: true, axisGridShow: true, axisLabel: true,
  axisPlacement: true, axisSoftMax: true, axisSoftMin: true, axisWidth: true,
  scaleDistribution: { type: true, log: true, linearThreshold: true },
};
/** common.GraphFieldConfig: line, fill, points, axis, bar, stacking, hideable. */
const graphFieldConfig: Shape = {
  lineColor: true, lineInterpolation: true, lineStyle: { dash: true, fill: true }, lineWidth: true, spanNulls: true,
  fillBelowTo: true, fillColor: true, fillOpacity: true,
  pointColor: true, pointSize: true, pointSymbol: true, showPoints: true,
  ...axis,
  barAlignment: true, barMaxWidth: true, barWidthFactor: true,
  stacking: { group: true, mode: true },
  ...hideFrom,
  drawStyle: true, gradientMode: true, thresholdsStyle: { mode: true }, transform: true,
};

export interface PanelRules {
  /** The panel's `options`. */
  readonly options: Shape;
  /** `fieldConfig.defaults.custom` (the panel's FieldConfig); panels without one have none. */
  readonly custom: Shape;
}

const datasourceRef: Shape = { type: true, uid: true };

export const grafana1023 = {
  version: "10.2.3",
  image: "grafana/grafana:10.2.3",
  schemaVersion: 39,
  dashboard: {
    annotations: { list: true }, description: true, editable: true, fiscalYearStartMonth: true, gnetId: true,
    graphTooltip: true, id: true, links: true, liveNow: true, panels: true, refresh: true, revision: true,
    schemaVersion: true, snapshot: true, tags: true, templating: { list: true }, time: { from: true, to: true },
    timepicker: { hidden: true, refresh_intervals: true, time_options: true }, timezone: true, title: true,
    uid: true, version: true, weekStart: true,
  } satisfies Shape,
  /** dashboard.Panel less options, fieldConfig and targets, which depend on the panel and data source types. */
  panel: {
    datasource: datasourceRef, description: true, gridPos: { h: true, static: true, w: true, x: true, y: true },
    hideTimeOverride: true, id: true, interval: true, libraryPanel: { name: true, uid: true }, links: true,
    maxDataPoints: true, maxPerRow: true, pluginVersion: true, repeat: true, repeatDirection: true, tags: true,
    timeFrom: true, timeShift: true, title: true,
    transformations: [{ disabled: true, filter: { id: true, options: true }, id: true, options: true }], transparent: true, type: true,
  } satisfies Shape,
  /** dashboard.FieldConfig less `custom`. */
  fieldConfigDefaults: {
    color: { fixedColor: true, mode: true, seriesBy: true }, decimals: true, description: true, displayName: true,
    displayNameFromDS: true, filterable: true, links: true,
    mappings: [{ type: true, options: { "*": { color: true, icon: true, index: true, text: true } } }],
    max: true, min: true, noValue: true, path: true,
    thresholds: { mode: true, steps: [{ color: true, value: true }] },
    unit: true, writeable: true,
  } satisfies Shape,
  /** Panel types (plugin ids) with their 10.2.3 option keys; a type not listed is refused. */
  panels: {
    gauge: {
      options: { ...singleStatBase, minVizHeight: true, minVizWidth: true, showThresholdLabels: true, showThresholdMarkers: true, sizing: true },
      custom: {},
    },
    stat: {
      options: { ...singleStatBase, colorMode: true, graphMode: true, justifyMode: true, textMode: true, wideLayout: true },
      custom: {},
    },
    // v10.2.3 bargauge/panelcfg.cue (also grafana/kind-registry grafana/v10.2.3/composable/bargauge/panelcfg.cue): Options only, no FieldConfig.
    bargauge: {
      options: {
        ...singleStatBase, displayMode: true, valueMode: true, namePlacement: true, showUnfilled: true, sizing: true,
        minVizWidth: true, minVizHeight: true, maxVizHeight: true,
      },
      custom: {},
    },
    timeseries: { options: { timezone: true, legend, tooltip }, custom: graphFieldConfig },
    piechart: {
      options: { tooltip, ...singleStatBase, displayLabels: true, legend: { ...legend, values: true }, pieType: true },
      custom: hideFrom,
    },
    barchart: {
      options: {
        legend, tooltip, text: { titleSize: true, valueSize: true },
        barRadius: true, barWidth: true, colorByField: true, fullHighlight: true, groupWidth: true, orientation: true,
        showValue: true, stacking: true, xField: true, xTickLabelMaxLength: true, xTickLabelRotation: true, xTickLabelSpacing: true,
      },
      custom: { ...axis, ...hideFrom, fillOpacity: true, gradientMode: true, lineWidth: true, thresholdsStyle: { mode: true } },
    },
    "state-timeline": {
      options: { legend, tooltip, timezone: true, alignValue: true, mergeValues: true, rowHeight: true, showValue: true },
      custom: { ...hideFrom, fillOpacity: true, lineWidth: true },
    },
  } satisfies Record<string, PanelRules>,
  /** Query keys by data source type. */
  targets: {
    prometheus: {
      refId: true, hide: true, queryType: true, datasource: datasourceRef,
      editorMode: true, exemplar: true, expr: true, format: true, instant: true, intervalFactor: true, legendFormat: true, range: true,
    },
  } satisfies Record<string, Shape>,
  /** Template variables by type. */
  variables: {
    datasource: {
      name: true, label: true, id: true, type: true, rootStateKey: true, global: true, hide: true, skipUrlSync: true,
      index: true, state: true, error: true, description: true, current: true, options: true, query: true,
      multi: true, includeAll: true, allValue: true, regex: true, refresh: true,
    },
  } satisfies Record<string, Shape>,
  /**
   * A data source is referred to by an object { type, uid } (by name, a plain string, is the form
   * schema 33 migrated away from): the uid a `${variable}` of a data source variable of that type,
   * or the uid of a provisioned data source.
   */
  datasourceRef,
} as const;

export type GrafanaRules = typeof grafana1023;
