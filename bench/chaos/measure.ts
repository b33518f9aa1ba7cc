/**
 * What the chaos run counts from the database, joined with what the provider counted: every DAG
 * of the run is named `<run tag>-<n>`, every LLM prompt carries `<dag name> <task id>`.
 */
import type { Pool } from "pg";
import type { FaultWindow } from "./faults";
import type { ChaosProvider } from "./provider";
import type { SubmittedDag } from "./workload";

export interface Measurement {
  /** Tasks of the DAGs the API accepted (201), plus any DAG of the run found in the database. */
  readonly submitted: number;
  readonly succeeded: number;
  /** Not in a final status at the end. */
  readonly unfinished: number;
  /** Ended failed, skipped or cancelled (every task of the mix succeeds on a healthy runtime). */
  readonly failed: number;
  /** Tasks of DAGs answered 201 that are not in the database. */
  readonly missing: number;
  readonly failureSamples: string[];
  /** Tasks with two attempts running at once, two successes, or two provider calls in flight at once. */
  readonly runTwice: number;
  readonly runTwiceSamples: string[];
  /** Attempts still `running` on a task that has finished. */
  readonly strandedAttempts: number;
  readonly attemptRows: number;
  /** python tasks (printing a NUL) that succeeded. */
  readonly nulToolSucceeded: number;
  readonly providerCalls: number;
  readonly answered: number;
  /** Rows in `usage` for the run's tasks. */
  readonly recorded: number;
  /** Rows in an LLM-calls table, when the schema has one (name and count). */
  readonly callsTable?: { readonly name: string; readonly rows: number };
  /** Paid answers beyond the first per task, whatever the reason (a worker killed between answer and record, too). */
  readonly answeredAgain: number;
  /** Paid answers beyond the first per task, except after a kill that came between an answer and its record. */
  readonly paidTwice: number;
  readonly paidTwiceSamples: string[];
  /** Answers without a usage row, per task. */
  readonly unrecorded: number;
}

const key = (dagName: string, taskId: string) => `${dagName}/${taskId}`;

/**
 * A worker SIGKILLed by the run between receiving an answer and storing it could not help the next
 * attempt calling again (Anthropic takes no idempotency key): a second paid answer is excused when
 * the previous one came at most this long before a kill and nothing was stored before the new call.
 */
const killWindowMs = 2_000;

