/**
 * Create an API key: a name, a role, and for role agent the agent it acts for (required, as the
 * API requires it). Mistakes are named by field before anything is sent.
 */
import { useState, type FormEvent } from "react";
import type { Agent, CreatedApiKey, Role } from "../../api/types";
import { useSession } from "../../session";
import { describeError } from "../states";

const roleHelp: Record<Role, string> = {
  admin: "everything, including API keys",
  operator: "manages agents, decides approvals, cancels DAGs, reads everything",
  viewer: "reads agents, DAGs and approvals; changes nothing",
  agent: "submits and reads the DAGs of one agent",
};

type Field = "name" | "agent";

export function CreateKeyForm({ agents, onCreated }: { agents: readonly Agent[] | undefined; onCreated(created: CreatedApiKey): void }) {
  const { client } = useSession();
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [agentId, setAgentId] = useState("");
  const [invalid, setInvalid] = useState<{ field: Field; message: string }>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(undefined);
    const problem: { field: Field; message: string } | undefined =
      name.trim() === ""
        ? { field: "name", message: "Name: give the key a name that says who or what uses it" }
        : role === "agent" && agentId === ""
          ? { field: "agent", message: "Agent: choose the agent this key acts for (required for role agent)" }
          : undefined;
    setInvalid(problem);
    if (problem) {
      document.getElementById(problem.field === "name" ? "key-name" : "key-agent")?.focus();
      return;
    }
    setBusy(true);
    try {
      const created = await client.createApiKey({ name: name.trim(), role, ...(role === "agent" ? { agent_id: agentId } : {}) });
      setName("");
      setAgentId("");
      onCreated(created);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  const errorFor = (field: Field) =>
    invalid?.field === field ? { "aria-invalid": true as const, "aria-describedby": "key-form-error" } : {};
  return (
    <form className="create-key" onSubmit={submit} noValidate aria-labelledby="create-key-heading">
      <h2 id="create-key-heading">Create a key</h2>
      <div className="filters">
        <div>
          <label htmlFor="key-name">Name</label>
          <input id="key-name" value={name} maxLength={200} required onChange={(e) => setName(e.target.value)} {...errorFor("name")} />
        </div>
        <div>
          <label htmlFor="key-role">Role</label>
          <select id="key-role" value={role} onChange={(e) => setRole(e.target.value as Role)} aria-describedby="key-role-help">
            {(Object.keys(roleHelp) as Role[]).map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </div>
        {role === "agent" ? (
          <div>
            <label htmlFor="key-agent">Agent</label>
            <select id="key-agent" value={agentId} required onChange={(e) => setAgentId(e.target.value)} {...errorFor("agent")}>
              <option value="">Choose an agent</option>
              {(agents ?? []).map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
            </select>
          </div>
        ) : null}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Creating…" : "Create key"}
        </button>
      </div>
      <p id="key-role-help" className="hint">
        {role}: {roleHelp[role]}.
      </p>
      {invalid ? (
        <p id="key-form-error" className="field-error" role="alert">
          {invalid.message}
        </p>
      ) : null}
      {error ? (
        <p className="field-error" role="alert">
          Could not create the key: {describeError(error)}
        </p>
      ) : null}
    </form>
  );
}
