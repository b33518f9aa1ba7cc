/**
 * Renders a console screen for a component test: a signed-in session whose API calls go to
 * `fetch` (a fake answering like the API), at `path` in a memory router.
 */
import { render } from "@testing-library/react";
import { vi } from "vitest";
import type { ReactElement } from "react";
import { MemoryRouter, Route, Routes } from "react-router";
import { createApiClient } from "../src/api/client";
import type { Me, Role } from "../src/api/types";
import { SessionContextForTests } from "../src/session";

const rolePermissions: Record<Role, string[]> = {
  admin: ["agents:read", "agents:write", "dags:read", "dags:submit", "dags:cancel", "approvals:read", "approvals:decide", "api_keys:manage", "budgets:write"],
  operator: ["agents:read", "agents:write", "budgets:write", "dags:read", "dags:cancel", "approvals:read", "approvals:decide"],
  viewer: ["agents:read", "dags:read", "approvals:read"],
  agent: ["agents:read", "dags:read", "dags:submit"],
};

export function meFor(role: Role, links: Me["links"] = {}): Me {
  return {
    key: { id: "00000000-0000-4000-8000-0000000000aa", name: `${role} key`, role, prefix: "apex_abcd", ...(role === "agent" ? { agent_id: "00000000-0000-4000-8000-0000000000bb" } : {}) },
    permissions: rolePermissions[role],
    links,
  };
}

export interface RenderOptions {
  readonly role?: Role;
  readonly me?: Me;
  /** Answers the console's requests; default: every request fails the test. */
  readonly fetch?: typeof fetch;
  /** Route pattern the element is mounted at (e.g. "/dags/:id") and the URL to open. */
  readonly route?: string;
  readonly path?: string;
}

export function renderScreen(element: ReactElement, options: RenderOptions = {}) {
  const me = options.me ?? meFor(options.role ?? "admin");
  const signOut = vi.fn();
  const fetchImpl = options.fetch ?? (async (input: RequestInfo | URL) => {
    throw new Error(`unexpected request ${String(input)}`);
  });
  const client = createApiClient("apex_test_key", { fetch: fetchImpl });
  const permissions = new Set(me.permissions);
  const session = { client, me, can: (p: string) => permissions.has(p), signOut };
  const route = options.route ?? "/";
  const utils = render(
    <SessionContextForTests session={session}>
      <MemoryRouter initialEntries={[options.path ?? route]}>
        <Routes>
          <Route path={route} element={element} />
          <Route path="*" element={<p>elsewhere</p>} />
        </Routes>
      </MemoryRouter>
    </SessionContextForTests>,
  );
  return { ...utils, session, signOut };
}

/** A fetch that answers JSON by "METHOD path" (query string ignored unless the key has one). */
export function fakeApi(routes: Record<string, (req: { url: URL; body: unknown }) => unknown>): typeof fetch & { calls: Array<{ method: string; url: URL; body: unknown }> } {
  const calls: Array<{ method: string; url: URL; body: unknown }> = [];
  const impl = async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), "http://console.test");
    const method = init?.method ?? "GET";
    const body = typeof init?.body === "string" ? (JSON.parse(init.body) as unknown) : undefined;
    calls.push({ method, url, body });
    const handler = routes[`${method} ${url.pathname}${url.search}`] ?? routes[`${method} ${url.pathname}`];
    if (!handler) return new Response(JSON.stringify({ error: { code: "not_found", message: `no fake for ${method} ${url.pathname}` } }), { status: 404 });
    const result = handler({ url, body });
    if (result instanceof Response) return result;
    return new Response(JSON.stringify(result), { status: 200, headers: { "content-type": "application/json" } });
  };
  return Object.assign(impl as typeof fetch, { calls });
}
