/**
 * Config of apex-dashboard, the operator console (console/, components/dashboard/): whether the
 * stack runs it, how many replicas, its resources; and the rules tying it to its Ingress host
 * (`apex:ingress.consoleHost`, config/core.ts).
 */
import { describeGiven, type ConfigProblem } from "./errors";
import { bool, positiveInt, resources, section } from "./fields";
import type { ApexConfig } from "./index";
import { plainSection } from "./section";

export const dashboardSections = {
  dashboard: plainSection({
    description: "apex-dashboard, the operator console (static files on an unprivileged nginx, port 3000, /v1 proxied to apex-api): `enabled`, `replicas` (docker: 1, it publishes 127.0.0.1:3000), requests/limits. Its Ingress host is apex:ingress.consoleHost.",
    schema: section({ enabled: bool(), replicas: positiveInt(), resources: resources() }),
    defaults: {
      // Static files and a proxy: a few MiB of memory, next to no CPU.
      all: { enabled: true, resources: { requests: { cpu: "50m", memory: "32Mi" }, limits: { cpu: "500m", memory: "128Mi" } } },
      dev: { replicas: 1 },
      prod: { replicas: 2 },
    },
  }),
} as const;

/**
 * Kubernetes with the console on needs its own Ingress host, unlike every other host of the
 * stack (two routes for one host and path would shadow each other); docker publishes it on
 * localhost, and a host there, or with the console off, would do nothing.
 */
export function dashboardCrossChecks(c: ApexConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const key = "apex:ingress.consoleHost";
  const host = c.ingress.consoleHost;
  if (host !== undefined && !c.dashboard.enabled) {
    problems.push({ key, message: `only used when apex:dashboard.enabled is true, got ${describeGiven(host)}` });
  }
  if (c.target === "docker") {
    if (host !== undefined) {
      problems.push({ key, message: `only used when apex:target is "kubernetes" (docker publishes the console on localhost:3000), got ${describeGiven(host)}` });
    }
    if (c.dashboard.replicas !== 1) {
      problems.push({ key: "apex:dashboard.replicas", message: `expected 1 on target "docker" (one container publishes 127.0.0.1:3000), got ${c.dashboard.replicas}` });
    }
    return problems;
  }
  if (!c.dashboard.enabled) return problems;
  if (host === undefined) {
    problems.push({ key, message: 'required when apex:target is "kubernetes" and apex:dashboard.enabled is true: expected a DNS host name for the console, got nothing' });
    return problems;
  }
  const others: [string, string | undefined][] = [
    ["apex:ingress.host", c.ingress.host],
    ["apex:ingress.grpcHost", c.ingress.grpcHost],
    ...Object.entries(c.observability.hosts).map(([ui, h]): [string, string | undefined] => [`apex:observability.hosts.${ui}`, h]),
  ];
  const clash = others.find(([, other]) => other === host);
  if (clash) {
    problems.push({ key, message: `expected a host of its own, different from ${clash[0]} (one host routes to one service), got ${describeGiven(host)}` });
  }
  return problems;
}
