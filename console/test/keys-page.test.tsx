import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { ApiKey } from "../src/api/types";
import { KeysPage } from "../src/pages/KeysPage";
import { fakeApi, renderScreen } from "./render";

const agentId = "00000000-0000-4000-8000-000000000301";
const ciKeyId = "00000000-0000-4000-8000-000000000501";
const secret = "apex_s3cr3t_only_once_0123456789abcdef";

const ciKey: ApiKey = {
  id: ciKeyId,
  name: "ci pipeline",
  role: "agent",
  agent_id: agentId,
  prefix: "apex_9f2c",
  created_at: "2026-11-01T08:00:00Z",
  last_used_at: new Date(Date.now() - 120_000).toISOString(),
};

function api(keys: ApiKey[] = [ciKey]) {
  return fakeApi({
    "GET /v1/api-keys": () => ({ api_keys: keys }),
    "GET /v1/agents": () => ({ agents: [{ id: agentId, name: "janitor", created_at: "2026-01-01T00:00:00Z" }] }),
    "POST /v1/api-keys": ({ body }) => {
      const b = body as { name: string; role: ApiKey["role"]; agent_id?: string };
      const key: ApiKey = { id: "00000000-0000-4000-8000-000000000502", prefix: "apex_7a1b", created_at: new Date().toISOString(), ...b };
      keys = [...keys, key];
      return new Response(JSON.stringify({ ...key, secret }), { status: 201, headers: { "content-type": "application/json" } });
    },
    [`DELETE /v1/api-keys/${ciKeyId}`]: () => ({ ...ciKey, revoked_at: new Date().toISOString() }),
  });
}

