import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { DagList } from "../src/api/types";
import { DagsPage } from "../src/pages/DagsPage";
import { agentId, agents, otherAgentId, summary } from "./dag-fixtures";
import { fakeApi, renderScreen } from "./render";

function listApi(answer: (url: URL) => DagList | Response) {
  return fakeApi({ "GET /v1/agents": () => agents, "GET /v1/dags": ({ url }) => answer(url) });
}

const dagCalls = (api: ReturnType<typeof fakeApi>) => api.calls.filter((c) => c.url.pathname === "/v1/dags");
const lastQuery = (api: ReturnType<typeof fakeApi>) => dagCalls(api).at(-1)?.url.searchParams;

describe("DAG list", () => {
  it("shows each DAG with its status, agent, duration, tokens and cost, linked to its page", async () => {
    const api = listApi(() => ({ dags: [summary(1), summary(2, { status: "failed", agent_id: otherAgentId, name: "nightly" })] }));
    renderScreen(<DagsPage />, { route: "/dags", fetch: api });

    const table = await screen.findByRole("table", { name: /DAGs/ });
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows).toHaveLength(2);
    expect(within(rows[0]!).getByRole("link", { name: "dag-1" })).toHaveAttribute("href", `/dags/${summary(1).id}`);
    expect(rows[0]).toHaveTextContent("succeeded");
    expect(rows[0]).toHaveTextContent("42 s");
    expect(rows[0]).toHaveTextContent("1,500");
    expect(rows[0]).toHaveTextContent("$0.0123");
    await waitFor(() => expect(rows[0]).toHaveTextContent("researcher"));
    expect(rows[1]).toHaveTextContent("failed");
    expect(rows[1]).toHaveTextContent("summariser");
    expect(lastQuery(api)?.get("limit")).toBe("25");
  });

  it("turns the filters into the API's query and keeps them in the URL", async () => {
    const user = userEvent.setup();
    const api = listApi(() => ({ dags: [summary(1)] }));
    renderScreen(<DagsPage />, { route: "/dags", fetch: api });
    await screen.findByRole("table", { name: /DAGs/ });

    await user.selectOptions(screen.getByLabelText("Status"), "failed");
    await waitFor(() => expect(lastQuery(api)?.get("status")).toBe("failed"));
    await screen.findByRole("option", { name: "summariser" });
    await user.selectOptions(screen.getByLabelText("Agent"), "summariser");
    await waitFor(() => expect(lastQuery(api)?.get("agent_id")).toBe(otherAgentId));
    expect(lastQuery(api)?.get("status")).toBe("failed");

    const before = Date.now();
    await user.selectOptions(screen.getByLabelText("Created"), "Last hour");
    await waitFor(() => expect(lastQuery(api)?.get("created_since")).toBeTruthy());
    const since = Date.parse(lastQuery(api)?.get("created_since") ?? "");
    expect(since).toBeGreaterThanOrEqual(before - 3_600_000 - 1_000);
    expect(since).toBeLessThanOrEqual(Date.now() - 3_600_000 + 1_000);

    await user.selectOptions(screen.getByLabelText("Created"), "Custom range");
    // datetime-local is the reader's local time; the API gets the same instant in RFC 3339.
    await user.type(screen.getByLabelText("From"), "2026-03-01T08:30");
    await user.type(screen.getByLabelText("Until"), "2026-03-02T08:30");
    await waitFor(() => expect(lastQuery(api)?.get("created_until")).toBe(new Date("2026-03-02T08:30").toISOString()));
    expect(lastQuery(api)?.get("created_since")).toBe(new Date("2026-03-01T08:30").toISOString());
    expect(lastQuery(api)?.get("created_since")).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("opens with the filters from the URL, and refuses a range that ends before it starts", async () => {
    const api = listApi(() => ({ dags: [] }));
    renderScreen(<DagsPage />, { route: "/dags", path: `/dags?status=running&agent=${agentId}&range=custom&from=2026-03-02T00:00&until=2026-03-01T00:00`, fetch: api });
    expect(await screen.findByText("Must not be before From.")).toBeInTheDocument();
    expect(screen.getByLabelText("Until")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByLabelText("Status")).toHaveValue("running");
    // Let the agents load: nothing may have asked for DAGs with the impossible range.
    await screen.findByRole("option", { name: "researcher" });
    expect(dagCalls(api)).toHaveLength(0);
  });

  it("pages forward with next_cursor and back through the cursors it kept", async () => {
    const user = userEvent.setup();
    const pages: Record<string, DagList> = {
      "": { dags: [summary(1)], next_cursor: "c2" },
      c2: { dags: [summary(2)], next_cursor: "c3" },
      c3: { dags: [summary(3)] },
    };
    const api = listApi((url) => pages[url.searchParams.get("cursor") ?? ""]!);
    renderScreen(<DagsPage />, { route: "/dags", path: "/dags?status=succeeded", fetch: api });

    await screen.findByRole("link", { name: "dag-1" });
    expect(screen.getByRole("button", { name: "Previous page" })).toBeDisabled();
    await user.click(screen.getByRole("button", { name: "Next page" }));
    await screen.findByRole("link", { name: "dag-2" });
    expect(lastQuery(api)?.get("cursor")).toBe("c2");
    expect(lastQuery(api)?.get("status")).toBe("succeeded");
    await user.click(screen.getByRole("button", { name: "Next page" }));
    await screen.findByRole("link", { name: "dag-3" });
    expect(screen.getByRole("button", { name: "Next page" })).toBeDisabled();
    expect(screen.getByText("Page 3")).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Previous page" }));
    await screen.findByRole("link", { name: "dag-2" });
    expect(lastQuery(api)?.get("cursor")).toBe("c2");
    await user.click(screen.getByRole("button", { name: "Previous page" }));
    await screen.findByRole("link", { name: "dag-1" });
    expect(lastQuery(api)?.has("cursor")).toBe(false);
  });

  it("tells an empty installation from filters that match nothing", async () => {
    const user = userEvent.setup();
    const api = listApi(() => ({ dags: [] }));
    renderScreen(<DagsPage />, { route: "/dags", path: "/dags?status=failed", fetch: api });
    expect(await screen.findByText("No DAGs match these filters")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Clear filters" }));
    expect(await screen.findByText("No DAGs yet")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "submit one" })).toHaveAttribute("href", "/submit");
    expect(lastQuery(api)?.has("status")).toBe(false);
  });

  it("says what went wrong and loads again on request", async () => {
    const user = userEvent.setup();
    let fail = true;
    const api = listApi(() =>
      fail
        ? new Response(JSON.stringify({ error: { code: "unavailable", message: "the database is not reachable" } }), { status: 503, headers: { "retry-after": "5" } })
        : { dags: [summary(1)] },
    );
    renderScreen(<DagsPage />, { route: "/dags", fetch: api });
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Could not load DAGs");
    expect(alert).toHaveTextContent("Apex is temporarily unavailable (the database is not reachable). Try again in 5 s.");
    fail = false;
    await user.click(within(alert).getByRole("button", { name: "Try again" }));
    expect(await screen.findByRole("link", { name: "dag-1" })).toBeInTheDocument();
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });
});
