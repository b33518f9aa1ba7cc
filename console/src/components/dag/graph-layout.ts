/** Positions a DAG's tasks left to right with dagre: dependencies on the left, dependents right. */
import dagre from "@dagrejs/dagre";
import type { Task } from "../../api/types";

export const taskNodeSize = { width: 190, height: 64 } as const;

export interface Positioned {
  readonly id: string;
  readonly x: number;
  readonly y: number;
}

/** Top-left corner of each task's box (React Flow's origin; dagre gives centres). */
export function layoutTasks(tasks: readonly Pick<Task, "id" | "depends_on">[]): Map<string, Positioned> {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 64, marginx: 8, marginy: 8 });
  graph.setDefaultEdgeLabel(() => ({}));
  const ids = new Set(tasks.map((t) => t.id));
  for (const task of tasks) graph.setNode(task.id, { width: taskNodeSize.width, height: taskNodeSize.height });
  for (const task of tasks) for (const dep of task.depends_on) if (ids.has(dep)) graph.setEdge(dep, task.id);
  dagre.layout(graph);
  const positions = new Map<string, Positioned>();
  for (const task of tasks) {
    const node = graph.node(task.id);
    positions.set(task.id, { id: task.id, x: node.x - taskNodeSize.width / 2, y: node.y - taskNodeSize.height / 2 });
  }
  return positions;
}
