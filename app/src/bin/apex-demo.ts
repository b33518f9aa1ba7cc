#!/usr/bin/env node
/**
 * `npm run demo`: submits examples/research.json to a running Apex (the one `npm start` runs, found
 * through its instance file; see demo-target.ts for the order of --url, APEX_HTTP_PORT and
 * --data-dir, and for the key) and prints its progress to completion with tokens and cost.
 * The example's python task needs an operator's approval: the demo approves it with its key and
 * says so ("approving python as admin"). Then it shows a DAG stopped by its budget:
 * examples/budget-capped.json, whose $0.001 fits its first LLM call's worst case but not the
 * second's (budget_exceeded; the rest skipped), with the DAG's budget line. It exits 0 when the
 * research DAG succeeded and the budget stopped the other one.
 * Options: --url <base URL>, --data-dir <dir of npm start>, --file <DAG JSON> (runs that file
 * only, without the budget part; exit 0 when it succeeds), --no-approve (list pending approvals and
 * wait for someone else to decide). Paths are relative to the directory the command was typed in.
 * Every error names the URL tried.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { runtimeEnv } from "../contract/env";
import { ApexHttpError, ApexUnreachableError, assertReachable, runDemo, stoppedByBudget } from "./demo";
import { resolveDemoTarget, type DemoTarget } from "./demo-target";
import { resolveUserPath } from "./user-path";

const examples = path.resolve(__dirname, "../../../examples");
const defaultDag = path.join(examples, "research.json");
const budgetDag = path.join(examples, "budget-capped.json");

/** The error, plus what the user can do about it. */
function explain(err: Error, target: DemoTarget): string {
  if (err instanceof ApexUnreachableError) {
    const instance = target.instance;
    const exited = instance && !instance.running;
    const restart = exited && instance.record.dataDir ? `npm start -- --data-dir ${instance.record.dataDir}` : "npm start";
    return [
      `${err.message} — is npm start running?`,
      `  The URL came from ${target.urlFrom}.`,
      ...(exited ? [`  The npm start that wrote ${instance.file} (pid ${instance.record.pid}) has exited.`] : []),
      `  Start Apex with ${restart}, or point the demo at a running one: --url <base URL>, --data-dir <its data dir>, or ${runtimeEnv.httpPort}=<port>.`,
    ].join("\n");
  }
  if (err instanceof ApexHttpError && err.status === 401) {
    return `${err.message}\n  (Apex at ${target.baseUrl} refused the key from ${target.keyFrom ?? "?"})`;
  }
  return err.message;
}

async function demo(target: DemoTarget, values: { file?: string; "no-approve"?: boolean }): Promise<boolean> {
  if (!target.apiKey) {
    await assertReachable(target.baseUrl);
    const looked = target.instance
      ? `${target.instance.file} holds no key`
      : `there is no instance file of npm start${target.lookedAt ? ` at ${target.lookedAt}` : ""}; if Apex runs with --data-dir, pass the same --data-dir to the demo`;
    throw new Error(`no API key for ${target.baseUrl}: set APEX_API_KEY or ${runtimeEnv.bootstrapAdminKey} (${looked})`);
  }
  const view = await runDemo({
    baseUrl: target.baseUrl,
    apiKey: target.apiKey,
    file: values.file === undefined ? defaultDag : resolveUserPath(values.file),
    approver: values["no-approve"] ? undefined : target.keyHolder,
    // Waiting for a person to approve may take a while.
    timeoutMs: values["no-approve"] ? 30 * 60_000 : undefined,
  });
  if (values.file !== undefined) return view.status === "succeeded";

  process.stdout.write(`\nA DAG stopped by its budget (examples/budget-capped.json):\n`);
  const capped = await runDemo({ baseUrl: target.baseUrl, apiKey: target.apiKey, file: budgetDag });
  return view.status === "succeeded" && stoppedByBudget(capped);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { url: { type: "string" }, "data-dir": { type: "string" }, file: { type: "string" }, "no-approve": { type: "boolean" } },
  });
  const target = await resolveDemoTarget({ url: values.url, dataDir: values["data-dir"] });
  for (const note of target.notes) process.stderr.write(`note: ${note}\n`);
  try {
    process.exitCode = (await demo(target, values)) ? 0 : 1;
  } catch (err) {
    throw new Error(explain(err as Error, target), { cause: err });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`demo failed: ${err.message}\n`);
  process.exit(1);
});
