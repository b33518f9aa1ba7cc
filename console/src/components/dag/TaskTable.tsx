/**
 * Every task of a DAG as a table: the graph's accessible alternative (a canvas says nothing to a
 * screen reader) and the quickest way to compare tasks. "Show" selects a task for the panel.
 */
import { Link } from "react-router";
import type { Task } from "../../api/types";
import { StatusBadge } from "../StatusBadge";
import { formatCount, formatUsd } from "../format";
import { taskNote, totalTokens } from "./format";

export function TaskTable({ tasks, selectedTaskId, onSelect }: { tasks: readonly Task[]; selectedTaskId?: string; onSelect(taskId: string): void }) {
  return (
    <div className="table-scroll">
      <table className="task-table">
        <caption>Tasks</caption>
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Kind</th>
            <th scope="col">Status</th>
            <th scope="col">Depends on</th>
            <th scope="col">Attempts</th>
            <th scope="col">Tokens</th>
            <th scope="col">Cost</th>
            <th scope="col">
              <span className="visually-hidden">Details</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {tasks.map((task) => (
            <tr key={task.id} aria-selected={task.id === selectedTaskId} className={task.id === selectedTaskId ? "selected" : undefined}>
              <th scope="row">
                <code>{task.id}</code>
              </th>
              <td>{task.kind}</td>
              <td>
                <StatusBadge status={task.status} />
                {taskNote(task) ? <span className="task-note"> {taskNote(task)}</span> : null}
                {task.status === "awaiting_approval" ? (
                  <>
                    {" "}
                    <Link to="/approvals">Review in Approvals</Link>
                  </>
                ) : null}
              </td>
              <td>{task.depends_on.length > 0 ? task.depends_on.join(", ") : "—"}</td>
              <td>{task.attempts.length}</td>
              <td>{formatCount(totalTokens(task.usage))}</td>
              <td>{formatUsd(task.usage.cost_usd)}</td>
              <td>
                <button type="button" aria-pressed={task.id === selectedTaskId} onClick={() => onSelect(task.id)}>
                  Show <span className="visually-hidden">task {task.id}</span>
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
