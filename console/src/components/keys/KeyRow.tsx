/** One API key in the list, with Revoke behind a confirmation that names the key. */
import { useEffect, useId, useRef, useState } from "react";
import type { ApiKey } from "../../api/types";
import { useSession } from "../../session";
import { When } from "../approvals/When";
import { StatusBadge } from "../StatusBadge";
import { describeError } from "../states";

export interface KeyRowProps {
  readonly apiKey: ApiKey;
  readonly agentName?: string;
  onRevoked(revoked: ApiKey): void;
}

export function KeyRow({ apiKey: k, agentName, onRevoked }: KeyRowProps) {
  const { client, me } = useSession();
  const id = useId();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const mine = k.id === me.key.id;
  const revokeButton = useRef<HTMLButtonElement>(null);
  // Cancelling the confirmation brings the Revoke button back: focus returns to it.
  const refocusRevoke = useRef(false);
  useEffect(() => {
    if (refocusRevoke.current && !confirming) {
      refocusRevoke.current = false;
      revokeButton.current?.focus();
    }
  });

  async function revoke() {
    setBusy(true);
    setError(undefined);
    try {
      const revoked = await client.revokeApiKey(k.id);
      setConfirming(false);
      onRevoked(revoked);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <tr className={k.revoked_at ? "revoked" : undefined}>
      <th scope="row" id={`${id}-name`}>
        {k.name}
        {mine ? <span className="hint-inline"> (your key)</span> : null}
      </th>
      <td>{k.role}</td>
      <td>{k.agent_id ? (agentName ?? k.agent_id) : "—"}</td>
      <td>
        <code>{k.prefix}…</code>
      </td>
      <td>
        <When iso={k.created_at} absoluteOnly />
      </td>
      <td>{k.last_used_at ? <When iso={k.last_used_at} /> : "never"}</td>
      <td>
        {k.revoked_at ? (
          <>
            <StatusBadge status="revoked" /> <When iso={k.revoked_at} absoluteOnly />
          </>
        ) : (
          <StatusBadge status="active" />
        )}
      </td>
      <td>
        {k.revoked_at ? null : confirming ? (
          <div role="group" aria-label={`Confirm revoking ${k.name}`}>
            <p>
              Revoke “{k.name}”? Requests with it are refused from the next one.
              {mine ? " This is the key you are signed in with: you will be signed out." : ""}
            </p>
            <button type="button" className="danger" onClick={revoke} disabled={busy} autoFocus>
              {busy ? "Revoking…" : `Yes, revoke ${k.name}`}
            </button>{" "}
            <button
              type="button"
              disabled={busy}
              onClick={() => {
                refocusRevoke.current = true;
                setConfirming(false);
              }}
            >
              Cancel
            </button>
          </div>
        ) : (
          <button type="button" ref={revokeButton} onClick={() => setConfirming(true)} aria-describedby={`${id}-name`}>
            Revoke
          </button>
        )}
        {error ? (
          <p className="field-error" role="alert">
            Could not revoke: {describeError(error)}
          </p>
        ) : null}
      </td>
    </tr>
  );
}
