/**
 * One tool approval with everything a person needs to decide it: the tool, the exact arguments
 * and their digest, the DAG, agent and submitter, when it expires, and (once decided) who decided,
 * when and why. The decision form appears only for pending approvals and keys that may decide.
 */
import { useId, type Ref } from "react";
import { Link } from "react-router";
import type { Approval } from "../../api/types";
import { StatusBadge } from "../StatusBadge";
import { DecisionForm } from "./DecisionForm";
import { When } from "./When";

export interface ApprovalCardProps {
  readonly approval: Approval;
  readonly canDecide: boolean;
  /** The signed-in key, to say "you" where it decided or submitted. */
  readonly myKeyId: string;
  readonly myKeyName: string;
  /** The tool heading, focused after a decision so focus does not fall to the page. */
  readonly headingRef?: Ref<HTMLHeadingElement>;
  onDecided(updated: Approval, decision: "approve" | "reject"): void;
  onStale(): void;
}

/** The arguments exactly as the call will receive them, in full. */
export function prettyArgs(args: unknown): string {
  if (args === undefined) return "(no arguments)";
  return JSON.stringify(args, null, 2);
}

export function ApprovalCard({ approval: a, canDecide, myKeyId, myKeyName, headingRef, onDecided, onStale }: ApprovalCardProps) {
  const id = useId();
  const headingId = `${id}-tool`;
  // decided_by is a key id only; the signed-in key's own name is known here.
  const keyLabel = (keyId: string | undefined, name?: string) => {
    if (keyId === undefined) return "unknown";
    return keyId === myKeyId ? `${name ?? myKeyName} (you)` : (name ?? `key ${keyId}`);
  };
  const decided = a.status === "approved" || a.status === "rejected";

  return (
    <article className="approval" aria-labelledby={headingId}>
      <header className="approval-head">
        <h2 id={headingId} ref={headingRef} tabIndex={-1}>
          <code>{a.tool}</code>
        </h2>
        <StatusBadge status={a.status} />
      </header>
      <dl className="facts">
        <dt>DAG</dt>
        <dd>
          <Link to={`/dags/${encodeURIComponent(a.dag_id)}`}>{a.dag_name ?? a.dag_id}</Link> <span className="hint-inline">task {a.task_id}</span>
        </dd>
        <dt>Agent</dt>
        <dd>{a.agent_name ?? a.agent_id ?? "unknown"}</dd>
        <dt>Submitted by</dt>
        <dd>{keyLabel(a.submitted_by, a.submitted_by_name)}</dd>
        <dt>Requested</dt>
        <dd>
          <When iso={a.created_at} />
        </dd>
        <dt>{a.status === "pending" ? "Expires" : "Expiry"}</dt>
        <dd>
          <When iso={a.expires_at} />
        </dd>
        {decided ? (
          <>
            <dt>{a.status === "approved" ? "Approved by" : "Rejected by"}</dt>
            <dd>{keyLabel(a.decided_by)}</dd>
            {a.decided_at ? (
              <>
                <dt>Decided</dt>
                <dd>
                  <When iso={a.decided_at} />
                </dd>
              </>
            ) : null}
            <dt>Reason</dt>
            <dd>{a.reason ? a.reason : <span className="hint-inline">none given</span>}</dd>
          </>
        ) : null}
        {a.ended_at ? (
          <>
            <dt>{a.status === "superseded" ? "Superseded" : "Ended"}</dt>
            <dd>
              <When iso={a.ended_at} />
            </dd>
          </>
        ) : null}
      </dl>
      <section className="args" aria-labelledby={`${id}-args`}>
        <h3 id={`${id}-args`}>Arguments</h3>
        {/* Focusable so a keyboard can scroll long arguments. */}
        <pre tabIndex={0}>{prettyArgs(a.args)}</pre>
        {a.args_digest ? (
          <p className="digest">
            Digest <code title="SHA-256 of the canonical JSON of the arguments">{a.args_digest}</code>
          </p>
        ) : null}
      </section>
      {a.status === "superseded" ? (
        <p className="hint">The arguments rendered at run time differed from these, so the task asked for a new approval.</p>
      ) : null}
      {a.status === "expired" ? <p className="hint">Nobody decided in time; the task asked for a new approval.</p> : null}
      {canDecide && a.status === "pending" && a.submitted_by === myKeyId ? (
        <p className="hint">
          Your key submitted this DAG: unless self-approval is allowed (APEX_APPROVAL_ALLOW_SELF), Apex refuses your decision and
          another key must decide.
        </p>
      ) : null}
      {canDecide && a.status === "pending" ? <DecisionForm approval={a} onDecided={onDecided} onStale={onStale} /> : null}
    </article>
  );
}
