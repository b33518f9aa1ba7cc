/**
 * The DAG list (/dags): summaries a page at a time, filtered by status, agent and creation time.
 * Filters and the page cursor live in the URL; the cursors of earlier pages ride in the history
 * entry's state, so "Previous page" and the browser's Back button agree. Refreshes every few
 * seconds while the tab is visible, keeping the rows (and the reader's focus) in place.
 */
import { useEffect, useMemo } from "react";
import { Link, useLocation, useNavigate, useSearchParams } from "react-router";
import type { DagList } from "../api/types";
import { DagFiltersForm } from "../components/dag/DagFiltersForm";
import { checkRange, hasFilters, readFilters, toListQuery, writeFilters, type DagFilters } from "../components/dag/dag-filters";
import { formatElapsed, totalTokens } from "../components/dag/format";
import { formatCount, formatDateTime, formatUsd } from "../components/format";
import { EmptyState, ErrorState, Loading } from "../components/states";
import { StatusBadge } from "../components/StatusBadge";
import { useApi } from "../components/use-api";
import { useSession } from "../session";

export const dagPageSize = 25;
export const dagListRefreshMs = 5_000;

interface PagingState {
  /** Cursors of the pages before this one, oldest first ("" is the first page). */
  readonly previous?: string[];
}

export function DagsPage() {
  const { client, can } = useSession();
  const [params] = useSearchParams();
  const location = useLocation();
  const navigate = useNavigate();
  const filters = useMemo(() => readFilters(params), [params]);
  const cursor = params.get("cursor") ?? undefined;
  const previous = (location.state as PagingState | null)?.previous ?? [];
  const rangeError = checkRange(filters);

  const agents = useApi("agents", (signal) => client.listAgents(signal));
  const agentNames = useMemo(() => new Map((agents.data?.agents ?? []).map((a) => [a.id, a.name])), [agents.data]);

  const listKey = JSON.stringify({ f: writeFilters(filters).toString(), cursor, invalid: Boolean(rangeError) });
  const list = useApi<DagList | null>(listKey, (signal) =>
    rangeError ? Promise.resolve(null) : client.listDags(toListQuery(filters, cursor, dagPageSize), signal),
  );
  const { reload, loading } = list;

  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState === "visible" && !loading) reload();
    }, dagListRefreshMs);
    return () => clearInterval(timer);
  }, [reload, loading]);

  const go = (next: DagFilters, pageCursor?: string, stack: string[] = []) => {
    const search = writeFilters(next);
    if (pageCursor) search.set("cursor", pageCursor);
    navigate({ search: search.size > 0 ? `?${search.toString()}` : "" }, { state: { previous: stack } satisfies PagingState });
  };
  const nextPage = (nextCursor: string) => go(filters, nextCursor, [...previous, cursor ?? ""]);
  const previousPage = () => go(filters, previous.at(-1) || undefined, previous.slice(0, -1));

  const data = list.data;
  const pageNumber = cursor ? previous.length + 1 : 1;

  let body;
  if (rangeError) {
    body = <p className="hint">Fix the time range to see DAGs.</p>;
  } else if (!data) {
    body = list.error ? <ErrorState title="Could not load DAGs" error={list.error} onRetry={reload} /> : <Loading label="Loading DAGs" />;
  } else if (data.dags.length === 0) {
    body = cursor ? (
      <EmptyState title="No more DAGs">
        <button type="button" onClick={() => go(filters)}>
          Back to the first page
        </button>
      </EmptyState>
    ) : hasFilters(filters) ? (
      <EmptyState title="No DAGs match these filters">
        <button type="button" onClick={() => go({ range: "all" })}>
          Clear filters
        </button>
      </EmptyState>
    ) : (
      <EmptyState title="No DAGs yet">
        DAGs appear here once they are submitted
        {can("dags:submit") ? (
          <>
            {" "}
            — <Link to="/submit">submit one</Link>.
          </>
        ) : (
          " through the API."
        )}
      </EmptyState>
    );
  } else {
    body = (
      <table aria-busy={loading || undefined}>
        <caption className="visually-hidden">DAGs, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Status</th>
            <th scope="col">Agent</th>
            <th scope="col">Created</th>
            <th scope="col">Duration</th>
            <th scope="col">Tokens</th>
            <th scope="col">Cost</th>
          </tr>
        </thead>
        <tbody>
          {data.dags.map((dag) => (
            <tr key={dag.id}>
              <td>
                <Link to={`/dags/${encodeURIComponent(dag.id)}`}>{dag.name}</Link>
              </td>
              <td>
                <StatusBadge status={dag.status} />
              </td>
              <td>{agentNames.get(dag.agent_id) ?? <code>{dag.agent_id}</code>}</td>
              <td>{formatDateTime(dag.created_at)}</td>
              <td>{formatElapsed(dag.created_at, dag.finished_at)}</td>
              <td>{formatCount(totalTokens(dag.totals))}</td>
              <td>{formatUsd(dag.totals.cost_usd)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    );
  }

  return (
    <>
      <h1>DAGs</h1>
      <DagFiltersForm filters={filters} agents={agents.data?.agents} error={rangeError} onChange={(next) => go(next)} />
      {data && list.error ? <ErrorState title="Could not refresh the list" error={list.error} onRetry={reload} /> : null}
      {body}
      {data && (cursor || data.next_cursor) ? (
        <nav className="pager" aria-label="Pages">
          <button type="button" onClick={previousPage} disabled={!cursor}>
            Previous page
          </button>
          <span>Page {pageNumber}</span>
          <button type="button" onClick={() => data.next_cursor && nextPage(data.next_cursor)} disabled={!data.next_cursor}>
            Next page
          </button>
        </nav>
      ) : null}
    </>
  );
}
