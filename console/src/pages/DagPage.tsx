/**
 * One DAG (/dags/:id), live: header with status, totals and links out (Jaeger, Grafana), the graph
 * of its tasks and the same tasks as a table, and the selected task in detail (`?task=<id>`); the
 * budgets that apply to it with their spend.
 * Follows the event stream until the DAG finishes; operators and admins may cancel it.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { CancelDag } from "../components/dag/CancelDag";
import { DagBudgetSection } from "../components/dag/DagBudgetSection";
import { DagGraph } from "../components/dag/DagGraph";
import { formatElapsed, isFinalDagStatus } from "../components/dag/format";
import { formatCount, formatDateTime, formatUsd } from "../components/format";
import { ExternalLink, logsUrl, traceUrl } from "../components/dag/links";
import { TaskPanel } from "../components/dag/TaskPanel";
import { TaskTable } from "../components/dag/TaskTable";
import { useLiveDag, type StreamState } from "../components/dag/use-live-dag";
import { ErrorState, Loading } from "../components/states";
import { StatusBadge } from "../components/StatusBadge";
import { useApi } from "../components/use-api";
import { useSession } from "../session";

const streamText: Record<StreamState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  finished: "Finished",
};

export function DagPage() {
  const { id = "" } = useParams();
  const { client, me, can } = useSession();
  const [params, setParams] = useSearchParams();
  const live = useLiveDag(client, id);
  const agents = useApi("agents", (signal) => client.listAgents(signal));
  const panelRef = useRef<HTMLDivElement>(null);
  const focusPanel = useRef(false);

  const selectedTaskId = params.get("task") ?? undefined;
  const select = useCallback(
    (taskId: string) => {
      focusPanel.current = true;
      setParams(
        (prev) => {
          const next = new URLSearchParams(prev);
          next.set("task", taskId);
          return next;
        },
        { replace: true },
      );
    },
    [setParams],
  );

  // After a selection the reader lands on the task's details (the heading), wherever they chose it.
  useEffect(() => {
    if (!focusPanel.current) return;
    focusPanel.current = false;
    panelRef.current?.querySelector<HTMLElement>("#task-panel-heading")?.focus();
  }, [selectedTaskId]);

  const dag = live.dag;
  const selectedTask = useMemo(() => dag?.tasks.find((t) => t.id === selectedTaskId), [dag, selectedTaskId]);

  // The running duration counts up between events (it is not in a live region: nothing is announced).
  const [now, setNow] = useState(() => Date.now());
  const running = dag !== undefined && !isFinalDagStatus(dag.status);
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, [running]);

  if (!dag) {
    if (live.error) {
      return (
        <>
          <ErrorState title="Could not load this DAG" error={live.error} onRetry={live.retry} />
          <p>
            <Link to="/dags">Back to all DAGs</Link>
          </p>
        </>
      );
    }
    return <Loading label="Loading the DAG" />;
  }

  const final = isFinalDagStatus(dag.status);
  const agentName = agents.data?.agents.find((a) => a.id === dag.agent_id)?.name;
  const trace = traceUrl(me.links, dag.trace_id);
  const logs = logsUrl(me.links, { dag_id: dag.id, ...(dag.trace_id ? { trace_id: dag.trace_id } : {}) });

  return (
    <>
      <p className="breadcrumb">
        <Link to="/dags">All DAGs</Link>
      </p>
      <div className="dag-header">
        <h1>{dag.name}</h1>
        <StatusBadge status={dag.status} />
        <p className={`live live-${final ? "finished" : live.stream}`} role="status" aria-live="polite">
          {streamText[final ? "finished" : live.stream]}
        </p>
      </div>

      <dl className="facts">
        <dt>Agent</dt>
        <dd>{agentName ?? <code>{dag.agent_id}</code>}</dd>
        <dt>Created</dt>
        <dd>{formatDateTime(dag.created_at)}</dd>
        <dt>Finished</dt>
        <dd>{dag.finished_at ? formatDateTime(dag.finished_at) : "not yet"}</dd>
        <dt>Duration</dt>
        <dd>{formatElapsed(dag.created_at, dag.finished_at, now)}</dd>
        <dt>Tokens</dt>
        <dd>
          {formatCount(dag.totals.input_tokens)} in, {formatCount(dag.totals.output_tokens)} out ({formatCount(dag.totals.cached_tokens)} cached)
        </dd>
        <dt>Cost</dt>
        <dd>{formatUsd(dag.totals.cost_usd)}</dd>
        <dt>Trace ID</dt>
        <dd>{dag.trace_id ? <code>{dag.trace_id}</code> : "none recorded"}</dd>
        <dt>DAG ID</dt>
        <dd>
          <code>{dag.id}</code>
        </dd>
      </dl>

      <div className="actions">
        {trace ? <ExternalLink href={trace}>Trace in Jaeger</ExternalLink> : null}
        {logs ? <ExternalLink href={logs}>Logs in Grafana</ExternalLink> : null}
        {can("dags:cancel") && !final ? <CancelDag dagName={dag.name} cancel={() => client.cancelDag(dag.id)} onCancelled={live.refresh} /> : null}
      </div>

      {live.refreshError ? (
        <p className="notice" role="alert">
          The latest changes could not be loaded; what you see may be out of date.
        </p>
      ) : null}

      {dag.budget ? <DagBudgetSection budget={dag.budget} agentName={agentName} /> : null}

      <section aria-labelledby="graph-heading">
        <h2 id="graph-heading">Graph</h2>
        <p className="hint">Select a task to see its details. The Tasks table below lists the same tasks.</p>
        <DagGraph tasks={dag.tasks} selectedTaskId={selectedTaskId} onSelect={select} />
      </section>

      <div className="dag-detail">
        <TaskTable tasks={dag.tasks} selectedTaskId={selectedTaskId} onSelect={select} />
        <div ref={panelRef}>
          {selectedTask ? (
            <TaskPanel task={selectedTask} dagId={dag.id} traceId={dag.trace_id} links={me.links} />
          ) : (
            <p className="hint">{selectedTaskId ? `This DAG has no task ${selectedTaskId}.` : "No task selected."}</p>
          )}
        </div>
      </div>
    </>
  );
}
