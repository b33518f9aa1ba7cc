import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/App";
import { SessionProvider } from "../src/session";
import { fakeApi, meFor } from "./render";

const unauthenticated = () =>
  new Response(JSON.stringify({ error: { code: "unauthenticated", message: "unknown or revoked API key" } }), { status: 401 });

function renderApp(fetchImpl: typeof fetch) {
  vi.stubGlobal("fetch", fetchImpl);
  return render(
    <MemoryRouter initialEntries={["/"]}>
      <SessionProvider>
        <App />
      </SessionProvider>
    </MemoryRouter>,
  );
}

afterEach(() => vi.unstubAllGlobals());

describe("session", () => {
  it("a wrong key at sign-in is the form's error only, and nothing is kept", async () => {
    const api = fakeApi({ "GET /v1/me": unauthenticated });
    renderApp(api);
    await userEvent.type(await screen.findByLabelText("API key"), "apex_wrong");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("unknown or revoked API key");
    expect(screen.queryByText(/not accepted any more/)).not.toBeInTheDocument();
    expect(sessionStorage.length).toBe(0);
    expect(api.calls[0]?.url.search).toBe("");
  });

  it("a key the tab kept but the API now refuses goes back to sign-in, saying why", async () => {
    sessionStorage.setItem("apex.console.apiKey", "apex_revoked");
    renderApp(fakeApi({ "GET /v1/me": unauthenticated }));
    expect(await screen.findByText(/The key this tab kept is not accepted any more/)).toBeInTheDocument();
    expect(screen.getByLabelText("API key")).toBeInTheDocument();
    expect(sessionStorage.getItem("apex.console.apiKey")).toBeNull();
  });

  it("a signed-in session that meets a 401 signs out with the reason", async () => {
    let revoked = false;
    const api = fakeApi({
      "GET /v1/me": () => (revoked ? unauthenticated() : meFor("viewer")),
      "GET /v1/dags": () => (revoked ? unauthenticated() : { dags: [] }),
      "GET /v1/agents": () => ({ agents: [] }),
      "GET /v1/approvals": () => (revoked ? unauthenticated() : { approvals: [] }),
    });
    renderApp(api);
    await userEvent.type(await screen.findByLabelText("API key"), "apex_viewer");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("navigation", { name: "Main" })).toBeInTheDocument();
    expect(sessionStorage.getItem("apex.console.apiKey")).toBe("apex_viewer");
    revoked = true;
    await userEvent.click(screen.getByRole("link", { name: "Approvals" }));
    expect(await screen.findByText(/not accepted any more/)).toBeInTheDocument();
    expect(sessionStorage.getItem("apex.console.apiKey")).toBeNull();
  });
});
