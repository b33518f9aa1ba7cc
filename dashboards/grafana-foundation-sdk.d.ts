// The SDK publishes its modules only through package.json "exports", which the repository's
// `moduleResolution: node10` ignores; these declarations point the type-checker at the same files
// Node resolves at run time.
declare module "@grafana/grafana-foundation-sdk/dashboard" {
  export * from "@grafana/grafana-foundation-sdk/dist/dashboard";
}
declare module "@grafana/grafana-foundation-sdk/common" {
  export * from "@grafana/grafana-foundation-sdk/dist/common";
}
declare module "@grafana/grafana-foundation-sdk/prometheus" {
  export * from "@grafana/grafana-foundation-sdk/dist/prometheus";
}
declare module "@grafana/grafana-foundation-sdk/timeseries" {
  export * from "@grafana/grafana-foundation-sdk/dist/timeseries";
}
declare module "@grafana/grafana-foundation-sdk/gauge" {
  export * from "@grafana/grafana-foundation-sdk/dist/gauge";
}
declare module "@grafana/grafana-foundation-sdk/stat" {
  export * from "@grafana/grafana-foundation-sdk/dist/stat";
}
declare module "@grafana/grafana-foundation-sdk/piechart" {
  export * from "@grafana/grafana-foundation-sdk/dist/piechart";
}
declare module "@grafana/grafana-foundation-sdk/barchart" {
  export * from "@grafana/grafana-foundation-sdk/dist/barchart";
}
declare module "@grafana/grafana-foundation-sdk/bargauge" {
  export * from "@grafana/grafana-foundation-sdk/dist/bargauge";
}
declare module "@grafana/grafana-foundation-sdk/cog" {
  export * from "@grafana/grafana-foundation-sdk/dist/cog";
}
declare module "@grafana/grafana-foundation-sdk/statetimeline" {
  export * from "@grafana/grafana-foundation-sdk/dist/statetimeline";
}