export async function measure(
  db: Pool,
  runTag: string,
  accepted: readonly SubmittedDag[],
  provider: ChaosProvider,
  killTimes: readonly number[],
  windows: readonly FaultWindow[],
): Promise<Measurement> {
  const during = (t: number) => windows.find((w) => w.from <= t && t <= w.to)?.name ?? "no fault";
  const like = `${runTag}-%`;
  const tasks = await db.query<{ dag_id: string; name: string; id: string; status: string; error: string | null }>(
    `SELECT d.id AS dag_id, d.name, t.id, t.status, t.error FROM dags d JOIN tasks t ON t.dag_id = d.id WHERE d.name LIKE $1`,
    [like],
  );
  const inDb = new Set(tasks.rows.map((t) => t.dag_id));
  const missingDags = accepted.filter((d) => !inDb.has(d.id));
  const final = new Set(["succeeded", "failed", "skipped", "cancelled"]);
  const failedRows = tasks.rows.filter((t) => ["failed", "skipped", "cancelled"].includes(t.status));
  const failureKinds = new Map<string, number>();
  for (const t of failedRows) {
    const what = `${t.id} ${t.status}: ${(t.error ?? "").slice(0, 140)}`;
    failureKinds.set(what, (failureKinds.get(what) ?? 0) + 1);
  }

  const twice = await db.query<{ name: string; task_id: string; why: string }>(
    `WITH mine AS (SELECT id, name FROM dags WHERE name LIKE $1)
     SELECT m.name, a.task_id, 'attempts ' || a.number || ' and ' || b.number || ' overlapped' AS why
       FROM attempts a JOIN attempts b ON b.dag_id = a.dag_id AND b.task_id = a.task_id AND b.number > a.number
       JOIN mine m ON m.id = a.dag_id
      WHERE b.started_at < coalesce(a.finished_at, 'infinity')
     UNION ALL
     SELECT m.name, a.task_id, count(*) || ' successful attempts'
       FROM attempts a JOIN mine m ON m.id = a.dag_id WHERE a.status = 'succeeded'
      GROUP BY m.name, a.task_id HAVING count(*) > 1`,
    [like],
  );
  const runTwice = new Map<string, string>();
  for (const r of twice.rows) runTwice.set(key(r.name, r.task_id), r.why);
  for (const [k, c] of provider.calls) if (c.concurrent > 0) runTwice.set(k, `${c.concurrent + 1} provider calls in flight at once`);

  const attempts = await db.query<{ rows: number; stranded: number }>(
    `SELECT count(*)::int AS rows,
            count(*) FILTER (WHERE a.status = 'running' AND t.status IN ('succeeded', 'failed', 'skipped', 'cancelled'))::int AS stranded
       FROM attempts a JOIN tasks t ON t.dag_id = a.dag_id AND t.id = a.task_id JOIN dags d ON d.id = a.dag_id WHERE d.name LIKE $1`,
    [like],
  );

  // A usage row with unknown counts (a call in flight when its worker died) records a call, but not an answer.
  const unknownColumn = await db.query(`SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'usage' AND column_name = 'unknown'`);
  const known = unknownColumn.rowCount ? "NOT u.unknown" : "true";
  const usage = await db.query<{ name: string; task_id: string; n: number; first_answer_ms: number | null }>(
    `SELECT d.name, u.task_id, count(*)::int AS n, (extract(epoch FROM min(u.created_at) FILTER (WHERE ${known})) * 1000)::float8 AS first_answer_ms
       FROM usage u JOIN dags d ON d.id = u.dag_id WHERE d.name LIKE $1 GROUP BY 1, 2`,
    [like],
  );
  const usageOf = new Map(usage.rows.map((r) => [key(r.name, r.task_id), r]));

  let providerCalls = 0;
  let answered = 0;
  let answeredAgain = 0;
  let paidTwice = 0;
  let unrecorded = 0;
  const paidTwiceSamples: string[] = [];
  for (const [k, c] of provider.calls) {
    const u = usageOf.get(k);
    const storedBefore = (at: number) => u?.first_answer_ms != null && u.first_answer_ms < at;
    const killedAfter = (answeredAt: number) => killTimes.some((kill) => kill >= answeredAt && kill - answeredAt <= killWindowMs);
    providerCalls += c.requests;
    answered += c.paid.length;
    answeredAgain += Math.max(0, c.paid.length - 1);
    // Paid twice: the provider answered (and charged) again although it had answered this task before.
    const again = c.paid.slice(1).filter((next, i) => storedBefore(next.at) || !killedAfter(c.paid[i]!.answeredAt));
    paidTwice += again.length;
    if (again.length > 0 && paidTwiceSamples.length < 5) {
      const stored = again.filter((p) => storedBefore(p.at)).length;
      paidTwiceSamples.push(
        `${k}: ${c.paid.length} paid answers of ${c.requests} calls (${stored} sent after an answer was stored), ${u?.n ?? 0} usage rows; ` +
          `first answer during ${during(c.paid[0]!.answeredAt)}, again during ${again.map((p) => during(p.at)).join(", ")}`,
      );
    }
    unrecorded += Math.max(0, c.paid.length - (u?.n ?? 0));
  }

  return {
    submitted: Math.max(
      accepted.reduce((s, d) => s + d.tasks, 0),
      tasks.rows.length + missingDags.reduce((s, d) => s + d.tasks, 0),
    ),
    succeeded: tasks.rows.filter((t) => t.status === "succeeded").length,
    unfinished: tasks.rows.filter((t) => !final.has(t.status)).length,
    failed: failedRows.length,
    missing: missingDags.reduce((s, d) => s + d.tasks, 0),
    failureSamples: [...failureKinds].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([what, n]) => `${n} x ${what}`),
    runTwice: runTwice.size,
    runTwiceSamples: [...runTwice].slice(0, 5).map(([k, why]) => `${k}: ${why}`),
    strandedAttempts: attempts.rows[0]!.stranded,
    attemptRows: attempts.rows[0]!.rows,
    nulToolSucceeded: tasks.rows.filter((t) => t.id === "nul_tool" && t.status === "succeeded").length,
    providerCalls,
    answered,
    recorded: usage.rows.reduce((s, r) => s + r.n, 0),
    callsTable: await llmCallsTable(db, like),
    answeredAgain,
    paidTwice,
    paidTwiceSamples,
    unrecorded,
  };
}

/** An LLM-calls table (e.g. `llm_calls`), if a migration added one: its rows for the run's DAGs. */
async function llmCallsTable(db: Pool, like: string): Promise<{ name: string; rows: number } | undefined> {
  const found = await db.query<{ table_name: string }>(
    `SELECT c.table_name FROM information_schema.columns c
      WHERE c.table_schema = 'public' AND c.column_name = 'dag_id' AND c.table_name ~ '(llm|provider).*call'
      ORDER BY 1 LIMIT 1`,
  );
  const name = found.rows[0]?.table_name;
  if (!name) return undefined;
  const rows = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM "${name.replace(/"/g, '""')}" x JOIN dags d ON d.id = x.dag_id WHERE d.name LIKE $1`,
    [like],
  );
  return { name, rows: rows.rows[0]!.n };
}
