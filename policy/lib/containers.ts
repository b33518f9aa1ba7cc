import { containersOf, podSpecOf, type Json, type NamedContainer } from "./kubernetes";
import type { PlainResource } from "./resource";

export const dockerContainerType = "docker:index/container:Container";

/** One rule over every container a resource runs: Kubernetes pod specs and Docker containers. */
export interface ContainerRule {
  /** A Kubernetes container (init containers included) in its pod; returns the problem or undefined. */
  readonly kubernetes: (c: NamedContainer, pod: Json) => string | undefined;
  /** A Docker container's props; returns the problem or undefined. Omit to skip Docker. */
  readonly docker?: (props: Json) => string | undefined;
}

export function checkContainers(r: PlainResource, rule: ContainerRule): string[] {
  if (r.type === dockerContainerType) {
    const problem = rule.docker?.(r.props);
    return problem === undefined ? [] : [`Docker container "${r.props.name ?? r.name}": ${problem}`];
  }
  const pod = podSpecOf(r);
  if (pod === undefined) return [];
  const out: string[] = [];
  for (const c of containersOf(pod)) {
    const problem = rule.kubernetes(c, pod);
    if (problem !== undefined) out.push(`${r.type.split(":").pop()} "${r.name}" ${c.kind} "${c.name}": ${problem}`);
  }
  return out;
}

/** A container's securityContext field, falling back to the pod's where Kubernetes inherits it. */
export function effectiveSecurity(c: NamedContainer, pod: Json, field: "runAsNonRoot" | "runAsUser" | "seccompProfile"): unknown {
  const own = (c.spec.securityContext as Json | undefined)?.[field];
  return own !== undefined ? own : (pod.securityContext as Json | undefined)?.[field];
}

export const containerSecurity = (c: NamedContainer): Json => (c.spec.securityContext as Json | undefined) ?? {};

/** Docker's `user` ("uid", "uid:gid", "name"): true when it is unset or names root. */
export function dockerUserIsRoot(user: unknown): boolean {
  if (typeof user !== "string" || user.trim() === "") return true;
  const who = user.split(":")[0]?.trim();
  return who === "0" || who === "root";
}
