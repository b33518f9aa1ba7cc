/**
 * The deployed Grafana's content as files it provisions at start (Grafana's file provisioning,
 * apiVersion 1): the data sources of grafana-datasources.ts, a dashboard provider for the folder
 * of `grafana.folder`, and the dashboards' JSON. Rendered as "config" volumes of the Grafana
 * ServiceSpec: on Kubernetes one ConfigMap mounted read-only (its hash on the pod template rolls
 * Grafana when content changes), on Docker files uploaded into the container. `pulumi up` never
 * talks to Grafana. Nothing secret goes in here: a data source needing credentials would take them
 * with `$__env{VAR}` from a secretEnv, never inline.
 */
import { createHash } from "node:crypto";
import { stringify } from "yaml";
import type { RenderedDashboard } from "../../dashboards";
import type { VolumeSpec } from "../service";
import { apexDatasources, type DatasourceUrls } from "./grafana-datasources";

/** Uid of the dashboards' folder, the same whether provisioned from files or through the API. */
export const grafanaFolderUid = "apex";

/** Where the files are mounted. The first two are Grafana's default provisioning folders (GF_PATHS_PROVISIONING). */
export const grafanaProvisioningPaths = {
  datasources: "/etc/grafana/provisioning/datasources",
  dashboardProviders: "/etc/grafana/provisioning/dashboards",
  /** The dashboard provider's `options.path`; outside the data volume, so nothing stale persists there. */
  dashboards: "/etc/grafana/dashboards",
} as const;

/** File name of the data source and dashboard provider files. */
export const provisioningFile = "apex.yaml";

/**
 * Grafana expands `$VAR` / `${VAR}` in every string of a provisioning file (not in dashboard JSON);
 * `$$` is its literal `$`. The Loki derived field and Jaeger's logs query hold Grafana template
 * variables (`${__value.raw}`, `${__trace.traceId}`) that must reach Grafana unexpanded.
 */
export function escapeForProvisioning(value: unknown): unknown {
  if (typeof value === "string") return value.replaceAll("$", "$$$$");
  if (Array.isArray(value)) return value.map(escapeForProvisioning);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeForProvisioning(v)]));
  }
  return value;
}

/** `datasources/apex.yaml`: the three data sources, read-only in the UI. */
export function datasourcesFile(urls: DatasourceUrls): string {
  const datasources = apexDatasources(urls).map((d) => ({
    name: d.name,
    type: d.type,
    uid: d.uid,
    orgId: 1,
    access: "proxy",
    url: d.url,
    isDefault: d.isDefault,
    editable: false,
    jsonData: d.jsonData,
  }));
  return stringify(escapeForProvisioning({ apiVersion: 1, datasources }));
}

/** `dashboards/apex.yaml`: one file provider loading every JSON under the dashboards path into the folder. */
export function dashboardProvidersFile(folderTitle: string): string {
  return stringify(escapeForProvisioning({
    apiVersion: 1,
    providers: [{
      name: "apex",
      orgId: 1,
      type: "file",
      folder: folderTitle,
      folderUid: grafanaFolderUid,
      // Edited in dashboards/ and deployed; the UI can neither save over nor delete them.
      allowUiUpdates: false,
      disableDeletion: true,
      updateIntervalSeconds: 60,
      options: { path: grafanaProvisioningPaths.dashboards, foldersFromFilesStructure: false },
    }],
  }));
}

export interface ProvisioningArgs {
  readonly datasources: DatasourceUrls;
  /** Title of the dashboards' folder (`grafana.folder`). */
  readonly folderTitle: string;
  readonly dashboards: readonly RenderedDashboard[];
}

/** The config volumes Grafana mounts at its provisioning paths. */
export function grafanaProvisioningVolumes(args: ProvisioningArgs): VolumeSpec[] {
  const files = new Set<string>();
  for (const d of args.dashboards) {
    if (files.has(d.file)) throw new Error(`dashboards: two dashboards render to ${d.file}`);
    files.add(d.file);
  }
  // Docker keeps config files in a named volume, where a removed dashboard's file would stay and
  // Grafana would keep showing it: the volume is named after the set of files, so a new set gets
  // a fresh volume (content changes to the same files just overwrite them).
  const set = createHash("sha256").update([...files].sort().join("\n")).digest("hex").slice(0, 8);
  return [
    { kind: "config", name: "provisioning-datasources", mountPath: grafanaProvisioningPaths.datasources, files: { [provisioningFile]: datasourcesFile(args.datasources) } },
    { kind: "config", name: "provisioning-dashboards", mountPath: grafanaProvisioningPaths.dashboardProviders, files: { [provisioningFile]: dashboardProvidersFile(args.folderTitle) } },
    { kind: "config", name: `dashboards-${set}`, mountPath: grafanaProvisioningPaths.dashboards, files: Object.fromEntries(args.dashboards.map((d) => [d.file, d.json])) },
  ];
}
