/**
 * A DAG drawn as a graph (React Flow, laid out by dagre): one node per task, an arrow per
 * dependency. Each node is a button (Tab to it, Enter or click selects the task) whose text says
 * the task's id, kind and status (and, in its name, why a ready task waits or that a budget stopped
 * it); the status colours the border too, never alone. The Tasks table beside it is the full
 * alternative for screen readers.
 */
import { Controls, Handle, MarkerType, Position, ReactFlow, type Edge, type Node, type NodeProps } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useMemo } from "react";
import type { Task } from "../../api/types";
import { StatusBadge } from "../StatusBadge";
import { taskNote } from "./format";
import { layoutTasks, taskNodeSize } from "./graph-layout";

interface TaskNodeData extends Record<string, unknown> {
  readonly task: Task;
  readonly selected: boolean;
  readonly onSelect: (taskId: string) => void;
}

type TaskNode = Node<TaskNodeData, "task">;

function TaskNodeView({ data }: NodeProps<TaskNode>) {
  const { task, selected, onSelect } = data;
  const note = taskNote(task);
  return (
    <>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <button
        type="button"
        className={`task-node task-node-${task.status}`}
        aria-pressed={selected}
        aria-label={`Task ${task.id}, ${task.kind}, ${task.status.replaceAll("_", " ")}${note ? `, ${note}` : ""}`}
        title={note}
        onClick={() => onSelect(task.id)}
      >
        <span className="task-node-id">{task.id}</span>
        <span className="task-node-meta">
          <span className="task-node-kind">{task.kind}</span> <StatusBadge status={task.status} />
        </span>
      </button>
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </>
  );
}

const nodeTypes = { task: TaskNodeView };

export function DagGraph({ tasks, selectedTaskId, onSelect }: { tasks: readonly Task[]; selectedTaskId?: string; onSelect(taskId: string): void }) {
  // The layout depends on the shape only, so a status change does not move anything.
  const shape = tasks.map((t) => `${t.id}<${t.depends_on.join(",")}`).join(";");
  // eslint-disable-next-line react-hooks/exhaustive-deps -- `shape` stands for the tasks' ids and edges
  const positions = useMemo(() => layoutTasks(tasks), [shape]);

  const nodes = useMemo<TaskNode[]>(
    () =>
      tasks.map((task) => ({
        id: task.id,
        type: "task",
        position: positions.get(task.id) ?? { x: 0, y: 0 },
        data: { task, selected: task.id === selectedTaskId, onSelect },
        width: taskNodeSize.width,
        height: taskNodeSize.height,
        sourcePosition: Position.Right,
        targetPosition: Position.Left,
      })),
    [tasks, positions, selectedTaskId, onSelect],
  );

  const edges = useMemo<Edge[]>(() => {
    const ids = new Set(tasks.map((t) => t.id));
    return tasks.flatMap((task) =>
      task.depends_on
        .filter((dep) => ids.has(dep))
        .map((dep) => ({
          id: `${dep}->${task.id}`,
          source: dep,
          target: task.id,
          animated: task.status === "running",
          markerEnd: { type: MarkerType.ArrowClosed },
          ariaLabel: `${task.id} depends on ${dep}`,
        })),
    );
  }, [tasks]);

  return (
    <div className="dag-graph">
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onNodeClick={(_event, node) => onSelect(node.id)}
        nodesDraggable={false}
        nodesConnectable={false}
        nodesFocusable={false}
        edgesFocusable={false}
        elementsSelectable={false}
        fitView
        minZoom={0.2}
      >
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
