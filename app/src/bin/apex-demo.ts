#!/usr/bin/env node
/**
 * `npm run demo`: submits examples/research.json to a running Apex (default http://localhost:8080,
 * started by `npm start`) and prints its progress to completion with tokens and cost.
 * Key: APEX_API_KEY, else APEX_BOOTSTRAP_ADMIN_KEY, else the admin key apex-local saved.
 * The example's python task needs an operator's approval: the demo approves it with its key and
 * says so ("approving python as admin"). Options: --url <base URL>, --file <DAG JSON>,
 * --no-approve (list pending approvals and wait for someone else to decide).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { runtimeEnv } from "../contract/env";
import { services } from "../contract/services";
import { runDemo } from "./demo";
import { localAdminKeyFile } from "./local";

/** The key and who it belongs to, as far as the demo knows. */
async function apiKey(): Promise<{ key: string; holder: string }> {
  if (process.env.APEX_API_KEY) return { key: process.env.APEX_API_KEY, holder: "the APEX_API_KEY holder" };
  const bootstrap = process.env[runtimeEnv.bootstrapAdminKey];
  if (bootstrap) return { key: bootstrap, holder: "admin" };
  try {
    return { key: (await readFile(localAdminKeyFile, "utf8")).trim(), holder: "admin" };
  } catch {
    throw new Error(`no API key: set APEX_API_KEY, or start Apex with npm start (it saves its admin key to ${localAdminKeyFile})`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { url: { type: "string" }, file: { type: "string" }, "no-approve": { type: "boolean" } } });
  const { key, holder } = await apiKey();
  const view = await runDemo({
    baseUrl: values.url ?? `http://localhost:${services.api.httpPort}`,
    apiKey: key,
    file: values.file ?? path.resolve(__dirname, "../../../examples/research.json"),
    approver: values["no-approve"] ? undefined : holder,
    // Waiting for a person to approve may take a while.
    timeoutMs: values["no-approve"] ? 30 * 60_000 : undefined,
  });
  process.exitCode = view.status === "succeeded" ? 0 : 1;
}

main().catch((err: Error) => {
  process.stderr.write(`demo failed: ${err.message}\n`);
  process.exit(1);
});
