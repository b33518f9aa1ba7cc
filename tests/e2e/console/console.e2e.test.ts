/**
 * The operator console in a real browser (Debian's chromium through playwright-core) against the
 * real runtime on embedded defaults, as `npm start` runs it: startLocal (PGlite, local LLM
 * provider, local sandbox) serving the console built by Vite from console/, on one origin.
 *
 *   e) a wrong key is refused on the sign-in screen, in words;
 *   a) the admin submits the example DAG from /submit and watches it live until its python task
 *      waits for approval (the Cost page shows no usage yet);
 *   c) a viewer sees the approval but no Approve button, and the API refuses the viewer's approve
 *      (403) when the page calls it directly;
 *   b) an operator (the submitter may not approve its own DAG) sees tool python with its exact
 *      arguments and approves with a reason; the admin's DAG page, never reloaded, turns
 *      "succeeded" with tokens, cost and the Jaeger link;
 *   d) the Cost page now shows the run's totals and its models;
 *   g) the admin sets the agent's daily budget on Budgets: the API holds it with the day's spend,
 *      and the DAG page lists it among the budgets that apply;
 *   f) the admin creates a key on API keys (secret shown once) and revokes it: the tab signed in
 *      with it is signed out at its next request;
 *   and throughout: no key ever in a URL the browser requested, none in localStorage, the key only
 *   in sessionStorage; no page error and no CSP violation.
 *
 * Screenshots of every step go to test-artifacts/console/ (docs/images/console-dag.png is one of
 * them). Without /usr/bin/chromium the file fails, naming the package to install.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocal, type LocalRuntime } from "../../../app/src/bin/local";
import { startTracing, type Tracing } from "../../../app/src/telemetry/tracing";
import { formatCount, formatUsd, formatUsdExact } from "../../../console/src/components/format";
import { buildConsole, launchChromium, openTab, type Tab } from "./support";

const traceTemplate = "http://localhost:16686/trace/{trace_id}";
/** Where the console keeps the key (console/src/session.tsx). */
const sessionKeyName = "apex.console.apiKey";
/** Long enough for a DAG of LLM calls, a text tool and a sandboxed python run on a slow CI machine. */
const liveTimeoutMs = 30_000;

interface DagJson {
  id: string;
  name: string;
  status: string;
  trace_id?: string;
  totals: { input_tokens: number; output_tokens: number; cached_tokens: number; cost_usd: number };
}
interface ApprovalJson {
  id: string;
  dag_id: string;
  tool: string;
  args: unknown;
  status: string;
  submitted_by_name?: string;
}

let workDir: string;
let local: LocalRuntime;
let tracing: Tracing;
let browser: Browser;
const tabs: Tab[] = [];
const secrets: string[] = [];
let operatorKey: string;
let viewerKey: string;
let admin: Tab;
let dagId: string;
let approval: ApprovalJson;

