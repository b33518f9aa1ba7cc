/**
 * `npm run bench:budgets`: what hard spend budgets (issue 16, migration 0010) cost an LLM call's
 * bookkeeping, on Postgres and on PGlite, side by side in one run: the same calls with no budget,
 * with three budgets that never refuse (one agent budget shared by every caller), and with a budget
 * that refuses most calls. Prints a line per run, a table of medians and, last, one `ratio` line
 * per store and budgeted variant. docs/performance.md ("Budgets") explains the figures.
 */
import os from "node:os";
import path from "node:path";
import { runtimeEnv } from "../../app/src/contract/env";
import { openDb, type Db } from "../../app/src/store/db";
import { migrate } from "../../app/src/store/migrate";
import { assertLoopback, dropDatabase, recreateDatabase } from "../engine/bench-database";
import { recordUsageHistory, runVariant } from "./call-path";
import { sampleLockWaits } from "./lock-waits";
import { parseOptions, usage, type BudgetBenchOptions, type StoreName } from "./options";
import { appSourceDescription } from "../app-source";
import { optionsOrExit } from "../command-line";
import { ratioLine, resultsTable, runLine, type VariantResults } from "./report";
import { variants, worstCase } from "./variants";

let stage = "starting";
const warmUpCallsPerCaller = 2;

async function postgresSettings(db: Db): Promise<string> {
  const r = await db.query<{ version: string; sync: string; fsync: string }>(
    "SELECT current_setting('server_version') AS version, current_setting('synchronous_commit') AS sync, current_setting('fsync') AS fsync",
  );
  const s = r.rows[0]!;
  return `Postgres ${s.version} (synchronous_commit ${s.sync}, fsync ${s.fsync})`;
}

async function openStore(store: StoreName, url: string, poolSize: number, usageRows: number): Promise<Db> {
  const db = store === "postgres" ? await openDb({ databaseUrl: url, poolSize }) : await openDb();
  await migrate(db);
  await recordUsageHistory(db, usageRows);
  return db;
}

async function bench(o: BudgetBenchOptions): Promise<void> {
  assertLoopback(o.databaseUrl, runtimeEnv.databaseUrl);
  const usesPostgres = o.stores.includes("postgres");
  stage = `creating database ${o.database}`;
  const benchUrl = usesPostgres ? await recreateDatabase(o.databaseUrl, o.database) : "";
  stage = "opening and migrating the stores";
  const stores = new Map<StoreName, Db>();
  for (const s of o.stores) stores.set(s, await openStore(s, benchUrl, o.callers, o.usageRows));

  const pg = stores.get("postgres");
  const samplerOf = (store: StoreName) => (store === "postgres" ? () => sampleLockWaits(benchUrl) : undefined);
  console.log(
    `budget bench: ${o.callers} callers x ${o.callsPerCaller} calls each, ${o.reps} repetition(s) of every variant, interleaved\n` +
      `  Apex app/ at ${appSourceDescription(path.join(__dirname, "../../app"))}; Node ${process.version}, ${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(1)} at start\n` +
      `  stores: ${o.stores.join(", ")}${pg ? `; ${await postgresSettings(pg)}, database ${o.database}, a pool of ${o.callers} connections (one per caller)` : ""}\n` +
      `  call path: the store's beginCall and recordAnswer (app/src/store/queries/llm-calls.ts), as engine/paid-once.ts makes them, on tasks\n` +
      `    claimed and started by engine/lifecycle.ts claimTasks; no provider and no worker loop, so the figures are the database's\n` +
      `    cost of one call's bookkeeping, which is all a budget adds. Worst case $${(worstCase.microUsd / 1e6).toFixed(6)} / ${worstCase.tokens} tokens; every answer costs exactly that.\n` +
      `    Each caller has its own DAG and API key; all share one agent. Usage recorded before the runs (another agent's, this month): ${o.usageRows} rows.`,
  );
  for (const v of variants) console.log(`  ${v.name}: ${v.description}`);

  // Every connection compiles the plpgsql functions and caches plans at its first calls: that goes
  // to a warm-up of every variant on every store, so no variant's first repetition pays it.
  stage = "warming up";
  for (const [store, db] of stores) {
    for (const v of variants) await runVariant(db, v, { callers: o.callers, callsPerCaller: warmUpCallsPerCaller }, samplerOf(store));
  }
  console.log(`  warm-up: every variant once on every store at ${warmUpCallsPerCaller} calls per caller (not counted)`);

  const results: VariantResults[] = o.stores.flatMap((store) => variants.map((v) => ({ store, variant: v.name, runs: [] })));
  const size = { callers: o.callers, callsPerCaller: o.callsPerCaller };
  for (let rep = 1; rep <= o.reps; rep++) {
    for (const [store, db] of stores) {
      for (const v of variants) {
        stage = `${store} ${v.name} (repetition ${rep})`;
        const run = await runVariant(db, v, size, samplerOf(store));
        results.find((r) => r.store === store && r.variant === v.name)!.runs.push(run);
        console.log(runLine(rep, store, run));
      }
    }
  }

  stage = "closing the stores";
  for (const db of stores.values()) await db.close();
  if (usesPostgres) await dropDatabase(o.databaseUrl, o.database);

  console.log("");
  console.log(resultsTable(results));
  console.log("");
  console.log("medians over the repetitions; latencies: each repetition's p50/p99, median over the repetitions. PGlite runs every query");
  console.log("on one connection, so its latencies include the wait for it. lock-waiting connections: the bench database's backends");
  console.log("waiting on a row or transaction lock, sampled from pg_stat_activity every 20 ms during the calls (Postgres only).");
  console.log("");
  for (const r of results) {
    if (r.variant === "no-budget") continue;
    console.log(ratioLine(r, results.find((b) => b.store === r.store && b.variant === "no-budget")!));
  }
}

async function main(): Promise<void> {
  const options = optionsOrExit(parseOptions, usage);
  if (!options) return;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.error(`budget bench: ${signal} while ${stage}`);
      process.exit(130);
    });
  }
  const timeout = setTimeout(() => {
    console.error(`budget bench: timed out after ${options.timeoutMs / 1000} s while ${stage} (database ${options.database} kept)`);
    process.exit(3);
  }, options.timeoutMs);
  try {
    await bench(options);
  } catch (err) {
    console.error(`budget bench failed while ${stage}: ${(err as Error).message}\n  database ${options.database} kept`);
    process.exit(1);
  }
  clearTimeout(timeout);
  process.exit(0);
}

void main();
