/**
 * Who may do what: the seed's RBAC table, made concrete. Both transports (HTTP and gRPC) authorise
 * through `can`, so a role means the same thing whichever way a client talks to Apex.
 *
 *   admin     everything
 *   operator  manages agents and their budgets, decides approvals, cancels DAGs, reads everything
 *             (no submissions)
 *   viewer    reads agents, DAGs and approvals; changes nothing
 *   agent     submits DAGs for, and reads DAGs of, the one agent its key is bound to
 *
 * `dags:read` covers listing, getting and watching DAGs; for agent keys all three are scoped to
 * their agent (`agentScope`): another agent's DAG is not found, and listing it finds nothing.
 *
 * API key management is admin-only, reads included: key listings are security data, not
 * platform state that "view all" covers.
 *
 * `budgets:write`: admins and operators set agents' and API keys' spend budgets (reading a key's
 * budget needs it too; an agent's is readable with `agents:read`). A submitter without it (agent
 * keys) may give its DAG a budget only at or below each of its agent's limits.
 */
import type { Principal, Role } from "../service/types";

export const permissions = [
  "agents:read",
  "agents:write",
  "dags:read",
  "dags:submit",
  "dags:cancel",
  "approvals:read",
  "approvals:decide",
  "api_keys:manage",
  "budgets:write",
] as const;

export type Permission = (typeof permissions)[number];

export const roles: readonly Role[] = ["admin", "operator", "viewer", "agent"];

export const rolePermissions: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  admin: new Set(permissions),
  operator: new Set<Permission>(["agents:read", "agents:write", "budgets:write", "dags:read", "dags:cancel", "approvals:read", "approvals:decide"]),
  viewer: new Set<Permission>(["agents:read", "dags:read", "approvals:read"]),
  agent: new Set<Permission>(["agents:read", "dags:read", "dags:submit"]),
};

export function can(role: Role, permission: Permission): boolean {
  return rolePermissions[role].has(permission);
}

/**
 * The agent a principal is confined to, passed to the service as `scope`. Only agent keys are
 * scoped; every other role sees all agents.
 */
export function agentScope(principal: Principal): { agentId: string } | undefined {
  if (principal.role !== "agent") return undefined;
  // An unscoped agent key would see every agent's DAGs: refuse rather than widen.
  if (!principal.agentId) throw new Error(`API key ${principal.keyId} has role agent but no agent id`);
  return { agentId: principal.agentId };
}

export function isRole(value: string): value is Role {
  return (roles as readonly string[]).includes(value);
}
