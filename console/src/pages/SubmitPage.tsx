/**
 * Submitting a DAG (/submit): pick the agent (or name a new one, for roles that may create
 * agents), edit the DAG as JSON (prefilled with the repository's example) and submit; on success
 * the DAG's live page opens. Mistakes are reported where they are, and focus goes there.
 */
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import example from "../../../examples/research.json";
import type { Agent } from "../api/types";
import { describeError, ErrorState, Loading } from "../components/states";
import { useApi } from "../components/use-api";
import { useSession } from "../session";

const newAgent = "__new__";
export const exampleDagJson = JSON.stringify(example, null, 2);

type FieldErrors = Partial<Record<"agentName" | "dag", string>>;

export function SubmitPage() {
  const { client, can } = useSession();
  const navigate = useNavigate();
  const agents = useApi("agents", (signal) => client.listAgents(signal));
  const mayCreateAgent = can("agents:write");

  const [agentChoice, setAgentChoice] = useState<string>();
  const [agentName, setAgentName] = useState("");
  const [dagText, setDagText] = useState(exampleDagJson);
  const [fieldErrors, setFieldErrors] = useState<FieldErrors>({});
  const [apiError, setApiError] = useState<unknown>();
  const [submitting, setSubmitting] = useState(false);
  // An agent created by an earlier try whose DAG was refused: reused, not created twice.
  const [createdAgent, setCreatedAgent] = useState<Agent>();

  const agentNameRef = useRef<HTMLInputElement>(null);
  const dagRef = useRef<HTMLTextAreaElement>(null);
  const apiErrorRef = useRef<HTMLDivElement>(null);
  const ids = { agent: useId(), agentName: useId(), dag: useId() };

  const known = [...(agents.data?.agents ?? []), ...(createdAgent && !agents.data?.agents.some((a) => a.id === createdAgent.id) ? [createdAgent] : [])];
  const fallbackChoice = known[0]?.id ?? (mayCreateAgent ? newAgent : "");
  const choice = agentChoice ?? fallbackChoice;

  useEffect(() => {
    if (apiError) apiErrorRef.current?.focus();
  }, [apiError]);

  if (!agents.data) {
    return (
      <>
        <h1>Submit a DAG</h1>
        {agents.error ? <ErrorState title="Could not load your agents" error={agents.error} onRetry={agents.reload} /> : <Loading label="Loading agents" />}
      </>
    );
  }

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setApiError(undefined);
    const errors: FieldErrors = {};
    let body: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(dagText);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) errors.dag = "The DAG must be a JSON object, like the example.";
      else body = parsed as Record<string, unknown>;
    } catch (e) {
      errors.dag = `This is not valid JSON: ${(e as Error).message}`;
    }
    if (choice === newAgent && agentName.trim() === "") errors.agentName = "Enter a name for the new agent.";
    if (!choice) errors.agentName = "There is no agent to submit for.";
    setFieldErrors(errors);
    if (errors.agentName) return agentNameRef.current?.focus();
    if (errors.dag || !body) return dagRef.current?.focus();

    setSubmitting(true);
    try {
      let agentId = choice;
      if (choice === newAgent) {
        const agent = await client.createAgent({ name: agentName.trim() });
        setCreatedAgent(agent);
        setAgentChoice(agent.id);
        agentId = agent.id;
      }
      const created = await client.submitDag({ ...body, agent_id: agentId });
      navigate(`/dags/${encodeURIComponent(created.id)}`);
    } catch (error) {
      setApiError(error);
    } finally {
      setSubmitting(false);
    }
  };

  return (
    <>
      <h1>Submit a DAG</h1>
      <form className="submit-form" onSubmit={(e) => void submit(e)} noValidate>
        <div className="field">
          <label htmlFor={ids.agent}>Agent</label>
          <select id={ids.agent} value={choice} onChange={(e) => setAgentChoice(e.target.value)}>
            {known.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
            {mayCreateAgent ? <option value={newAgent}>New agent…</option> : null}
          </select>
          {known.length === 0 && !mayCreateAgent ? <p className="field-error">Your key sees no agent, and its role may not create one.</p> : null}
        </div>
        {choice === newAgent ? (
          <div className="field">
            {/* Not "…agent…": the Agent select's label must stay unique, also to substring matching. */}
            <label htmlFor={ids.agentName}>Name</label>
            <p id={`${ids.agentName}-hint`} className="hint">
              The new agent&apos;s name, e.g. researcher.
            </p>
            <input
              id={ids.agentName}
              ref={agentNameRef}
              value={agentName}
              onChange={(e) => setAgentName(e.target.value)}
              aria-invalid={Boolean(fieldErrors.agentName) || undefined}
              aria-describedby={fieldErrors.agentName ? `${ids.agentName}-error ${ids.agentName}-hint` : `${ids.agentName}-hint`}
              maxLength={200}
            />
            {fieldErrors.agentName ? (
              <p id={`${ids.agentName}-error`} className="field-error">
                {fieldErrors.agentName}
              </p>
            ) : null}
          </div>
        ) : null}
        <div className="field">
          <label htmlFor={ids.dag}>DAG (JSON)</label>
          <p id={`${ids.dag}-hint`} className="hint">
            Name, input and tasks, as in the example below; agent_id is set from the agent chosen above.
          </p>
          <textarea
            id={ids.dag}
            ref={dagRef}
            className="dag-json"
            rows={24}
            spellCheck={false}
            value={dagText}
            onChange={(e) => setDagText(e.target.value)}
            aria-invalid={Boolean(fieldErrors.dag) || undefined}
            aria-describedby={fieldErrors.dag ? `${ids.dag}-error ${ids.dag}-hint` : `${ids.dag}-hint`}
          />
          {fieldErrors.dag ? (
            <p id={`${ids.dag}-error`} className="field-error">
              {fieldErrors.dag}
            </p>
          ) : null}
        </div>
        {apiError ? (
          <div ref={apiErrorRef} className="state state-error" role="alert" tabIndex={-1}>
            <p className="state-title">Could not submit this DAG</p>
            <p>{describeError(apiError)}</p>
          </div>
        ) : null}
        <div className="actions">
          <button type="submit" className="primary" disabled={submitting}>
            {submitting ? "Submitting…" : "Submit"}
          </button>{" "}
          <button type="button" onClick={() => setDagText(exampleDagJson)} disabled={submitting}>
            Reset to the example
          </button>
        </div>
      </form>
    </>
  );
}
