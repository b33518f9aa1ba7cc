/**
 * API keys (admins only, as the API has it): every key with its role, agent, prefix and use;
 * create one (its secret shown once) and revoke with a confirmation. Other roles are told what
 * this screen needs instead of being shown a failure.
 */
import { useCallback, useState } from "react";
import type { ApiKey, CreatedApiKey } from "../api/types";
import { CreateKeyForm } from "../components/keys/CreateKeyForm";
import { KeyRow } from "../components/keys/KeyRow";
import { NewKeySecret } from "../components/keys/NewKeySecret";
import { EmptyState, ErrorState, Loading } from "../components/states";
import { useApi } from "../components/use-api";
import { useSession } from "../session";

export function KeysPage() {
  const { can, me } = useSession();
  if (!can("api_keys:manage")) {
    return (
      <>
        <h1>API keys</h1>
        <p className="notice" role="status">
          Managing API keys needs the admin role; your key's role is {me.key.role}. Ask an admin to create or revoke keys.
        </p>
      </>
    );
  }
  return <KeyManagement />;
}

function KeyManagement() {
  const { client } = useSession();
  const keys = useApi("api-keys", (signal) => client.listApiKeys(signal));
  const agents = useApi("agents", (signal) => client.listAgents(signal));
  // The one moment a secret exists in the console: until "Done" or leaving the page.
  const [created, setCreated] = useState<CreatedApiKey>();
  const [revokedHere, setRevokedHere] = useState<ReadonlyMap<string, ApiKey>>(new Map());
  const [announcement, setAnnouncement] = useState("");
  const { reload } = keys;

  const onCreated = useCallback(
    (key: CreatedApiKey) => {
      setCreated(key);
      setAnnouncement("");
      reload();
    },
    [reload],
  );
  const onRevoked = useCallback((key: ApiKey) => {
    setRevokedHere((prev) => new Map(prev).set(key.id, key));
    setAnnouncement(`Revoked “${key.name}”. Requests with it are refused from now on.`);
  }, []);
  const dismissSecret = useCallback(() => {
    setCreated(undefined);
    document.getElementById("key-name")?.focus();
  }, []);

  const agentNames = new Map((agents.data?.agents ?? []).map((a) => [a.id, a.name]));
  const list = keys.data?.api_keys.map((k) => revokedHere.get(k.id) ?? k);
  return (
    <>
      <h1>API keys</h1>
      <p className="lead">Every request to Apex carries one of these keys; its role decides what the request may do.</p>
      {created ? <NewKeySecret created={created} onDismiss={dismissSecret} /> : null}
      <CreateKeyForm agents={agents.data?.agents} onCreated={onCreated} />
      {agents.error ? <p className="hint">The agent list could not be loaded, so agent keys cannot be created just now.</p> : null}
      <h2>Keys</h2>
      <p className="announce" role="status" aria-live="polite">
        {announcement}
      </p>
      {list ? (
        list.length === 0 ? (
          <EmptyState title="No API keys">Create one above.</EmptyState>
        ) : (
          <div className="table-scroll">
            <table>
              <caption className="visually-hidden">API keys</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Agent</th>
                  <th scope="col">Prefix</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((k) => (
                  <KeyRow key={k.id} apiKey={k} agentName={k.agent_id ? agentNames.get(k.agent_id) : undefined} onRevoked={onRevoked} />
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : keys.error ? (
        <ErrorState title="Could not load the API keys" error={keys.error} onRetry={reload} />
      ) : (
        <Loading label="Loading API keys" />
      )}
    </>
  );
}
