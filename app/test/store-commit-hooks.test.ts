/**
 * Side effects of a transaction outside the database (apex_tasks_total, the DAG's root span) happen
 * only once it commits: a rolled-back status change is neither counted nor traced.
 */
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emitDagStatus, emitTaskStatus } from "../src/engine/events";
import { onCommit } from "../src/store/db";
import { renderMetrics } from "../src/telemetry/metrics";
import { beginDagTrace, spanNames } from "../src/telemetry/spans";
import { startTracing, type Tracing } from "../src/telemetry/tracing";
import { openMigratedDb, storeKinds, type MigratedDb } from "./helpers/db";
import { parseExposition, sampleValue } from "./telemetry-support/exposition";

const memory = new InMemorySpanExporter();
let tracing: Tracing;

beforeAll(() => {
  tracing = startTracing({ serviceName: "apex-worker", endpoint: null, spanProcessors: [new SimpleSpanProcessor(memory)] });
});
afterAll(async () => {
  await tracing.shutdown();
});

async function tasksTotal(status: string): Promise<number> {
  return sampleValue(parseExposition((await renderMetrics()).body), "apex_tasks_total", { status }) ?? 0;
}

class Rollback extends Error {}

describe.each(storeKinds)("after-commit hooks on %s", (kind) => {
  let store: MigratedDb;
  beforeAll(async () => {
    store = await openMigratedDb(kind);
  });
  afterAll(async () => {
    await store.close();
  });

  it("run after COMMIT, in order, never after ROLLBACK; nested transactions join the outer one", async () => {
    const ran: string[] = [];
    await store.db.transaction(async (tx) => {
      onCommit(tx, () => ran.push("first"));
      await tx.transaction(async (inner) => onCommit(inner, () => ran.push("nested")));
      await tx.query("SELECT 1");
      expect(ran).toEqual([]);
    });
    expect(ran).toEqual(["first", "nested"]);

    await expect(
      store.db.transaction(async (tx) => {
        onCommit(tx, () => ran.push("rolled back"));
        throw new Rollback("no");
      }),
    ).rejects.toBeInstanceOf(Rollback);
    expect(ran).toEqual(["first", "nested"]);

    onCommit(store.db, () => ran.push("autocommit"));
    expect(ran).toEqual(["first", "nested", "autocommit"]);
  });

  it("a hook that throws neither hides the commit nor stops the other hooks", async () => {
    const ran: string[] = [];
    const value = await store.db.transaction(async (tx) => {
      onCommit(tx, () => {
        throw new Error("hook broke");
      });
      onCommit(tx, () => ran.push("second"));
      return 42;
    });
    expect(value).toBe(42);
    expect(ran).toEqual(["second"]);
  });

  it("a terminal task status is counted in apex_tasks_total only once committed", async () => {
    const dagId = "00000000-0000-0000-0000-00000000000a";
    const before = await tasksTotal("succeeded");
    await expect(
      store.db.transaction(async (tx) => {
        await emitTaskStatus(tx, dagId, ["a", "b"], "succeeded");
        throw new Rollback("constraint failed later in the transaction");
      }),
    ).rejects.toBeInstanceOf(Rollback);
    expect(await tasksTotal("succeeded")).toBe(before);

    await store.db.transaction((tx) => emitTaskStatus(tx, dagId, ["a", "b"], "succeeded"));
    expect(await tasksTotal("succeeded")).toBe(before + 2);
  });

  it("a DAG's root span is exported only when its terminal status commits", async () => {
    const agent = await store.db.query<{ id: string }>("INSERT INTO agents (name) VALUES ($1) RETURNING id", [`hooks-${kind}`]);
    const agentId = agent.rows[0]!.id;
    const dag = await store.db.query<{ id: string }>("INSERT INTO dags (agent_id, name) VALUES ($1, 'hooked') RETURNING id", [agentId]);
    const dagId = dag.rows[0]!.id;
    const trace = beginDagTrace({ dagId, agentId, name: "hooked" });
    await store.db.query("UPDATE dags SET trace_context = $2::jsonb WHERE id = $1", [dagId, JSON.stringify(trace.carrier)]);
    // Export waits for the resource's async attributes: flush before looking.
    const rootSpans = async () => {
      await tracing.forceFlush();
      return memory.getFinishedSpans().filter((s) => s.name === spanNames.dag && s.spanContext().traceId === trace.traceId);
    };

    await expect(
      store.db.transaction(async (tx) => {
        await emitDagStatus(tx, dagId, "succeeded");
        throw new Rollback("the DAG did not end after all");
      }),
    ).rejects.toBeInstanceOf(Rollback);
    expect(await rootSpans()).toHaveLength(0);

    await store.db.transaction((tx) => emitDagStatus(tx, dagId, "failed"));
    expect(await rootSpans()).toHaveLength(1);
    expect((await rootSpans())[0]!.attributes["apex.dag.status"]).toBe("failed");
  });
});
