/**
 * gRPC messages <-> the operations' JSON inputs and outputs. Field names already agree (keepCase);
 * only the submission's tasks and the free-form JSON values (Struct/Value) need converting. Unset
 * fields arrive absent and null ones (a budget without a limit) are left out on the wire.
 */
import type { ApprovalJson, CreatedApiKeyJson, DagJson } from "../schemas";
import { jsonToValue, structToJson, type ProtoStruct } from "./struct";

interface TaskMessage {
  id?: string;
  kind?: string;
  depends_on?: string[];
  max_attempts?: number;
  timeout_ms?: number;
  model?: string;
  prompt?: string;
  system?: string;
  max_tokens?: number;
  temperature?: number;
  tool?: string;
  args?: ProtoStruct;
  extra?: ProtoStruct;
}

interface SubmitDagMessage {
  agent_id?: string;
  name?: string;
  input?: ProtoStruct;
  tasks?: TaskMessage[];
  /** DagBudgetRequest: the JSON contract's `budget` field for field. */
  budget?: Record<string, unknown>;
}

const taskScalarFields = ["id", "kind", "max_attempts", "timeout_ms", "model", "prompt", "system", "max_tokens", "temperature", "tool"] as const;

/** SubmitDagRequest as the JSON submission body the service validates. */
export function submitDagBody(message: SubmitDagMessage): Record<string, unknown> {
  return {
    ...(message.agent_id ? { agent_id: message.agent_id } : {}),
    ...(message.name ? { name: message.name } : {}),
    ...(message.input ? { input: structToJson(message.input) } : {}),
    tasks: (message.tasks ?? []).map((task) => {
      const json: Record<string, unknown> = { ...structToJson(task.extra) };
      for (const field of taskScalarFields) if (task[field] !== undefined) json[field] = task[field];
      json.depends_on = task.depends_on ?? [];
      if (task.args) json.args = structToJson(task.args);
      return json;
    }),
    ...(message.budget ? { budget: message.budget } : {}),
  };
}

export function dagMessage(dag: DagJson): unknown {
  return {
    ...dag,
    input: jsonToValue(dag.input),
    tasks: dag.tasks.map((t) => ({ ...t, output: t.output === undefined ? undefined : jsonToValue(t.output) })),
  };
}

export function approvalMessage(approval: ApprovalJson): unknown {
  return { ...approval, args: jsonToValue(approval.args) };
}

export function createdApiKeyMessage({ secret, ...key }: CreatedApiKeyJson): unknown {
  return { key, secret };
}
