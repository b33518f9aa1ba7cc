/**
 * Checks a dashboard model against a Grafana version's rules (grafana-10.2.3.ts): returns one
 * problem per field the version does not know, wrong schemaVersion, unknown panel type or query
 * type, and data source reference that is not a uid Grafana can resolve. Empty: Grafana reads it.
 */
import type { GrafanaRules, Shape } from "./grafana-10.2.3";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Fields of `value` that `shape` does not allow, as "path: why". */
export function shapeProblems(value: unknown, shape: Shape, path: string, version: string): string[] {
  if (!isObject(value)) return [`${path}: expected an object, got ${JSON.stringify(value)}`];
  const out: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    const spec = shape[key] ?? shape["*"];
    const at = `${path}.${key}`;
    if (spec === undefined) out.push(`${at}: not a field of Grafana ${version}`);
    else if (spec === true) continue;
    else if (Array.isArray(spec)) {
      if (!Array.isArray(v)) out.push(`${at}: expected an array`);
      else v.forEach((item, i) => out.push(...shapeProblems(item, spec[0] as Shape, `${at}[${i}]`, version)));
    } else out.push(...shapeProblems(v, spec as Shape, at, version));
  }
  return out;
}

export interface CheckOptions {
  /** Uids of the data sources provisioned next to the dashboards (referable without a variable). */
  readonly datasourceUids?: readonly string[];
}

export function grafanaProblems(model: unknown, rules: GrafanaRules, opts: CheckOptions = {}): string[] {
  const v = rules.version;
  if (!isObject(model)) return ["dashboard: expected an object"];
  const name = typeof model.uid === "string" ? model.uid : "dashboard";
  const out = shapeProblems(model, rules.dashboard, name, v);
  if (model.schemaVersion !== rules.schemaVersion) {
    out.push(`${name}.schemaVersion: ${JSON.stringify(model.schemaVersion)}, Grafana ${v} writes ${rules.schemaVersion}`);
  }

  // Data source variables by name, with the data source type each selects.
  const variables = isObject(model.templating) && Array.isArray(model.templating.list) ? model.templating.list : [];
  const dsVariables = new Map<string, unknown>();
  variables.forEach((variable, i) => {
    const at = `${name}.templating.list[${i}]`;
    const type = isObject(variable) ? variable.type : undefined;
    const shape = typeof type === "string" ? (rules.variables as Record<string, Shape>)[type] : undefined;
    if (!shape) return out.push(`${at}: no rules for variable type ${JSON.stringify(type)} in Grafana ${v}`);
    out.push(...shapeProblems(variable, shape, at, v));
    if (type === "datasource" && isObject(variable)) dsVariables.set(String(variable.name), variable.query);
  });

  const refProblems = (ref: unknown, at: string, queryType?: string): string[] => {
    if (ref === undefined) return [];
    if (!isObject(ref)) return [`${at}: a data source is referred to by { type, uid }, not ${JSON.stringify(ref)}`];
    const problems = shapeProblems(ref, rules.datasourceRef, at, v);
    const { type, uid } = ref;
    if (typeof uid !== "string" || uid === "") return [...problems, `${at}.uid: missing`];
    if (queryType !== undefined && type !== queryType) problems.push(`${at}.type: ${JSON.stringify(type)}, the query is ${queryType}`);
    const variable = /^\$\{(\w+)\}$|^\$(\w+)$/.exec(uid);
    if (variable) {
      const varName = variable[1] ?? variable[2]!;
      if (!dsVariables.has(varName)) problems.push(`${at}.uid: ${uid} is not a data source variable of the dashboard`);
      else if (dsVariables.get(varName) !== type) problems.push(`${at}.uid: ${uid} selects ${JSON.stringify(dsVariables.get(varName))} data sources, not ${JSON.stringify(type)}`);
    } else if (!(opts.datasourceUids ?? []).includes(uid)) {
      problems.push(`${at}.uid: ${JSON.stringify(uid)} is neither a data source variable nor a provisioned data source`);
    }
    return problems;
  };

  const panels = Array.isArray(model.panels) ? model.panels : [];
  panels.forEach((panel, i) => {
    const title = isObject(panel) && typeof panel.title === "string" ? panel.title : `panels[${i}]`;
    const at = `${name} / ${title}`;
    if (!isObject(panel)) return out.push(`${at}: expected an object`);
    const type = String(panel.type);
    const panelRules = (rules.panels as Record<string, { options: Shape; custom: Shape }>)[type];
    if (!panelRules) return out.push(`${at}: panel type ${JSON.stringify(type)} has no rules for Grafana ${v}`);
    const { options, fieldConfig, targets, ...rest } = panel;
    out.push(...shapeProblems(rest, rules.panel, at, v));
    if (options !== undefined) out.push(...shapeProblems(options, panelRules.options, `${at}: options`, v));
    if (fieldConfig !== undefined) {
      const { defaults, overrides, ...other } = isObject(fieldConfig) ? fieldConfig : {};
      out.push(...Object.keys(other).map((k) => `${at}: fieldConfig.${k}: not a field of Grafana ${v}`));
      if (overrides !== undefined && !Array.isArray(overrides)) out.push(`${at}: fieldConfig.overrides: expected an array`);
      if (defaults !== undefined) {
        const { custom, ...standard } = isObject(defaults) ? defaults : {};
        out.push(...shapeProblems(standard, rules.fieldConfigDefaults, `${at}: fieldConfig.defaults`, v));
        if (custom !== undefined) out.push(...shapeProblems(custom, panelRules.custom, `${at}: fieldConfig.defaults.custom`, v));
      }
    }
    out.push(...refProblems(rest.datasource, `${at}: datasource`));
    const queries = Array.isArray(targets) ? targets : [];
    queries.forEach((target, j) => {
      const tat = `${at}: targets[${j}]`;
      const ref = isObject(target) ? target.datasource : undefined;
      if (ref !== undefined && !isObject(ref)) return out.push(...refProblems(ref, `${tat}.datasource`));
      const refType = isObject(ref) ? ref.type : isObject(rest.datasource) ? rest.datasource.type : undefined;
      const shape = typeof refType === "string" ? (rules.targets as Record<string, Shape>)[refType] : undefined;
      if (!shape) return out.push(`${tat}: no rules for queries of data source type ${JSON.stringify(refType)} in Grafana ${v}`);
      out.push(...shapeProblems(target, shape, tat, v), ...refProblems(ref, `${tat}.datasource`, refType as string));
    });
  });
  return out;
}
