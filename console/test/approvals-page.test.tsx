import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Approval } from "../src/api/types";
import { ApprovalsPage, approvalPollMs } from "../src/pages/ApprovalsPage";
import { fakeApi, renderScreen } from "./render";

const approvalId = "00000000-0000-4000-8000-000000000101";
const args = { command: "rm -rf /tmp/build", env: { CI: "true" }, paths: ["/tmp/build", "/tmp/cache"], note: "x".repeat(300) };

function pending(overrides: Partial<Approval> = {}): Approval {
  return {
    id: approvalId,
    dag_id: "00000000-0000-4000-8000-000000000201",
    task_id: "clean",
    tool: "shell",
    args,
    status: "pending",
    created_at: new Date(Date.now() - 60_000).toISOString(),
    expires_at: new Date(Date.now() + 3_600_000).toISOString(),
    args_digest: "9f2c0d6a4e1b7c3d5f8a9b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6",
    dag_name: "nightly cleanup",
    agent_id: "00000000-0000-4000-8000-000000000301",
    agent_name: "janitor",
    submitted_by: "00000000-0000-4000-8000-000000000401",
    submitted_by_name: "ci pipeline",
    ...overrides,
  };
}

function errorResponse(status: number, code: string, message: string): Response {
  return new Response(JSON.stringify({ error: { code, message, field: "id" } }), { status, headers: { "content-type": "application/json" } });
}

afterEach(() => {
  vi.useRealTimers();
});

