/** The Dashboard component from the stack config, or nothing when apex:dashboard.enabled is false. */
import type { ApexConfig } from "../../config";
import type { ImageTarget } from "../registry/from-config";
import { runtimeImageArgs } from "../runtime/image";
import type { Platform } from "../service";
import { Dashboard } from "./dashboard";

export function dashboardFromConfig(
  config: ApexConfig,
  platform: Platform,
  /** The console image's repository and push credentials (imageTargetsFromConfig's `dashboard`). */
  target: ImageTarget | undefined,
): Dashboard | undefined {
  if (!config.dashboard.enabled) return undefined;
  if (target === undefined) throw new Error("dashboardFromConfig: no image target for the console (imageTargetsFromConfig gives one while apex:dashboard.enabled)");
  // config/dashboard.ts requires the host on kubernetes while the console is on.
  const host = config.ingress.consoleHost;
  return new Dashboard("apex-dashboard", {
    platform,
    // Same tag, push and platform as the runtime image: one commit, one set of images.
    image: runtimeImageArgs(config.images.runtime, target),
    replicas: config.dashboard.replicas,
    resources: config.dashboard.resources,
    ingress: platform.target === "kubernetes" && host !== undefined ? { host, tls: config.ingress.tls !== undefined } : undefined,
  });
}
