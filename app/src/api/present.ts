/** Service views (camelCase) as the API's snake_case wire shapes, for both transports. */
import type { ApiKeyView } from "../auth/keys";
import type { Agent, ApprovalView, DagEvent, DagSummary, DagView, TaskUsage, UsageGroup, UsageReport } from "../service/types";
import { dagBudgetJson } from "./budget-json";
import type { AgentJson, ApiKeyJson, ApprovalJson, DagEventJson, DagJson, DagSummaryJson, UsageJson, UsageReportJson } from "./schemas";

const opt = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };

export function usageJson(u: TaskUsage): UsageJson {
  return { input_tokens: u.inputTokens, output_tokens: u.outputTokens, cached_tokens: u.cachedTokens, cost_usd: u.costUsd };
}

export function agentJson(a: Agent): AgentJson {
  return { id: a.id, name: a.name, ...opt("description", a.description), created_at: a.createdAt };
}

export function dagJson(d: DagView): DagJson {
  return {
    id: d.id,
    agent_id: d.agentId,
    name: d.name,
    status: d.status,
    input: d.input,
    tasks: d.tasks.map((t) => ({
      id: t.id,
      kind: t.kind,
      status: t.status,
      depends_on: [...t.dependsOn],
      ...opt("output", t.output),
      ...opt("error", t.error),
      ...opt("waiting_for", t.waitingFor),
      attempts: t.attempts.map((a) => ({
        number: a.number,
        status: a.status,
        worker_id: a.workerId,
        started_at: a.startedAt,
        ...opt("finished_at", a.finishedAt),
        ...opt("error", a.error),
        ...opt("spent", a.spent),
      })),
      usage: usageJson(t.usage),
    })),
    totals: usageJson(d.totals),
    ...opt("agent_totals", d.agentTotals && usageJson(d.agentTotals)),
    ...opt("trace_id", d.traceId),
    created_at: d.createdAt,
    ...opt("finished_at", d.finishedAt),
    budget: dagBudgetJson(d.budget),
  };
}

export function dagSummaryJson(d: DagSummary): DagSummaryJson {
  return {
    id: d.id,
    agent_id: d.agentId,
    name: d.name,
    status: d.status,
    totals: usageJson(d.totals),
    ...opt("trace_id", d.traceId),
    created_at: d.createdAt,
    ...opt("finished_at", d.finishedAt),
  };
}

export function approvalJson(a: ApprovalView): ApprovalJson {
  return {
    id: a.id,
    dag_id: a.dagId,
    task_id: a.taskId,
    tool: a.tool,
    args: a.args,
    status: a.status,
    ...opt("decided_by", a.decidedBy),
    ...opt("decided_at", a.decidedAt),
    ...opt("reason", a.reason),
    created_at: a.createdAt,
    ...opt("args_digest", a.argsDigest),
    expires_at: a.expiresAt,
    ...opt("ended_at", a.endedAt),
    ...opt("dag_name", a.dagName),
    ...opt("agent_id", a.agentId),
    ...opt("agent_name", a.agentName),
    ...opt("submitted_by", a.submittedBy),
    ...opt("submitted_by_name", a.submittedByName),
  };
}

function usageGroupJson(g: UsageGroup): UsageReportJson["totals"] {
  return { ...usageJson(g), calls: g.calls, ...(g.unknownCalls > 0 ? { unknown_calls: g.unknownCalls } : {}) };
}

export function usageReportJson(r: UsageReport): UsageReportJson {
  return {
    since: r.since,
    until: r.until,
    totals: usageGroupJson(r.totals),
    by_agent: r.byAgent.map((g) => ({ ...usageGroupJson(g), agent_id: g.agentId, agent_name: g.agentName })),
    by_model: r.byModel.map((g) => ({ ...usageGroupJson(g), model: g.model })),
    bucket: r.bucket,
    series: r.series.map((p) => ({ start: p.start, cost_usd: p.costUsd, input_tokens: p.inputTokens, output_tokens: p.outputTokens })),
  };
}

export function apiKeyJson(k: ApiKeyView): ApiKeyJson {
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    ...opt("agent_id", k.agentId),
    prefix: k.prefix,
    created_at: k.createdAt,
    ...opt("revoked_at", k.revokedAt),
    ...opt("last_used_at", k.lastUsedAt),
  };
}

export function dagEventJson(e: DagEvent): DagEventJson {
  return { dag_id: e.dagId, type: e.type, ...opt("task_id", e.taskId), status: e.status, at: e.at };
}
