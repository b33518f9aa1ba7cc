/**
 * `npm run render -- --stack dev|prod` (or `--file <path>`): validates the stack's config as
 * `pulumi preview` would (refusing an invalid one before writing anything), then writes its
 * generated Prometheus config, alert rule files (+ their promtool tests), Alertmanager config
 * (secrets as placeholders) and dashboard JSON to out/<stack>/, for review and for promtool.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { renderStackFiles } from "../components/observability/render";
import { exitWithError, projectDir, stackArgOptions, stackObservability } from "./stack-config";

function main(): void {
  const { values } = parseArgs({ options: { ...stackArgOptions, out: { type: "string" } } });
  const { stack, settings, platform, notes } = stackObservability(values);
  for (const note of notes) console.error(`note: ${note}`);
  const outDir = resolve(values.out ?? join(projectDir, "out", stack));
  const files = renderStackFiles({ stack, settings, platform });
  for (const sub of ["rules", "rules-tests", "dashboards"]) rmSync(join(outDir, sub), { recursive: true, force: true });
  for (const [path, content] of Object.entries(files)) {
    const target = join(outDir, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
  console.log(`wrote ${Object.keys(files).length} files to ${outDir}:\n  ${Object.keys(files).sort().join("\n  ")}`);
  console.log(`check them with: promtool check config ${join(outDir, "prometheus.yml")} && promtool test rules ${join(outDir, "rules-tests/apex-alerts.test.yml")}`);
}

try {
  main();
} catch (e) {
  exitWithError("render", e);
}
