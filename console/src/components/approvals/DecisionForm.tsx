/**
 * Approve or reject one parked tool call: a reason (required to reject), then a confirmation that
 * names the tool, then the POST. Refusals from the API are shown here in words.
 */
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import type { Approval } from "../../api/types";
import { useSession } from "../../session";
import { approvalMovedOn, describeDecisionError } from "./decision-error";

type Decision = "approve" | "reject";

export interface DecisionFormProps {
  readonly approval: Approval;
  /** The approval as the API returned it after the decision. */
  onDecided(updated: Approval, decision: Decision): void;
  /** The approval changed under us (409): the list should be fetched again. */
  onStale(): void;
}

export function DecisionForm({ approval, onDecided, onStale }: DecisionFormProps) {
  const { client } = useSession();
  const id = useId();
  const [reason, setReason] = useState("");
  const [confirming, setConfirming] = useState<Decision | undefined>();
  const [reasonMissing, setReasonMissing] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const reasonRef = useRef<HTMLTextAreaElement>(null);
  const firstButtonRef = useRef<HTMLButtonElement>(null);
  // After a cancelled or refused confirmation the buttons come back: focus returns to them.
  const refocusButtons = useRef(false);
  useEffect(() => {
    if (refocusButtons.current && !confirming) {
      refocusButtons.current = false;
      firstButtonRef.current?.focus();
    }
  });

  function ask(decision: Decision) {
    setError(undefined);
    if (decision === "reject" && reason.trim() === "") {
      setReasonMissing(true);
      reasonRef.current?.focus();
      return;
    }
    setReasonMissing(false);
    setConfirming(decision);
  }

  async function confirm(event: FormEvent) {
    event.preventDefault();
    if (!confirming) return;
    setBusy(true);
    setError(undefined);
    try {
      const updated = await client.decideApproval(approval.id, confirming, reason.trim() || undefined);
      onDecided(updated, confirming);
    } catch (e) {
      setError(e);
      setConfirming(undefined);
      setBusy(false);
      refocusButtons.current = true;
      if (approvalMovedOn(e)) onStale();
    }
  }

  const reasonId = `${id}-reason`;
  const hintId = `${id}-hint`;
  const missingId = `${id}-missing`;
  return (
    <form className="decision" onSubmit={confirm} aria-label={`Decide on ${approval.tool}`}>
      <label htmlFor={reasonId}>Reason</label>
      <textarea
        id={reasonId}
        ref={reasonRef}
        rows={2}
        maxLength={2000}
        value={reason}
        disabled={busy}
        onChange={(e) => {
          setReason(e.target.value);
          if (e.target.value.trim() !== "") setReasonMissing(false);
        }}
        aria-describedby={reasonMissing ? `${missingId} ${hintId}` : hintId}
        aria-invalid={reasonMissing ? true : undefined}
      />
      <p id={hintId} className="hint">
        Required to reject, optional to approve. Recorded with your decision.
      </p>
      {reasonMissing ? (
        <p id={missingId} className="field-error" role="alert">
          Reason: say why you reject this call; it is recorded and becomes the task's error.
        </p>
      ) : null}
      {confirming ? (
        <div className="confirm" role="group" aria-label="Confirm your decision">
          <p>
            {confirming === "approve" ? "Approve" : "Reject"} the call to <code>{approval.tool}</code> with exactly the arguments shown
            {reason.trim() ? " and your reason" : ""}?
          </p>
          <button type="submit" className={confirming === "approve" ? "primary" : "danger"} disabled={busy} autoFocus>
            {busy ? "Sending…" : `Yes, ${confirming} ${approval.tool}`}
          </button>{" "}
          <button
            type="button"
            disabled={busy}
            onClick={() => {
              refocusButtons.current = true;
              setConfirming(undefined);
            }}
          >
            Cancel
          </button>
        </div>
      ) : (
        <div className="decision-buttons">
          <button type="button" className="primary" ref={firstButtonRef} onClick={() => ask("approve")}>
            Approve
          </button>{" "}
          <button type="button" className="danger" onClick={() => ask("reject")}>
            Reject
          </button>
        </div>
      )}
      {error ? (
        <p className="field-error" role="alert">
          {describeDecisionError(error)}
        </p>
      ) : null}
    </form>
  );
}
