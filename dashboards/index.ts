/** The seed's four Grafana dashboards (§5), built with the Grafana Foundation SDK. */
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { overviewDashboard } from "./overview";
import { performanceDashboard } from "./performance";
import { costDashboard } from "./cost";
import { errorsDashboard } from "./errors";
import { forGrafanaTarget } from "./grafana-target";

export interface RenderedDashboard {
  /** File name under out/<stack>/dashboards/ and the Pulumi resource name suffix. */
  readonly file: string;
  readonly uid: string;
  readonly title: string;
  /** The dashboard model as Grafana imports it. */
  readonly json: string;
}

const builders: readonly (() => Dashboard)[] = [overviewDashboard, performanceDashboard, costDashboard, errorsDashboard];

export function apexDashboards(): RenderedDashboard[] {
  return builders.map((build) => {
    const d = forGrafanaTarget(build());
    if (!d.uid || !d.title) throw new Error(`dashboard ${JSON.stringify(d.title)} has no uid or title`);
    // Stable panel ids (links and "view panel" URLs use them); the builders leave them unset.
    (d.panels ?? []).forEach((p, i) => {
      (p as { id?: number }).id ??= i + 1;
    });
    return { file: `${d.uid}.json`, uid: d.uid, title: d.title, json: JSON.stringify(d, null, 2) };
  });
}
