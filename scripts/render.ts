/**
 * `npm run render -- --stack dev|prod`: writes the stack's generated Prometheus config, alert rule
 * files (+ their promtool tests), Alertmanager config (secrets as placeholders) and dashboard JSON
 * to out/<stack>/, for review and for promtool.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { renderStackFiles } from "../components/observability/render";
import { stackSettingsFromFile } from "../components/observability/settings";

const projectDir = resolve(__dirname, "..");

function main(): void {
  const { values } = parseArgs({ options: { stack: { type: "string" }, out: { type: "string" } } });
  const stack = values.stack;
  if (!stack || !/^[A-Za-z0-9_.-]+$/.test(stack)) {
    throw new Error(`--stack: expected a stack name such as "dev" or "prod", got ${stack === undefined ? "nothing" : `"${stack}"`}`);
  }
  const outDir = resolve(values.out ?? join(projectDir, "out", stack));
  const { settings, platform } = stackSettingsFromFile(stack, projectDir);
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
  console.error(`render: ${(e as Error).message}`);
  process.exit(1);
}
