/**
 * Budgets (/budgets?agent=<id>): an agent's spend budgets in their current period (limit, spent,
 * reserved, remaining, reset) from GET /v1/agents/:id/budget, and for keys with budgets:write
 * (admin, operator) a form that sets or removes them (PUT). Any key that reads agents sees them.
 */
import { useState } from "react";
import { useSearchParams } from "react-router";
import type { Agent } from "../api/types";
import { BudgetForm } from "../components/budgets/BudgetForm";
import { BudgetTable } from "../components/budgets/BudgetTable";
import { EmptyState, ErrorState, Loading } from "../components/states";
import { useApi } from "../components/use-api";
import { useSession } from "../session";

export function BudgetsPage() {
  const { client } = useSession();
  const [params, setParams] = useSearchParams();
  const agents = useApi("agents", (signal) => client.listAgents(signal));
  const list = agents.data?.agents;
  const chosen = list?.find((a) => a.id === params.get("agent")) ?? list?.[0];

  return (
    <>
      <h1>Budgets</h1>
      <p className="lead">
        Hard limits on what an agent's LLM calls may spend. Every call reserves its worst case (prompt plus max_tokens, at the model's prices) against
        each budget before it is sent; a call that does not fit is refused and its task fails with budget_exceeded, or waits for the period's reset
        when its DAG asked to.
      </p>
      {list === undefined ? (
        agents.error ? (
          <ErrorState title="Could not load the agents" error={agents.error} onRetry={agents.reload} />
        ) : (
          <Loading label="Loading agents" />
        )
      ) : chosen === undefined ? (
        <EmptyState title="No agents yet">Budgets belong to agents; create one first.</EmptyState>
      ) : (
        <>
          <div className="filters">
            <div>
              <label htmlFor="budget-agent">Agent</label>
              <select id="budget-agent" value={chosen.id} onChange={(e) => setParams({ agent: e.target.value }, { replace: true })}>
                {list.map((a) => (
                  <option key={a.id} value={a.id}>
                    {a.name}
                  </option>
                ))}
              </select>
            </div>
          </div>
          <AgentBudgets key={chosen.id} agent={chosen} />
        </>
      )}
    </>
  );
}

function AgentBudgets({ agent }: { agent: Agent }) {
  const { client, can, me } = useSession();
  const budgets = useApi(`budgets:${agent.id}`, (signal) => client.agentBudgets(agent.id, signal));
  const [announcement, setAnnouncement] = useState("");
  const current = budgets.data?.budgets;

  return (
    <>
      <p className="announce" role="status" aria-live="polite">
        {announcement}
      </p>
      {current === undefined ? (
        budgets.error ? (
          <ErrorState title={`Could not load the budgets of ${agent.name}`} error={budgets.error} onRetry={budgets.reload} />
        ) : (
          <Loading label={`Loading the budgets of ${agent.name}`} />
        )
      ) : current.length === 0 ? (
        <EmptyState title={`${agent.name} has no budget`}>Its LLM calls are limited only by the budgets of their DAGs and API keys.</EmptyState>
      ) : (
        <BudgetTable caption={`Budgets of ${agent.name}`} budgets={current} />
      )}
      {current === undefined ? null : can("budgets:write") ? (
        <BudgetForm
          // A fresh form from what was saved, whenever the limits change.
          key={JSON.stringify(current.map((b) => [b.period, b.limit_usd, b.limit_tokens]))}
          agentId={agent.id}
          agentName={agent.name}
          budgets={current}
          onSaved={(saved) => {
            setAnnouncement(saved.length === 0 ? `Removed every budget of ${agent.name}.` : `Saved the budgets of ${agent.name}.`);
            budgets.reload();
          }}
        />
      ) : (
        <p className="hint">Setting budgets needs the admin or operator role; your key's role is {me.key.role}.</p>
      )}
    </>
  );
}