describe("KeysPage", () => {
  it("lists keys with role, agent, prefix and use", async () => {
    renderScreen(<KeysPage />, { role: "admin", fetch: api() });
    const row = await screen.findByRole("row", { name: /ci pipeline/ });
    expect(within(row).getAllByRole("cell").map((c) => c.textContent)).toEqual(
      expect.arrayContaining(["agent", "janitor", "apex_9f2c…", "active"]),
    );
    expect(row).toHaveTextContent(/2 min/);
    expect(screen.getByRole("heading", { name: "API keys", level: 1 })).toBeInTheDocument();
  });

  it("shows a new key's secret once, copies it, and forgets it when dismissed", async () => {
    const user = userEvent.setup();
    const consoleSpies = (["log", "info", "warn", "error", "debug"] as const).map((m) => vi.spyOn(console, m));
    const fetch = api();
    renderScreen(<KeysPage />, { role: "admin", fetch });
    await screen.findByRole("row", { name: /ci pipeline/ });

    await user.type(screen.getByRole("textbox", { name: "Name" }), "grafana reader");
    await user.selectOptions(screen.getByRole("combobox", { name: "Role" }), "viewer");
    await user.click(screen.getByRole("button", { name: "Create key" }));

    const box = await screen.findByRole("region", { name: "New key “grafana reader” (viewer)" });
    expect(fetch.calls.find((c) => c.method === "POST")?.body).toEqual({ name: "grafana reader", role: "viewer" });
    expect(within(box).getByRole("textbox", { name: "Secret" })).toHaveValue(secret);
    expect(box).toHaveTextContent("You will not see it again");
    expect(within(box).getByRole("heading")).toHaveFocus();

    await user.click(within(box).getByRole("button", { name: "Copy" }));
    await waitFor(() => expect(within(box).getByRole("status")).toHaveTextContent("Copied to the clipboard."));
    await expect(navigator.clipboard.readText()).resolves.toBe(secret);
    // The list is fetched again and shows the new key without its secret.
    expect(await screen.findByRole("row", { name: /grafana reader/ })).not.toHaveTextContent(secret);

    await user.click(within(box).getByRole("button", { name: "Done, I have stored it" }));
    expect(screen.queryByRole("region", { name: /New key/ })).not.toBeInTheDocument();
    expect(screen.queryByDisplayValue(secret)).not.toBeInTheDocument();
    expect(document.body.innerHTML).not.toContain(secret);
    expect(screen.getByRole("textbox", { name: "Name" })).toHaveFocus();
    for (const spy of consoleSpies) {
      for (const call of spy.mock.calls) expect(JSON.stringify(call)).not.toContain(secret);
      spy.mockRestore();
    }
  });

  it("requires an agent for role agent and sends it", async () => {
    const user = userEvent.setup();
    const fetch = api();
    renderScreen(<KeysPage />, { role: "admin", fetch });
    await screen.findByRole("row", { name: /ci pipeline/ });

    expect(screen.queryByRole("combobox", { name: "Agent" })).not.toBeInTheDocument();
    await user.type(screen.getByRole("textbox", { name: "Name" }), "janitor runner");
    await user.selectOptions(screen.getByRole("combobox", { name: "Role" }), "agent");
    await user.click(screen.getByRole("button", { name: "Create key" }));
    expect(screen.getByRole("alert")).toHaveTextContent("Agent: choose the agent this key acts for");
    const agentSelect = screen.getByRole("combobox", { name: "Agent" });
    expect(agentSelect).toHaveFocus();
    expect(agentSelect).toHaveAttribute("aria-invalid", "true");
    expect(fetch.calls.some((c) => c.method === "POST")).toBe(false);

    await user.selectOptions(agentSelect, "janitor");
    await user.click(screen.getByRole("button", { name: "Create key" }));
    await screen.findByRole("region", { name: /New key “janitor runner” \(agent\)/ });
    expect(fetch.calls.find((c) => c.method === "POST")?.body).toEqual({ name: "janitor runner", role: "agent", agent_id: agentId });
  });

  it("revokes after a confirmation naming the key, with DELETE, and shows it revoked", async () => {
    const user = userEvent.setup();
    const fetch = api();
    renderScreen(<KeysPage />, { role: "admin", fetch });
    const row = await screen.findByRole("row", { name: /ci pipeline/ });

    await user.click(within(row).getByRole("button", { name: "Revoke" }));
    expect(fetch.calls.some((c) => c.method === "DELETE")).toBe(false);
    await user.click(within(row).getByRole("button", { name: "Cancel" }));
    expect(within(row).getByRole("button", { name: "Revoke" })).toHaveFocus();

    await user.click(within(row).getByRole("button", { name: "Revoke" }));
    await user.click(within(row).getByRole("button", { name: "Yes, revoke ci pipeline" }));
    await waitFor(() => expect(within(row).getByText("revoked")).toBeInTheDocument());
    expect(fetch.calls.find((c) => c.method === "DELETE")?.url.pathname).toBe(`/v1/api-keys/${ciKeyId}`);
    expect(within(row).queryByRole("button", { name: "Revoke" })).not.toBeInTheDocument();
    expect(screen.getByText("Revoked “ci pipeline”. Requests with it are refused from now on.")).toBeInTheDocument();
  });

  it("tells a non-admin the screen needs the admin role, without asking the API", () => {
    const fetch = api();
    renderScreen(<KeysPage />, { role: "operator", fetch });
    expect(screen.getByText(/Managing API keys needs the admin role; your key's role is operator/)).toBeInTheDocument();
    expect(fetch.calls).toHaveLength(0);
  });

  it("shows the API's 403 in words if it refuses the listing", async () => {
    const fetch = fakeApi({
      "GET /v1/api-keys": () =>
        new Response(JSON.stringify({ error: { code: "permission_denied", message: "role operator may not api_keys:manage" } }), { status: 403 }),
      "GET /v1/agents": () => ({ agents: [] }),
    });
    renderScreen(<KeysPage />, { role: "admin", fetch });
    expect(await screen.findByRole("alert")).toHaveTextContent("Your key's role may not do this: role operator may not api_keys:manage.");
  });
});
