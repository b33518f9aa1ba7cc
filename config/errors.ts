import * as pulumi from "@pulumi/pulumi";

/** One thing wrong with the stack config: the key (`apex:a.b`), what it expects, what was given. */
export interface ConfigProblem {
  readonly key: string;
  readonly message: string;
}

/**
 * Stops `pulumi preview`/`up` with every config problem at once, one line each, and no stack
 * trace (RunError is printed by the CLI as a plain message).
 */
export class ConfigError extends pulumi.RunError {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      `Invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  ${p.key}: ${p.message}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

const MAX_SHOWN = 80;

/** How a given value is shown in an error: JSON, shortened; "nothing" when absent. */
export const describeGiven = (value: unknown): string => {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}...` : text;
};
