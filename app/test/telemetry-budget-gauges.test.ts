/**
 * Issue 16's budget metrics as a scrape shows them, on Postgres and PGlite: one series per agent or
 * API key budget and kind of limit (apex_budget_remaining_usd / _limit_usd / _remaining_tokens /
 * _limit_tokens {scope, scope_id, period}), remaining = limit - spent - reserved from the budget's
 * window or, before its first call, from the usage table; none for DAG budgets; a removed budget's
 * series gone at the next scrape. And apex_budget_rejections_total{scope} starting at 0.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { budgetScopes } from "../src/domain/budget";
import { StoreApexService } from "../src/service/apex-service";
import { replaceBudgets } from "../src/store/queries/budgets";
import { clusterSnapshotQuery } from "../src/telemetry/cluster-gauges";
import { registerClusterGauges, renderMetrics, unregisterClusterGauges } from "../src/telemetry/metrics";
import { initialiseSeries } from "../src/telemetry/record";
import { openMigratedDb, storeKinds, type MigratedDb } from "./helpers/db";
import { testTools } from "./helpers/engine-doubles";
import { parseExposition } from "./telemetry-support/exposition";

const budgetGauges = ["apex_budget_remaining_usd", "apex_budget_limit_usd", "apex_budget_remaining_tokens", "apex_budget_limit_tokens"] as const;
type BudgetGauge = (typeof budgetGauges)[number];

/** A scrape's series of each budget gauge as `scope/scope_id/period` -> value. */
type Scraped = Record<BudgetGauge, Record<string, number>>;

async function scrapeBudgets(): Promise<Scraped> {
  const families = parseExposition((await renderMetrics()).body);
  const out = {} as Scraped;
  for (const name of budgetGauges) {
    const family = families.get(name);
    expect(family?.type, `${name} is exposed as a gauge`).toBe("gauge");
    out[name] = {};
    for (const s of family!.samples) {
      expect(Object.keys(s.labels).sort(), name).toEqual(["period", "scope", "scope_id"]);
      out[name][`${s.labels.scope}/${s.labels.scope_id}/${s.labels.period}`] = s.value;
    }
  }
  return out;
}

describe.each(storeKinds)("budget gauges on %s", (kind) => {
  let store: MigratedDb;
  let service: StoreApexService;
  /** The key the DAG is submitted with: its usage counts against this key's budgets. */
  const keyId = `key-gauges-${kind}`;
  let agentId: string;

  /**
   * A scrape that reads Postgres now: re-registering drops the gauges' 1 s snapshot, which would
   * otherwise answer a scrape made right after a change with the values from before it.
   */
  const scrapeNow = () => {
    registerClusterGauges(clusterSnapshotQuery(store.db));
    return scrapeBudgets();
  };

  beforeAll(async () => {
    store = await openMigratedDb(kind);
    service = new StoreApexService({ db: store.db, events: store.events, tools: testTools() });
    agentId = (await service.createAgent({ name: `budget-gauges-${kind}` })).id;
    // One recorded call: $1.25, 1000 + 500 tokens, by the agent, with the key.
    const { id: dagId } = await service.submitDag(
      { agent_id: agentId, name: "spent", tasks: [{ id: "t", kind: "tool", tool: "sleep", args: { key: "t", ms: 1 } }] },
      { keyId, role: "admin" },
    );
    await store.db.query(
      `INSERT INTO usage (dag_id, task_id, agent_id, attempt, provider, model, input_tokens, output_tokens, cost_usd, price_version)
       VALUES ($1, 't', $2, 1, 'openai', 'openai/gpt-4o', 1000, 500, 1.25, 'test')`,
      [dagId, agentId],
    );
    // A DAG's own budget: no gauge (it lives as long as its DAG; the API shows it).
    await store.db.query("INSERT INTO budgets (scope, scope_id, period, limit_micro_usd) VALUES ('dag', $1, 'total', 1000000)", [dagId]);
  });
  afterAll(async () => {
    unregisterClusterGauges();
    await store?.close();
  });

  it("one series per budget and kind of limit, remaining = limit - spent - reserved, with its scope, scope_id and period", async () => {
    await replaceBudgets(store.db, "agent", agentId, { total: { microUsd: 10_000_000, tokens: 100_000 }, day: { microUsd: 5_000_000 } }, "test");
    await replaceBudgets(store.db, "api_key", keyId, { month: { tokens: 50_000 } }, "test");
    // A total budget gets its window when it is set, from the spend recorded so far.
    const totalWindow = `SELECT w.* FROM budget_windows w JOIN budgets b ON b.id = w.budget_id
                          WHERE b.scope = 'agent' AND b.scope_id = $1 AND b.period = 'total'`;
    const created = await store.db.query<{ spent_micro_usd: string; spent_tokens: string }>(totalWindow, [agentId]);
    expect(created.rows.map((w) => [Number(w.spent_micro_usd), Number(w.spent_tokens)])).toEqual([[1_250_000, 1_500]]);
    // Then calls reserve and settle in it: its window (spent and held by calls in flight) is what
    // counts, not the usage table. The day budget has no window yet and counts the usage rows.
    await store.db.query(
      `UPDATE budget_windows SET spent_micro_usd = 2000000, spent_tokens = 20000, reserved_micro_usd = 500000, reserved_tokens = 1000
        WHERE id IN (SELECT id FROM (${totalWindow}) w)`,
      [agentId],
    );

    const scraped = await scrapeNow();
    const agent = (period: string) => `agent/${agentId}/${period}`;
    const key = `api_key/${keyId}/month`;
    expect(scraped).toEqual({
      apex_budget_remaining_usd: { [agent("total")]: 10 - 2 - 0.5, [agent("day")]: 5 - 1.25 },
      apex_budget_limit_usd: { [agent("total")]: 10, [agent("day")]: 5 },
      // The day budget has no token limit and the key's budget no USD limit: no series for those.
      apex_budget_remaining_tokens: { [agent("total")]: 100_000 - 20_000 - 1_000, [key]: 50_000 - 1_500 },
      apex_budget_limit_tokens: { [agent("total")]: 100_000, [key]: 50_000 },
    });
  });

  it("a removed budget's series go at the next scrape, and so do those of a limit it no longer has", async () => {
    // The agent keeps only its total budget, now with a token limit alone; the key has none left.
    await replaceBudgets(store.db, "agent", agentId, { total: { tokens: 100_000 } }, "test");
    await replaceBudgets(store.db, "api_key", keyId, {}, "test");

    const scraped = await scrapeNow();
    expect(scraped).toEqual({
      apex_budget_remaining_usd: {},
      apex_budget_limit_usd: {},
      // The period's spend is kept across the change.
      apex_budget_remaining_tokens: { [`agent/${agentId}/total`]: 100_000 - 20_000 - 1_000 },
      apex_budget_limit_tokens: { [`agent/${agentId}/total`]: 100_000 },
    });
  });
});

describe("apex_budget_rejections_total", () => {
  it("starts at 0 for every budget scope, so rate() sees the first refusal", async () => {
    initialiseSeries();
    const family = parseExposition((await renderMetrics()).body).get("apex_budget_rejections_total");
    expect(family?.type).toBe("counter");
    const byScope = Object.fromEntries(family!.samples.map((s) => [JSON.stringify(s.labels), s.value]));
    expect(byScope).toEqual(Object.fromEntries(budgetScopes.map((scope) => [JSON.stringify({ scope }), 0])));
    expect([...budgetScopes].sort()).toEqual(["agent", "api_key", "dag"]);
  });
});
