/**
 * One task in detail: status (and why it waits), error (a budget's refusal in words), output,
 * attempts, token usage and cost, and a link to its logs. Output is shown as pretty JSON, or as
 * the text it is.
 */
import { Link } from "react-router";
import type { Me, Task } from "../../api/types";
import { StatusBadge } from "../StatusBadge";
import { formatCount, formatDateTime, formatUsd } from "../format";
import { budgetRefusal } from "./format";
import { ExternalLink, logsUrl } from "./links";

const waitingReasons: Record<string, string> = {
  provider: "Waiting for its LLM provider: the provider's circuit breaker is open, so no attempt starts until it closes.",
  budget:
    "Waiting for budget: its next LLM call's worst case does not fit a budget yet. It starts when calls in flight settle, or when the period resets if its DAG asked to wait for that; no attempt is spent meanwhile.",
};

function outputText(output: unknown): string {
  return typeof output === "string" ? output : JSON.stringify(output, null, 2);
}

export function TaskPanel({ task, dagId, traceId, links }: { task: Task; dagId: string; traceId?: string; links: Me["links"] }) {
  const logs = logsUrl(links, { dag_id: dagId, task_id: task.id, ...(traceId ? { trace_id: traceId } : {}) });
  const refusal = budgetRefusal(task.error);
  return (
    <section className="task-panel" aria-labelledby="task-panel-heading">
      <h2 id="task-panel-heading" tabIndex={-1}>
        Task <code>{task.id}</code>
      </h2>
      <dl className="facts">
        <dt>Kind</dt>
        <dd>{task.kind}</dd>
        <dt>Status</dt>
        <dd>
          <StatusBadge status={task.status} />
          {task.status === "awaiting_approval" ? (
            <>
              {" "}
              An operator must approve its tool call: <Link to="/approvals">review it in Approvals</Link>.
            </>
          ) : null}
        </dd>
        {task.waiting_for ? (
          <>
            <dt>Waiting for</dt>
            <dd>{waitingReasons[task.waiting_for] ?? task.waiting_for}</dd>
          </>
        ) : null}
        <dt>Depends on</dt>
        <dd>{task.depends_on.length > 0 ? task.depends_on.join(", ") : "nothing"}</dd>
        {logs ? (
          <>
            <dt>Logs</dt>
            <dd>
              <ExternalLink href={logs}>Task logs in Grafana</ExternalLink>
            </dd>
          </>
        ) : null}
      </dl>

      {refusal !== undefined ? (
        <>
          <h3>Stopped by a budget</h3>
          <p>The LLM call was refused before it was sent (nothing was spent on it), and the task failed without a retry.</p>
          <p className="task-error budget-refusal">{refusal}</p>
        </>
      ) : task.error ? (
        <>
          <h3>Error</h3>
          <pre className="task-error">{task.error}</pre>
        </>
      ) : null}

      <h3>Output</h3>
      {task.output === undefined ? <p className="hint">No output yet.</p> : <pre aria-label={`Output of ${task.id}`}>{outputText(task.output)}</pre>}

      <h3>Usage</h3>
      <table className="usage-table">
        <caption className="visually-hidden">Usage of task {task.id}</caption>
        <thead>
          <tr>
            <th scope="col">Input tokens</th>
            <th scope="col">Output tokens</th>
            <th scope="col">Cached tokens</th>
            <th scope="col">Cost (USD)</th>
          </tr>
        </thead>
        <tbody>
          <tr>
            <td>{formatCount(task.usage.input_tokens)}</td>
            <td>{formatCount(task.usage.output_tokens)}</td>
            <td>{formatCount(task.usage.cached_tokens)}</td>
            <td>{formatUsd(task.usage.cost_usd)}</td>
          </tr>
        </tbody>
      </table>

      <h3>Attempts</h3>
      {task.attempts.length === 0 ? (
        <p className="hint">No attempt has started yet.</p>
      ) : (
        <table>
          <caption className="visually-hidden">Attempts of task {task.id}</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Status</th>
              <th scope="col">Worker</th>
              <th scope="col">Started</th>
              <th scope="col">Finished</th>
              <th scope="col">Error</th>
              <th scope="col">Counted</th>
            </tr>
          </thead>
          <tbody>
            {task.attempts.map((a) => (
              <tr key={a.number}>
                <td>{a.number}</td>
                <td>
                  <StatusBadge status={a.status} />
                </td>
                <td>
                  <code>{a.worker_id}</code>
                </td>
                <td>{formatDateTime(a.started_at)}</td>
                <td>{formatDateTime(a.finished_at)}</td>
                <td>{a.error ?? "—"}</td>
                <td>{a.spent === false ? "No (rescheduled)" : "Yes"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