describe("ApprovalsPage", () => {
  it("shows the exact arguments in full, the digest and who and what the call belongs to", async () => {
    const api = fakeApi({ "GET /v1/approvals": () => ({ approvals: [pending()] }) });
    renderScreen(<ApprovalsPage />, { role: "operator", fetch: api });

    const card = await screen.findByRole("article", { name: "shell" });
    expect(api.calls[0]?.url.searchParams.get("status")).toBe("pending");
    const argsRegion = within(card).getByRole("region", { name: "Arguments" });
    expect(argsRegion.querySelector("pre")?.textContent).toBe(JSON.stringify(args, null, 2));
    expect(argsRegion).toHaveTextContent(`Digest ${pending().args_digest}`);
    expect(within(card).getByRole("link", { name: "nightly cleanup" })).toHaveAttribute("href", `/dags/${pending().dag_id}`);
    expect(card).toHaveTextContent("janitor");
    expect(card).toHaveTextContent("ci pipeline");
    expect(card).toHaveTextContent(/Expires\s*in 1 hr/);
  });

  it("approves with the reason after a confirmation naming the tool, then shows the item decided", async () => {
    const user = userEvent.setup();
    const api = fakeApi({
      "GET /v1/approvals": () => ({ approvals: [pending()] }),
      [`POST /v1/approvals/${approvalId}/approve`]: ({ body }) =>
        pending({
          status: "approved",
          decided_by: "00000000-0000-4000-8000-0000000000aa",
          decided_at: new Date().toISOString(),
          reason: (body as { reason?: string }).reason,
        }),
    });
    renderScreen(<ApprovalsPage />, { role: "operator", fetch: api });

    const card = await screen.findByRole("article", { name: "shell" });
    await user.type(within(card).getByRole("textbox", { name: "Reason" }), "paths checked");
    await user.click(within(card).getByRole("button", { name: "Approve" }));
    expect(api.calls.filter((c) => c.method === "POST")).toHaveLength(0);
    await user.click(within(card).getByRole("button", { name: "Yes, approve shell" }));

    await waitFor(() => expect(within(card).getByText("approved")).toBeInTheDocument());
    const post = api.calls.find((c) => c.method === "POST");
    expect(post?.url.pathname).toBe(`/v1/approvals/${approvalId}/approve`);
    expect(post?.body).toEqual({ reason: "paths checked" });
    expect(screen.getByText("Approved the call to shell in DAG nightly cleanup.")).toHaveAttribute("role", "status");
    expect(within(card).queryByRole("button", { name: "Approve" })).not.toBeInTheDocument();
    expect(card).toHaveTextContent("Approved byoperator key (you)");
    expect(card).toHaveTextContent("paths checked");
    expect(within(card).getByRole("heading", { name: "shell" })).toHaveFocus();
  });

  it("will not reject without a reason", async () => {
    const user = userEvent.setup();
    const api = fakeApi({
      "GET /v1/approvals": () => ({ approvals: [pending()] }),
      [`POST /v1/approvals/${approvalId}/reject`]: () => pending({ status: "rejected", reason: "too broad" }),
    });
    renderScreen(<ApprovalsPage />, { role: "admin", fetch: api });

    const card = await screen.findByRole("article", { name: "shell" });
    await user.click(within(card).getByRole("button", { name: "Reject" }));
    expect(within(card).getByRole("alert")).toHaveTextContent("Reason: say why you reject this call");
    const reason = within(card).getByRole("textbox", { name: "Reason" });
    expect(reason).toHaveFocus();
    expect(reason).toHaveAttribute("aria-invalid", "true");
    expect(within(card).queryByRole("button", { name: "Yes, reject shell" })).not.toBeInTheDocument();

    await user.type(reason, "too broad");
    await user.click(within(card).getByRole("button", { name: "Reject" }));
    await user.click(within(card).getByRole("button", { name: "Yes, reject shell" }));
    await waitFor(() => expect(api.calls.some((c) => c.method === "POST")).toBe(true));
    const post = api.calls.find((c) => c.method === "POST");
    expect(post?.url.pathname).toBe(`/v1/approvals/${approvalId}/reject`);
    expect(post?.body).toEqual({ reason: "too broad" });
  });

  it("warns the key that submitted the DAG that another key must decide", async () => {
    const api = fakeApi({
      "GET /v1/approvals": () => ({
        approvals: [pending({ submitted_by: "00000000-0000-4000-8000-0000000000aa", submitted_by_name: "admin key" })],
      }),
    });
    renderScreen(<ApprovalsPage />, { role: "admin", fetch: api });
    const card = await screen.findByRole("article", { name: "shell" });
    expect(card).toHaveTextContent("Submitted byadmin key (you)");
    expect(card).toHaveTextContent("Your key submitted this DAG");
  });

  it("gives viewers the list without decision buttons, and says why", async () => {
    const api = fakeApi({ "GET /v1/approvals": () => ({ approvals: [pending()] }) });
    renderScreen(<ApprovalsPage />, { role: "viewer", fetch: api });

    const card = await screen.findByRole("article", { name: "shell" });
    expect(within(card).queryByRole("button", { name: "Approve" })).not.toBeInTheDocument();
    expect(within(card).queryByRole("button", { name: "Reject" })).not.toBeInTheDocument();
    expect(within(card).queryByRole("textbox", { name: "Reason" })).not.toBeInTheDocument();
    expect(screen.getByText("Your role (viewer) can view approvals but not decide them.")).toBeInTheDocument();
  });

  it("says in words why the API refused: already decided (409), own submission (403)", async () => {
    const user = userEvent.setup();
    const second = "00000000-0000-4000-8000-000000000102";
    const api = fakeApi({
      "GET /v1/approvals": () => ({ approvals: [pending(), pending({ id: second, tool: "deploy" })] }),
      [`POST /v1/approvals/${approvalId}/approve`]: () => errorResponse(409, "conflict", `approval ${approvalId} was already approved`),
      [`POST /v1/approvals/${second}/approve`]: () =>
        errorResponse(403, "permission_denied", "the API key that submitted DAG d may not approve its tool calls; another key must approve"),
    });
    renderScreen(<ApprovalsPage />, { role: "operator", fetch: api });

    const shell = await screen.findByRole("article", { name: "shell" });
    await user.click(within(shell).getByRole("button", { name: "Approve" }));
    await user.click(within(shell).getByRole("button", { name: "Yes, approve shell" }));
    expect(await within(shell).findByRole("alert")).toHaveTextContent(
      `This approval can no longer be decided: approval ${approvalId} was already approved.`,
    );
    // A 409 means the list changed: it is fetched again.
    await waitFor(() => expect(api.calls.filter((c) => c.method === "GET")).toHaveLength(2));
    expect(within(shell).getByRole("button", { name: "Approve" })).toHaveFocus();

    const deploy = screen.getByRole("article", { name: "deploy" });
    await user.click(within(deploy).getByRole("button", { name: "Approve" }));
    await user.click(within(deploy).getByRole("button", { name: "Yes, approve deploy" }));
    expect(await within(deploy).findByRole("alert")).toHaveTextContent(
      "Apex refused your decision: the API key that submitted DAG d may not approve its tool calls; another key must approve.",
    );
  });

  it("polls pending approvals every 5 s without moving focus or losing a typed reason", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime.bind(vi) });
    let listed: Approval[] = [pending()];
    const api = fakeApi({ "GET /v1/approvals": () => ({ approvals: listed }) });
    renderScreen(<ApprovalsPage />, { role: "operator", fetch: api });

    const card = await screen.findByRole("article", { name: "shell" });
    const reason = within(card).getByRole("textbox", { name: "Reason" });
    await user.type(reason, "looking");
    listed = [pending(), pending({ id: "00000000-0000-4000-8000-000000000103", tool: "http_post", created_at: new Date().toISOString() })];
    await act(async () => {
      await vi.advanceTimersByTimeAsync(approvalPollMs);
    });
    expect(await screen.findByRole("article", { name: "http_post" })).toBeInTheDocument();
    expect(api.calls.filter((c) => c.url.pathname === "/v1/approvals").length).toBeGreaterThanOrEqual(2);
    expect(reason).toHaveFocus();
    expect(reason).toHaveValue("looking");
  });

  it("says nothing waits, and what parks a task, when no approval is pending", async () => {
    const api = fakeApi({ "GET /v1/approvals": () => ({ approvals: [] }) });
    renderScreen(<ApprovalsPage />, { role: "operator", fetch: api });
    expect(await screen.findByText("Nothing waits for approval")).toBeInTheDocument();
    expect(screen.getByText(/calls a tool that requires an operator's approval/)).toBeInTheDocument();
  });

  it("filters by status through the select", async () => {
    const user = userEvent.setup();
    const api = fakeApi({
      "GET /v1/approvals": ({ url }) => ({
        approvals: url.searchParams.get("status") === "rejected" ? [pending({ status: "rejected", decided_by: "k", reason: "no" })] : [],
      }),
    });
    renderScreen(<ApprovalsPage />, { role: "operator", fetch: api });
    await screen.findByText("Nothing waits for approval");
    await user.selectOptions(screen.getByRole("combobox", { name: "Status" }), "rejected");
    const card = await screen.findByRole("article", { name: "shell" });
    expect(card).toHaveTextContent("Rejected by");
    expect(within(card).queryByRole("button", { name: "Approve" })).not.toBeInTheDocument();
    expect(api.calls.at(-1)?.url.searchParams.get("status")).toBe("rejected");
  });
});
