#!/usr/bin/env node
/**
 * `npm run demo`: submits examples/research.json to a running Apex (default http://localhost:8080,
 * started by `npm start`) and prints its progress to completion with tokens and cost.
 * Key: APEX_API_KEY, else APEX_BOOTSTRAP_ADMIN_KEY, else the key apex-local saved.
 * Options: --url <base URL>, --file <DAG JSON>.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { runtimeEnv } from "../contract/env";
import { services } from "../contract/services";
import { runDemo } from "./demo";
import { localAdminKeyFile } from "./local";

async function apiKey(): Promise<string> {
  const fromEnv = process.env.APEX_API_KEY ?? process.env[runtimeEnv.bootstrapAdminKey];
  if (fromEnv) return fromEnv;
  try {
    return (await readFile(localAdminKeyFile, "utf8")).trim();
  } catch {
    throw new Error(`no API key: set APEX_API_KEY, or start Apex with npm start (it saves its admin key to ${localAdminKeyFile})`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { url: { type: "string" }, file: { type: "string" } } });
  const view = await runDemo({
    baseUrl: values.url ?? `http://localhost:${services.api.httpPort}`,
    apiKey: await apiKey(),
    file: values.file ?? path.resolve(__dirname, "../../../examples/research.json"),
  });
  process.exitCode = view.status === "succeeded" ? 0 : 1;
}

main().catch((err: Error) => {
  process.stderr.write(`demo failed: ${err.message}\n`);
  process.exit(1);
});
