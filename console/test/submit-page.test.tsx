import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import example from "../../examples/research.json";
import { SubmitPage } from "../src/pages/SubmitPage";
import { agentId, agents, dagId } from "./dag-fixtures";
import { fakeApi, renderScreen } from "./render";

const newAgentId = "55555555-5555-4555-8555-555555555555";

function submitApi(extra: Parameters<typeof fakeApi>[0] = {}) {
  return fakeApi({
    "GET /v1/agents": () => agents,
    "POST /v1/dags": () => new Response(JSON.stringify({ id: dagId, status: "running" }), { status: 201 }),
    "POST /v1/agents": ({ body }) => new Response(JSON.stringify({ id: newAgentId, name: (body as { name: string }).name, created_at: "2026-03-01T00:00:00Z" }), { status: 201 }),
    ...extra,
  });
}

const open = (api: ReturnType<typeof fakeApi>, role: "admin" | "agent" = "admin") =>
  renderScreen(<SubmitPage />, { route: "/submit", path: "/submit", fetch: api, role });

const posts = (api: ReturnType<typeof fakeApi>) => api.calls.filter((c) => c.method === "POST");

describe("Submit a DAG", () => {
  it("submits the example DAG for the chosen agent and opens the DAG's page", async () => {
    const user = userEvent.setup();
    const api = submitApi();
    open(api);

    const dagField = await screen.findByLabelText("DAG (JSON)");
    expect(JSON.parse((dagField as HTMLTextAreaElement).value)).toEqual(example);
    expect(screen.getByLabelText("Agent")).toHaveValue(agentId);
    await user.click(screen.getByRole("button", { name: "Submit" }));

    expect(await screen.findByText("elsewhere")).toBeInTheDocument();
    expect(posts(api)).toEqual([{ method: "POST", url: new URL("http://console.test/v1/dags"), body: { ...example, agent_id: agentId } }]);
  });

  it("creates a new agent first when one is named", async () => {
    const user = userEvent.setup();
    const api = submitApi();
    open(api);

    await user.selectOptions(await screen.findByLabelText("Agent"), "New agent…");
    await user.click(screen.getByRole("button", { name: "Submit" }));
    expect(screen.getByLabelText("Name")).toHaveFocus();
    expect(screen.getByText("Enter a name for the new agent.")).toBeInTheDocument();
    expect(posts(api)).toHaveLength(0);

    await user.type(screen.getByLabelText("Name"), "briefings");
    await user.click(screen.getByRole("button", { name: "Submit" }));
    expect(await screen.findByText("elsewhere")).toBeInTheDocument();
    expect(posts(api).map((c) => [c.url.pathname, c.body])).toEqual([
      ["/v1/agents", { name: "briefings" }],
      ["/v1/dags", { ...example, agent_id: newAgentId }],
    ]);
  });

  it("offers no new agent to a role that may not create one", async () => {
    open(submitApi(), "agent");
    const select = await screen.findByLabelText("Agent");
    expect(screen.queryByRole("option", { name: "New agent…" })).not.toBeInTheDocument();
    expect(select).toHaveValue(agentId);
  });

  it("says where the JSON is broken, at the field, without asking the API", async () => {
    const user = userEvent.setup();
    const api = submitApi();
    open(api);

    const dagField = await screen.findByLabelText("DAG (JSON)");
    await user.clear(dagField);
    await user.click(dagField);
    await user.paste('{"name": "x", "tasks": [');
    await user.click(screen.getByRole("button", { name: "Submit" }));

    expect(dagField).toHaveFocus();
    expect(dagField).toHaveAttribute("aria-invalid", "true");
    expect(dagField).toHaveAccessibleDescription(/This is not valid JSON/);
    expect(posts(api)).toHaveLength(0);

    await user.clear(dagField);
    await user.paste("[1, 2]");
    await user.click(screen.getByRole("button", { name: "Submit" }));
    expect(dagField).toHaveAccessibleDescription(/The DAG must be a JSON object/);
    expect(posts(api)).toHaveLength(0);
  });

  it("shows the API's refusal with the field at fault and moves focus to it; an agent it created is not created again", async () => {
    const user = userEvent.setup();
    const api = submitApi({
      "POST /v1/dags": () =>
        new Response(JSON.stringify({ error: { code: "invalid_argument", message: "unknown dependency: nothing", field: "tasks[1].depends_on" } }), { status: 400 }),
    });
    open(api);

    await user.selectOptions(await screen.findByLabelText("Agent"), "New agent…");
    await user.type(screen.getByLabelText("Name"), "briefings");
    await user.click(screen.getByRole("button", { name: "Submit" }));

    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Could not submit this DAG");
    expect(alert).toHaveTextContent("tasks[1].depends_on: unknown dependency: nothing");
    await waitFor(() => expect(alert).toHaveFocus());
    expect(screen.getByLabelText("Agent")).toHaveValue(newAgentId);

    await user.click(screen.getByRole("button", { name: "Submit" }));
    await waitFor(() => expect(posts(api)).toHaveLength(3));
    expect(posts(api).map((c) => c.url.pathname)).toEqual(["/v1/agents", "/v1/dags", "/v1/dags"]);
    expect(posts(api)[2]?.body).toMatchObject({ agent_id: newAgentId });
  });
});
