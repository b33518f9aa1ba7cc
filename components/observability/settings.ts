/**
 * Observability settings of a stack read straight from Pulumi.<stack>.yaml, for tools that run
 * outside the Pulumi engine (`npm run render`). Only plain keys are read; secrets are never needed.
 */
import { existsSync, readFileSync } from "node:fs";
import { parse } from "yaml";
import { observabilitySections, type ObservabilitySettings } from "../../config/observability";
import { environments, type Environment } from "../../config/section";
import { mergeOver } from "../../config";
import type { ScrapePlatform } from "./scrape-jobs";

export interface StackSettings {
  readonly stack: string;
  readonly environment: Environment;
  readonly settings: ObservabilitySettings;
  readonly platform: ScrapePlatform;
}

export function stackSettingsFromFile(stack: string, projectDir: string): StackSettings {
  const file = `${projectDir}/Pulumi.${stack}.yaml`;
  const config = existsSync(file) ? ((parse(readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null)?.config ?? {}) : {};
  const plain = (key: string): unknown => {
    const v = config[`apex:${key}`];
    return typeof v === "object" && v !== null && "secure" in v ? undefined : v;
  };
  const environment = (plain("environment") ?? stack) as string;
  if (!(environments as readonly string[]).includes(environment)) {
    throw new Error(`apex:environment: expected one of ${environments.join(", ")} (defaults to the stack name), got "${environment}"`);
  }
  const env = environment as Environment;
  const section = observabilitySections.observability;
  const parsed = section.schema.safeParse(mergeOver(section.defaults?.[env], plain("observability")));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`apex:observability${issue?.path.length ? "." + issue.path.join(".") : ""}: ${issue?.message ?? "invalid"} (${file})`);
  }
  const target = plain("target") ?? (env === "dev" ? "docker" : "kubernetes");
  const namespace = (plain("namespace") as string | undefined) ?? "apex";
  const platform: ScrapePlatform = target === "kubernetes" ? { kind: "kubernetes", namespace } : { kind: "docker" };
  return { stack, environment: env, settings: parsed.data, platform };
}
