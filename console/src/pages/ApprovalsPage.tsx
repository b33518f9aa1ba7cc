/**
 * Approvals: tool calls parked until an operator approves the exact arguments. Filter by status
 * (pending by default, kept in the URL), decide with a reason, and see who decided what. Pending
 * lists refresh every 5 s; a refresh never moves focus or resets a reason being typed.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { useSearchParams } from "react-router";
import type { Approval, ApprovalStatusName } from "../api/types";
import { ApprovalCard } from "../components/approvals/ApprovalCard";
import { describeError, EmptyState, ErrorState, Loading } from "../components/states";
import { useApi } from "../components/use-api";
import { useSession } from "../session";

type StatusFilter = ApprovalStatusName | "all";

const filters: ReadonlyArray<{ value: StatusFilter; label: string }> = [
  { value: "pending", label: "Pending" },
  { value: "approved", label: "Approved" },
  { value: "rejected", label: "Rejected" },
  { value: "superseded", label: "Superseded" },
  { value: "expired", label: "Expired" },
  { value: "all", label: "All" },
];

export const approvalPollMs = 5_000;

function parseFilter(value: string | null): StatusFilter {
  return filters.some((f) => f.value === value) ? (value as StatusFilter) : "pending";
}

export function ApprovalsPage() {
  const { me, can } = useSession();
  const [params, setParams] = useSearchParams();
  const status = parseFilter(params.get("status"));

  return (
    <>
      <h1>Approvals</h1>
      <p className="lead">Tool calls that wait for a person: each covers exactly the arguments shown, nothing else.</p>
      <div className="filters">
        <div>
          <label htmlFor="approval-status">Status</label>
          <select
            id="approval-status"
            value={status}
            onChange={(e) => setParams(e.target.value === "pending" ? {} : { status: e.target.value }, { replace: true })}
          >
            {filters.map((f) => (
              <option key={f.value} value={f.value}>
                {f.label}
              </option>
            ))}
          </select>
        </div>
      </div>
      {can("approvals:decide") ? null : (
        <p className="notice">
          Your role ({me.key.role}) can view approvals but not decide them.
        </p>
      )}
      <ApprovalList key={status} status={status} />
    </>
  );
}

function ApprovalList({ status }: { status: StatusFilter }) {
  const { client, me, can } = useSession();
  const list = useApi(`approvals:${status}`, (signal) => client.listApprovals(status === "all" ? undefined : status, signal));
  // Decisions made here, kept so a decided item stays in view (updated) after a pending-only refresh drops it.
  const [decided, setDecided] = useState<ReadonlyMap<string, Approval>>(new Map());
  const [announcement, setAnnouncement] = useState("");
  const headings = useRef(new Map<string, HTMLHeadingElement>());
  // The approval just decided: its heading takes focus once the card re-renders without the form.
  const focusAfterDecision = useRef<string | undefined>(undefined);
  const { reload } = list;

  const polls = status === "pending" || status === "all";
  useEffect(() => {
    if (!polls) return;
    const timer = setInterval(() => {
      if (document.visibilityState !== "hidden") reload();
    }, approvalPollMs);
    return () => clearInterval(timer);
  }, [polls, reload]);

  useEffect(() => {
    if (!focusAfterDecision.current) return;
    headings.current.get(focusAfterDecision.current)?.focus();
    focusAfterDecision.current = undefined;
  });

  const onDecided = useCallback((updated: Approval, decision: "approve" | "reject") => {
    setDecided((prev) => new Map(prev).set(updated.id, updated));
    setAnnouncement(
      `${decision === "approve" ? "Approved" : "Rejected"} the call to ${updated.tool} in DAG ${updated.dag_name ?? updated.dag_id}.`,
    );
    focusAfterDecision.current = updated.id;
  }, []);

  if (!list.data) {
    if (list.error) return <ErrorState title="Could not load approvals" error={list.error} onRetry={reload} />;
    return <Loading label="Loading approvals" />;
  }

  const items = mergeDecided(list.data.approvals, decided);
  return (
    <>
      <p className="announce" role="status" aria-live="polite">
        {announcement}
      </p>
      {list.error ? (
        <p className="field-error" role="status">
          Could not refresh the list ({describeError(list.error)}); showing what was last loaded.
        </p>
      ) : null}
      {items.length === 0 ? (
        status === "pending" ? (
          <EmptyState title="Nothing waits for approval">
            A task parks here when it calls a tool that requires an operator's approval; it resumes once someone approves that exact
            call, and fails if it is rejected. This list refreshes every 5 seconds.
          </EmptyState>
        ) : (
          <EmptyState title={status === "all" ? "No approvals yet" : `No ${status} approvals`}>
            Approvals appear once a task calls a tool that requires an operator's approval.
          </EmptyState>
        )
      ) : (
        <ul className="approvals" aria-label={`${items.length} approval${items.length === 1 ? "" : "s"}`}>
          {items.map((a) => (
            <li key={a.id}>
              <ApprovalCard
                approval={a}
                canDecide={can("approvals:decide")}
                myKeyId={me.key.id}
                myKeyName={me.key.name}
                headingRef={(el) => {
                  if (el) headings.current.set(a.id, el);
                  else headings.current.delete(a.id);
                }}
                onDecided={onDecided}
                onStale={reload}
              />
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

/** The server's list with this page's decisions applied: a decision here is at least as new as the list. */
function mergeDecided(fromServer: readonly Approval[], decided: ReadonlyMap<string, Approval>): Approval[] {
  const seen = new Set<string>();
  const merged = fromServer.map((a) => {
    seen.add(a.id);
    const mine = decided.get(a.id);
    return mine && a.status === "pending" ? mine : a;
  });
  for (const a of decided.values()) if (!seen.has(a.id)) merged.push(a);
  return merged.sort((x, y) => Date.parse(x.created_at) - Date.parse(y.created_at));
}
