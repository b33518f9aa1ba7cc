/**
 * How Grafana reads provisioning files (apiVersion 1), as data and one function, for the tests
 * that render them: the fields its v1 data source and dashboard provider structs take
 * (pkg/services/provisioning/{datasources,dashboards}), and the interpolation it runs on every
 * string of those files before use (pkg/services/provisioning/values: split on "$$", expand
 * `$__env{}`/`$__file{}`/`$__vault{}` and `$VAR`/`${VAR}` in each part, join with "$").
 */
import { parse } from "yaml";

export const datasourceFileFields = ["apiVersion", "datasources", "deleteDatasources"];
export const datasourceFields = ["orgId", "orgName", "version", "name", "type", "access", "url", "user", "database", "basicAuth", "basicAuthUser", "withCredentials", "isDefault", "correlations", "jsonData", "secureJsonData", "editable", "uid"];
export const providerFileFields = ["apiVersion", "providers"];
export const providerFields = ["name", "type", "orgId", "folder", "folderUid", "editable", "disableDeletion", "updateIntervalSeconds", "allowUiUpdates", "options"];
export const fileProviderOptions = ["path", "foldersFromFilesStructure"];

/** Grafana's expansion of one string, with `env` as the process environment (default: empty). */
export function grafanaInterpolate(value: string, env: Readonly<Record<string, string>> = {}): string {
  return value
    .split("$$")
    .map((part) => part
      .replace(/\$__(env|file|vault)\{([^}]*)\}/g, (_m, kind: string, arg: string) => (kind === "env" ? env[arg] ?? "" : `<${kind}:${arg}>`))
      .replace(/\$\{([^}]*)\}|\$([A-Za-z0-9_]+)/g, (_m, braced: string | undefined, bare: string | undefined) => env[braced ?? bare ?? ""] ?? ""))
    .join("$");
}

/** Every string of a parsed file interpolated, as Grafana uses it. */
export function interpolated(value: unknown, env: Readonly<Record<string, string>> = {}): unknown {
  if (typeof value === "string") return grafanaInterpolate(value, env);
  if (Array.isArray(value)) return value.map((v) => interpolated(v, env));
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolated(v, env)]));
  return value;
}

const unknownKeys = (o: Record<string, unknown>, allowed: readonly string[], at: string): string[] =>
  Object.keys(o).filter((k) => !allowed.includes(k)).map((k) => `${at}.${k}: not a field Grafana reads`);

/** Problems Grafana would have with a data source file; empty when it loads as written. */
export function datasourceFileProblems(text: string): string[] {
  const file = parse(text) as Record<string, unknown>;
  const out = unknownKeys(file, datasourceFileFields, "file");
  if (file.apiVersion !== 1) out.push(`file.apiVersion: ${JSON.stringify(file.apiVersion)}, expected 1`);
  const list = file.datasources as Record<string, unknown>[] | undefined;
  if (!Array.isArray(list) || list.length === 0) return [...out, "file.datasources: expected a non-empty list"];
  list.forEach((d, i) => {
    out.push(...unknownKeys(d, datasourceFields, `datasources[${i}]`));
    for (const k of ["name", "type", "uid", "url"]) if (typeof d[k] !== "string" || d[k] === "") out.push(`datasources[${i}].${k}: required`);
    if (d.access !== "proxy" && d.access !== "direct") out.push(`datasources[${i}].access: ${JSON.stringify(d.access)}`);
  });
  if (list.filter((d) => d.isDefault === true).length > 1) out.push("datasources: more than one isDefault");
  return out;
}

/** Problems Grafana would have with a dashboard provider file. */
export function providerFileProblems(text: string): string[] {
  const file = parse(text) as Record<string, unknown>;
  const out = unknownKeys(file, providerFileFields, "file");
  if (file.apiVersion !== 1) out.push(`file.apiVersion: ${JSON.stringify(file.apiVersion)}, expected 1`);
  const list = file.providers as Record<string, unknown>[] | undefined;
  if (!Array.isArray(list) || list.length === 0) return [...out, "file.providers: expected a non-empty list"];
  list.forEach((p, i) => {
    out.push(...unknownKeys(p, providerFields, `providers[${i}]`));
    if (typeof p.name !== "string" || p.name === "") out.push(`providers[${i}].name: required`);
    if (p.type !== "file") out.push(`providers[${i}].type: ${JSON.stringify(p.type)}, expected "file"`);
    const options = (p.options ?? {}) as Record<string, unknown>;
    out.push(...unknownKeys(options, fileProviderOptions, `providers[${i}].options`));
    if (typeof options.path !== "string" || !options.path.startsWith("/")) out.push(`providers[${i}].options.path: expected an absolute path`);
  });
  return out;
}
