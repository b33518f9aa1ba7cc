import { awsDataStoreCrossChecks, awsDataStoreSections } from "./aws-data-stores";
import { coreChecks } from "./checks";
import { clusterCrossChecks, clusterSections } from "./cluster";
import { coreSections } from "./core";
import { dashboardCrossChecks, dashboardSections } from "./dashboard";
import type { ConfigProblem } from "./errors";
import { imageCrossChecks, imageSections } from "./images";
import type { ApexConfig } from "./index";
import { observabilityCrossChecks, observabilitySections } from "./observability";
import { sandboxCrossChecks, sandboxSections } from "./sandbox";
import { securityCrossChecks, securitySections } from "./security";

/**
 * Every top-level key of the `apex` config namespace. A helper that owns a config area adds its
 * section file (config/observability.ts, config/security.ts: `export const xSections = { ... }`
 * built with plainSection/secretSection) and spreads it here with one line.
 */
export const configSections = {
  ...coreSections,
  ...clusterSections,
  ...awsDataStoreSections,
  ...imageSections,
  ...securitySections,
  ...sandboxSections,
  ...observabilitySections,
  ...dashboardSections,
} as const;

export type ConfigSections = typeof configSections;

/**
 * Rules spanning several keys, run once every key parsed on its own. Helpers add their
 * `(config) => ConfigProblem[]` function here with one line.
 */
export const configChecks: readonly ((config: ApexConfig) => ConfigProblem[])[] = [
  coreChecks,
  imageCrossChecks,
  clusterCrossChecks,
  awsDataStoreCrossChecks,
  securityCrossChecks,
  sandboxCrossChecks,
  observabilityCrossChecks,
  dashboardCrossChecks,
];
