/**
 * Cost: what LLM calls cost over a period (presets ending now, or a custom range), optionally for
 * one agent, from GET /v1/usage. Totals on top, then cost by agent, by model and over time, each
 * as a chart with a caption and a table of the exact numbers.
 */
import { useState, type FormEvent } from "react";
import type { UsageReport } from "../api/types";
import { CostBreakdown } from "../components/cost/CostBreakdown";
import { CostOverTime } from "../components/cost/CostOverTime";
import { formatCount, formatDateTime, formatUsdExact } from "../components/format";
import { customPeriod, presetPeriod, presets, type Period, type Preset } from "../components/cost/period";
import { toLocalInput } from "../components/local-time";
import { EmptyState, ErrorState, Loading } from "../components/states";
import { useApi, type ApiData } from "../components/use-api";
import { useSession } from "../session";

export function CostPage() {
  const { client } = useSession();
  const [preset, setPreset] = useState<Preset>("24h");
  const [period, setPeriod] = useState<Period>(() => presetPeriod("24h", new Date()));
  const [agentId, setAgentId] = useState("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [rangeError, setRangeError] = useState<{ field: "from" | "to"; message: string }>();

  const agents = useApi("agents", (signal) => client.listAgents(signal));
  const query = { since: period.since, until: period.until, agent_id: agentId || undefined };
  const usage = useApi(`usage:${JSON.stringify(query)}`, (signal) => client.usage(query, signal));

  function choosePreset(value: Preset) {
    setPreset(value);
    setRangeError(undefined);
    if (value === "custom") {
      setFrom(toLocalInput(period.since));
      setTo(toLocalInput(period.until));
    } else {
      setPeriod(presetPeriod(value, new Date()));
    }
  }

  function applyCustom(event: FormEvent) {
    event.preventDefault();
    const result = customPeriod(from, to);
    if ("field" in result) {
      setRangeError(result);
      document.getElementById(`cost-${result.field}`)?.focus();
      return;
    }
    setRangeError(undefined);
    setPeriod(result.period);
  }

  function refresh() {
    if (preset === "custom") usage.reload();
    else setPeriod(presetPeriod(preset, new Date()));
  }

  const agentName = agents.data?.agents.find((a) => a.id === agentId)?.name;
  return (
    <>
      <h1>Cost</h1>
      <form className="filters" onSubmit={applyCustom} aria-label="Period and agent">
        <div>
          <label htmlFor="cost-period">Period</label>
          <select id="cost-period" value={preset} onChange={(e) => choosePreset(e.target.value as Preset)}>
            {presets.map((p) => (
              <option key={p.value} value={p.value}>
                {p.label}
              </option>
            ))}
          </select>
        </div>
        {preset === "custom" ? (
          <>
            <div>
              <label htmlFor="cost-from">From</label>
              <input
                id="cost-from"
                type="datetime-local"
                value={from}
                onChange={(e) => setFrom(e.target.value)}
                aria-invalid={rangeError?.field === "from" ? true : undefined}
                aria-describedby={rangeError?.field === "from" ? "cost-range-error" : undefined}
              />
            </div>
            <div>
              <label htmlFor="cost-to">To</label>
              <input
                id="cost-to"
                type="datetime-local"
                value={to}
                onChange={(e) => setTo(e.target.value)}
                aria-invalid={rangeError?.field === "to" ? true : undefined}
                aria-describedby={rangeError?.field === "to" ? "cost-range-error" : undefined}
              />
            </div>
            <button type="submit" className="primary">
              Show
            </button>
          </>
        ) : null}
        <div>
          <label htmlFor="cost-agent">Agent</label>
          <select id="cost-agent" value={agentId} onChange={(e) => setAgentId(e.target.value)}>
            <option value="">All agents</option>
            {(agents.data?.agents ?? []).map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </div>
        <button type="button" onClick={refresh}>
          Refresh
        </button>
      </form>
      {rangeError ? (
        <p id="cost-range-error" className="field-error" role="alert">
          {rangeError.message}
        </p>
      ) : null}
      {agents.error ? <p className="hint">The agent list could not be loaded; the report covers all agents your key may see.</p> : null}
      <UsageView usage={usage} agentName={agentName} />
    </>
  );
}

function UsageView({ usage, agentName }: { usage: ApiData<UsageReport>; agentName?: string }) {
  if (usage.error) return <ErrorState title="Could not load the cost report" error={usage.error} onRetry={usage.reload} />;
  if (!usage.data) return <Loading label="Loading the cost report" />;
  const report = usage.data;
  const scope = `${formatDateTime(report.since)} to ${formatDateTime(report.until)}${agentName ? ` for ${agentName}` : ""}`;
  if (report.totals.calls === 0) {
    return (
      <EmptyState title="No LLM usage in this period">
        Nothing was spent from {scope}. Cost is recorded for every LLM call a task makes; choose a longer period or another agent.
      </EmptyState>
    );
  }
  return (
    <div aria-busy={usage.loading}>
      <p className="hint">
        From {scope}, by {report.bucket}.
      </p>
      <dl className="totals" aria-label="Totals">
        <div>
          <dt>Cost</dt>
          <dd>{formatUsdExact(report.totals.cost_usd)}</dd>
        </div>
        <div>
          <dt>Input tokens</dt>
          <dd>{formatCount(report.totals.input_tokens)}</dd>
        </div>
        <div>
          <dt>Output tokens</dt>
          <dd>{formatCount(report.totals.output_tokens)}</dd>
        </div>
        <div>
          <dt>Cached tokens</dt>
          <dd>{formatCount(report.totals.cached_tokens)}</dd>
        </div>
        <div>
          <dt>LLM calls</dt>
          <dd>{formatCount(report.totals.calls)}</dd>
        </div>
      </dl>
      <CostBreakdown
        title="Cost by agent"
        itemLabel="Agent"
        totalCost={report.totals.cost_usd}
        rows={report.by_agent.map((a) => ({ ...a, key: a.agent_id, name: a.agent_name }))}
      />
      <CostBreakdown
        title="Cost by model"
        itemLabel="Model"
        totalCost={report.totals.cost_usd}
        rows={report.by_model.map((m) => ({ ...m, key: m.model, name: m.model }))}
      />
      <CostOverTime report={report} />
    </div>
  );
}
