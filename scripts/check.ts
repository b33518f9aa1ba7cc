/**
 * `npm run check -- --stack dev|prod` (or `--file <path>`): validates a stack's `apex:` config
 * without the Pulumi CLI, with the rules and the error text of `pulumi preview`. Prints one line
 * when it is valid; otherwise every problem, and exits non-zero.
 */
import { parseArgs } from "node:util";
import { exitWithError, loadStackConfig, stackArgOptions } from "./stack-config";

function main(): void {
  const { values } = parseArgs({ options: stackArgOptions });
  const { file, config, keyCount, encryptedCount, notes } = loadStackConfig(values);
  const secure = encryptedCount > 0 ? `, ${encryptedCount} secure (not decrypted here)` : "";
  console.log(`${file}: apex config valid (environment ${config.environment}, target ${config.target}, ${keyCount} keys${secure})`);
  for (const note of notes) console.error(`note: ${note}`);
}

try {
  main();
} catch (e) {
  exitWithError("check", e);
}
