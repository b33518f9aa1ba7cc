/**
 * What an EXTERNAL Grafana (`grafana.deploy: false`) shows, provisioned through its API with
 * @pulumiverse/grafana and an explicit provider: the folder, the data sources of
 * grafana-datasources.ts, the dashboards. `pulumi up` must reach that Grafana's URL. The Grafana
 * this stack deploys reads the same content from files instead (grafana-provisioning.ts).
 */
import * as grafana from "@pulumiverse/grafana";
import * as pulumi from "@pulumi/pulumi";
import type { RenderedDashboard } from "../../dashboards";
import { apexDatasources, type DatasourceKey, type DatasourceUrls } from "./grafana-datasources";
import { grafanaFolderUid } from "./grafana-provisioning";

export { datasourceUids, traceIdMatcher } from "./grafana-datasources";

export interface GrafanaContentArgs {
  /** Grafana base URL as seen from where `pulumi up` runs. */
  readonly url: pulumi.Input<string>;
  /** `user:password` basic auth (secret). */
  readonly auth: pulumi.Input<string>;
  readonly folderTitle: string;
  /** Data source URLs as Grafana's server reaches them (this stack's service names and ports). */
  readonly datasources: DatasourceUrls;
  readonly dashboards: readonly RenderedDashboard[];
}

export class GrafanaContent extends pulumi.ComponentResource {
  public readonly provider: grafana.Provider;
  public readonly folder: grafana.oss.Folder;
  public readonly datasources: Record<DatasourceKey, grafana.oss.DataSource>;
  public readonly dashboards: grafana.oss.Dashboard[];

  constructor(name: string, args: GrafanaContentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("apex:observability:GrafanaContent", name, {}, opts);
    this.provider = new grafana.Provider(`${name}-provider`, { url: args.url, auth: pulumi.secret(args.auth), retries: 10 }, { parent: this });
    const child = { parent: this, provider: this.provider };

    this.folder = new grafana.oss.Folder(`${name}-folder`, { title: args.folderTitle, uid: grafanaFolderUid }, child);

    const created = apexDatasources(args.datasources).map((d) => [d.key, new grafana.oss.DataSource(`${name}-${d.key}`, {
      type: d.type,
      name: d.name,
      uid: d.uid,
      url: d.url,
      accessMode: "proxy",
      ...(d.isDefault ? { isDefault: true } : {}),
      jsonDataEncoded: JSON.stringify(d.jsonData),
    }, child)] as const);
    this.datasources = Object.fromEntries(created) as Record<DatasourceKey, grafana.oss.DataSource>;

    this.dashboards = args.dashboards.map((d) => new grafana.oss.Dashboard(`${name}-${d.uid}`, {
      configJson: d.json,
      folder: this.folder.uid,
      overwrite: true,
      message: "Managed by Pulumi (dashboards/)",
    }, { ...child, dependsOn: [this.datasources.prometheus] }));

    this.registerOutputs({ folder: this.folder.uid });
  }
}