async function api<T>(key: string, method: "GET" | "POST", urlPath: string, body?: unknown): Promise<T> {
  const res = await fetch(`${local.url}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${urlPath}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function newKey(role: string): Promise<string> {
  const created = await api<{ secret: string }>(local.adminKey!, "POST", "/v1/api-keys", { name: `console-e2e-${role}`, role });
  secrets.push(created.secret);
  return created.secret;
}

async function newTab(): Promise<Tab> {
  const tab = await openTab(browser, local.url, () => secrets);
  tabs.push(tab);
  return tab;
}

async function signIn(tab: Tab, key: string): Promise<void> {
  await tab.page.goto("/");
  await tab.page.getByLabel("API key").fill(key);
  await tab.page.getByRole("button", { name: "Sign in" }).click();
}

/** The value next to a term of a page's facts list (<dt>term</dt><dd>value</dd>). */
function fact(page: Page, term: string) {
  return page.locator("dl.facts dt", { hasText: new RegExp(`^${term}$`) }).locator("xpath=following-sibling::dd[1]");
}

describe("the operator console in chromium, on the runtime of npm start", () => {
  beforeAll(async () => {
    workDir = mkdtempSync(path.join(tmpdir(), "apex-console-e2e-"));
    const consoleDir = path.join(workDir, "console");
    // Chromium first: without it, the failure names the package before anything else is built.
    browser = await launchChromium();
    await buildConsole(consoleDir);
    // As apex-local does: spans exist without an exporter, so DAGs carry trace ids for the links.
    tracing = startTracing({ serviceName: "apex-console-e2e", endpoint: null });
    local = await startLocal({
      env: { APEX_TRACE_URL_TEMPLATE: traceTemplate },
      overrides: { httpPort: 0, grpcPort: 0 },
      instanceFile: false,
      consoleDir,
    });
    expect(local.consoleUrl).toBe(`${local.url}/`);
    secrets.push(local.adminKey!);
    operatorKey = await newKey("operator");
    viewerKey = await newKey("viewer");
  }, 60_000);

  afterAll(async () => {
    for (const tab of tabs) await tab.context.close().catch(() => undefined);
    await browser?.close();
    await local?.close(2_000);
    await tracing?.shutdown();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("e) a wrong key is refused on the sign-in screen, in words, and kept nowhere", async () => {
    const tab = await newTab();
    const wrongKey = "apex_wrongwrongwrongwrongwrongwrongwrong00";
    secrets.push(wrongKey);
    await tab.page.goto("/");
    await tab.step("01-sign-in");
    await signIn(tab, wrongKey);
    const alert = tab.page.getByRole("alert");
    await alert.waitFor();
    expect((await alert.textContent())?.trim()).not.toBe("");
    expect(await tab.page.getByRole("heading", { level: 1 }).textContent()).toBe("Apex console");
    await tab.step("02-sign-in-wrong-key");
    expect(await tab.storage()).toEqual({ local: {}, session: {} });
  });

  it("a) the admin signs in, sees no usage yet, submits the example DAG and watches it live until python waits for approval", async () => {
    admin = await newTab();
    const { page } = admin;
    await signIn(admin, local.adminKey!);
    await page.getByRole("heading", { level: 1, name: "DAGs" }).waitFor();
    await admin.step("03-admin-dags-empty");
    expect(await admin.storage()).toEqual({ local: {}, session: { [sessionKeyName]: local.adminKey } });

    // d), before: nothing spent yet.
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Cost" }).click();
    await page.getByRole("heading", { level: 1, name: "Cost" }).waitFor();
    await page.getByText("No LLM usage in this period").waitFor();
    await admin.step("04-cost-before");

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Submit a DAG" }).click();
    await page.getByRole("heading", { level: 1, name: "Submit a DAG" }).waitFor();
    // No agent yet: an admin names a new one; the DAG field holds the repository's example.
    await page.getByLabel("Name", { exact: true }).fill("console-researcher");
    expect(JSON.parse(await page.getByLabel("DAG (JSON)").inputValue())).toMatchObject({ name: "research-brief" });
    await admin.step("05-submit");
    await page.getByRole("button", { name: "Submit", exact: true }).click();

    await page.waitForURL(/\/dags\/[0-9a-f-]{36}$/);
    dagId = new URL(page.url()).pathname.split("/").pop()!;
    await page.getByRole("heading", { level: 1, name: "research-brief" }).waitFor();
    await page.getByRole("status").filter({ hasText: /^Live$/ }).waitFor({ timeout: liveTimeoutMs });
    const vocabulary = page.getByRole("table", { name: "Tasks" }).getByRole("row").filter({ hasText: "vocabulary" });
    await vocabulary.getByText("awaiting approval").waitFor({ timeout: liveTimeoutMs });
    await admin.step("06-dag-awaiting-approval");
    // The page that the rest must update without a reload.
    await page.evaluate(() => Object.assign(globalThis, { apexE2eNotReloaded: true }));

    const { approvals } = await api<{ approvals: ApprovalJson[] }>(local.adminKey!, "GET", "/v1/approvals?status=pending");
    approval = approvals.find((a) => a.dag_id === dagId)!;
    expect(approval).toMatchObject({ tool: "python", status: "pending" });
  }, 60_000);

  it("c) a viewer sees the approval without an Approve button, and the API refuses the viewer's approve (403)", async () => {
    const viewer = await newTab();
    const { page } = viewer;
    await signIn(viewer, viewerKey);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Approvals" }).click();
    await page.getByRole("heading", { level: 1, name: "Approvals" }).waitFor();
    const card = page.getByRole("article", { name: "python" });
    await card.waitFor();
    await page.getByText("can view approvals but not decide them").waitFor();
    expect(await card.getByRole("button", { name: "Approve" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: /approve/i }).count()).toBe(0);
    await viewer.step("07-approvals-viewer");

    // The button is only a courtesy: the API itself refuses the viewer.
    const refused = await page.evaluate(
      async ({ id, keyName }) => {
        // In the page, with the key the console keeps (the root tsconfig has no DOM types).
        const { sessionStorage } = globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } };
        const res = await fetch(`/v1/approvals/${id}/approve`, {
          method: "POST",
          headers: { authorization: `Bearer ${sessionStorage.getItem(keyName)}`, "content-type": "application/json" },
          body: JSON.stringify({ reason: "a viewer tries" }),
        });
        return { status: res.status, body: (await res.json()) as { error?: { code?: string } } };
      },
      { id: approval.id, keyName: sessionKeyName },
    );
    expect(refused.status).toBe(403);
    expect(refused.body.error?.code).toBe("permission_denied");
    const { approvals } = await api<{ approvals: ApprovalJson[] }>(local.adminKey!, "GET", "/v1/approvals?status=pending");
    expect(approvals.map((a) => a.id)).toContain(approval.id);
  });

  it("b) an operator approves the exact python call with a reason; the admin's open DAG page turns succeeded live", async () => {
    const operator = await newTab();
    const { page } = operator;
    await signIn(operator, operatorKey);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Approvals" }).click();
    const card = page.getByRole("article", { name: "python" });
    await card.waitFor();
    // Exactly the arguments the call will receive, in full, with the DAG and who submitted it.
    expect(await card.locator("pre").textContent()).toBe(JSON.stringify(approval.args, null, 2));
    expect(await card.getByRole("link", { name: "research-brief" }).getAttribute("href")).toBe(`/dags/${dagId}`);
    if (approval.submitted_by_name) expect(await card.textContent()).toContain(approval.submitted_by_name);
    await card.getByLabel("Reason").fill("checked the code: reads its input, prints three numbers");
    await operator.step("08-approvals-operator");
    await card.getByRole("button", { name: "Approve", exact: true }).click();
    await card.getByRole("button", { name: "Yes, approve python" }).click();
    await page.getByRole("status").filter({ hasText: "Approved the call to python in DAG research-brief." }).waitFor();
    await operator.step("09-approved");

    // The admin's page, opened before the approval and never reloaded, follows the DAG to its end.
    const adminPage = admin.page;
    await adminPage.locator(".dag-header").getByText("succeeded", { exact: true }).waitFor({ timeout: liveTimeoutMs });
    await adminPage.getByRole("status").filter({ hasText: /^Finished$/ }).waitFor();
    expect(await adminPage.evaluate(() => (globalThis as { apexE2eNotReloaded?: boolean }).apexE2eNotReloaded)).toBe(true);

    const dag = await api<DagJson>(local.adminKey!, "GET", `/v1/dags/${dagId}`);
    expect(dag.status).toBe("succeeded");
    expect(dag.totals.cost_usd).toBeGreaterThan(0);
    // The page's figures are the API's, not a stale snapshot.
    await expect
      .poll(() => fact(adminPage, "Cost").textContent())
      .toBe(formatUsd(dag.totals.cost_usd));
    expect(await fact(adminPage, "Tokens").textContent()).toBe(
      `${formatCount(dag.totals.input_tokens)} in, ${formatCount(dag.totals.output_tokens)} out (${formatCount(dag.totals.cached_tokens)} cached)`,
    );
    expect(dag.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(await adminPage.getByRole("link", { name: /Trace in Jaeger/ }).getAttribute("href")).toBe(traceTemplate.replace("{trace_id}", dag.trace_id!));
    const rows = adminPage.getByRole("table", { name: "Tasks" }).getByRole("row");
    expect(await rows.filter({ hasText: "succeeded" }).count()).toBe(7);
    // The approved call's own output, from the sandboxed python, in the task's details.
    await adminPage.getByRole("button", { name: "Show task vocabulary" }).click();
    const output = adminPage.getByLabel("Output of vocabulary");
    await output.waitFor();
    expect(JSON.parse((await output.textContent())!)).toHaveProperty("result.lexical_diversity");
    expect(await adminPage.getByRole("table", { name: "Attempts of task vocabulary" }).getByRole("row").count()).toBe(2);
    await admin.step("10-dag-succeeded");
  }, 60_000);

  it("d) the Cost page shows what the run cost, in total and by model", async () => {
    const { page } = admin;
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Cost" }).click();
    await page.getByRole("heading", { level: 1, name: "Cost" }).waitFor();
    const usage = await api<{ totals: { cost_usd: number; calls: number } }>(local.adminKey!, "GET", "/v1/usage");
    expect(usage.totals.calls).toBe(5);
    const totals = page.locator('dl[aria-label="Totals"]');
    await totals.waitFor();
    expect(await totals.locator("dt", { hasText: /^Cost$/ }).locator("xpath=following-sibling::dd[1]").textContent()).toBe(formatUsdExact(usage.totals.cost_usd));
    const byModel = page.getByRole("table", { name: "Cost by model: exact values" });
    for (const model of ["local/summarize", "local/echo"]) await byModel.getByRole("row").filter({ hasText: model }).waitFor();
    const byAgent = page.getByRole("table", { name: "Cost by agent: exact values" });
    await byAgent.getByRole("row").filter({ hasText: "console-researcher" }).waitFor();
    await admin.step("11-cost-after");
  });

  it("g) the admin sets the agent's daily budget on Budgets; the API holds it, and the DAG page lists it with the day's spend", async () => {
    const { page } = admin;
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Budgets" }).click();
    await page.getByRole("heading", { level: 1, name: "Budgets" }).waitFor();
    await page.getByText("console-researcher has no budget").waitFor();
    await page.getByRole("group", { name: "Per day" }).getByLabel("USD limit").fill("5");
    await page.getByRole("button", { name: "Save budgets" }).click();
    await page.getByRole("status").filter({ hasText: "Saved the budgets of console-researcher." }).waitFor();
    const table = page.getByRole("table", { name: "Budgets of console-researcher" });
    await table.waitFor();

    const { agents } = await api<{ agents: Array<{ id: string; name: string }> }>(local.adminKey!, "GET", "/v1/agents");
    const agentId = agents.find((a) => a.name === "console-researcher")!.id;
    const { budgets } = await api<{ budgets: Array<{ period: string; limit_usd: number | null; spent_usd: number; remaining_usd: number | null }> }>(
      local.adminKey!,
      "GET",
      `/v1/agents/${agentId}/budget`,
    );
    expect(budgets).toHaveLength(1);
    expect(budgets[0]).toMatchObject({ period: "day", limit_usd: 5 });
    // Set after the run, it counts the day so far.
    expect(budgets[0]!.spent_usd).toBeGreaterThan(0);
    const today = table.getByRole("row").filter({ hasText: "Today (UTC)" });
    for (const figure of [budgets[0]!.limit_usd!, budgets[0]!.spent_usd, budgets[0]!.remaining_usd!]) await today.getByText(formatUsdExact(figure)).waitFor();
    await admin.step("15-budgets");

    await page.goto(`/dags/${dagId}`);
    const section = page.getByRole("region", { name: "Budget" });
    await section.getByRole("row").filter({ hasText: "Agent console-researcher" }).filter({ hasText: "Today (UTC)" }).waitFor();
    await admin.step("16-dag-budget");
  });

  it("f) the admin creates a key (its secret shown once) and revokes it; the tab signed in with it is signed out", async () => {
    const { page } = admin;
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "API keys" }).click();
    await page.getByRole("heading", { level: 1, name: "API keys" }).waitFor();
    await page.getByLabel("Name", { exact: true }).fill("console-e2e-ui-viewer");
    await page.getByLabel("Role").selectOption("viewer");
    await page.getByRole("button", { name: "Create key" }).click();
    const secretField = page.getByLabel("Secret");
    await secretField.waitFor();
    const secret = await secretField.inputValue();
    secrets.push(secret);
    expect(secret).toMatch(/^apex_/);
    await admin.step("12-key-created");
    await page.getByRole("button", { name: "Done, I have stored it" }).click();
    expect(await page.getByLabel("Secret").count()).toBe(0);

    const holder = await newTab();
    await signIn(holder, secret);
    await holder.page.getByRole("heading", { level: 1, name: "DAGs" }).waitFor();
    // A viewer's navigation has no screen it may not use.
    const nav = holder.page.getByRole("navigation", { name: "Main" });
    expect(await nav.getByRole("link").allTextContents()).toEqual(["DAGs", "Approvals", "Cost", "Budgets"]);

    const row = page.getByRole("table", { name: "API keys" }).getByRole("row").filter({ hasText: "console-e2e-ui-viewer" });
    await row.getByRole("button", { name: "Revoke" }).click();
    await row.getByRole("button", { name: "Yes, revoke console-e2e-ui-viewer" }).click();
    await page.getByRole("status").filter({ hasText: "Revoked “console-e2e-ui-viewer”" }).waitFor();
    await admin.step("13-key-revoked");

    // Its next request is refused: the tab is back on the sign-in screen, saying why, key forgotten.
    await nav.getByRole("link", { name: "Approvals" }).click();
    await holder.page.getByRole("button", { name: "Sign in" }).waitFor({ timeout: 15_000 });
    await holder.page.getByText("not accepted any more").waitFor();
    await holder.step("14-signed-out-after-revoke");
    expect(await holder.storage()).toEqual({ local: {}, session: {} });
  });

  it("e) no key was ever in a URL the browser requested or in localStorage; no page error, no CSP violation", async () => {
    expect(tabs.length).toBe(5);
    for (const tab of tabs) {
      expect(tab.urls.length).toBeGreaterThan(0);
      for (const url of tab.urls) for (const secret of secrets) expect(url.includes(secret), url).toBe(false);
      const storage = await tab.storage();
      expect(storage.local).toEqual({});
      expect(Object.keys(storage.session).filter((k) => k !== sessionKeyName)).toEqual([]);
      expect(tab.problems).toEqual([]);
    }
  });
});
