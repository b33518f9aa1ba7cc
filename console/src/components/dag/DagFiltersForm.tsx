/** The DAG list's filter controls: status, agent, creation time (presets or a custom range). */
import type { Agent } from "../../api/types";
import { statusText } from "../StatusBadge";
import { dagStatuses, rangePresets, type DagFilters, type FilterError, type RangePreset } from "./dag-filters";

export function DagFiltersForm({
  filters,
  agents,
  error,
  onChange,
}: {
  filters: DagFilters;
  /** Undefined while the agents load (or when they could not be loaded): the select offers "Any agent". */
  agents: readonly Agent[] | undefined;
  error: FilterError | undefined;
  onChange(next: DagFilters): void;
}) {
  const set = (patch: Partial<DagFilters>) => onChange({ ...filters, ...patch });
  const fieldError = (field: FilterError["field"]) =>
    error?.field === field ? (
      <p id={`dag-filter-${field}-error`} className="field-error">
        {error.message}
      </p>
    ) : null;

  return (
    <form className="filters" role="search" aria-label="Filter DAGs" onSubmit={(e) => e.preventDefault()}>
      <div>
        <label htmlFor="dag-filter-status">Status</label>
        <select id="dag-filter-status" value={filters.status ?? ""} onChange={(e) => set({ status: (e.target.value || undefined) as DagFilters["status"] })}>
          <option value="">Any status</option>
          {dagStatuses.map((s) => (
            <option key={s} value={s}>
              {statusText(s)}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="dag-filter-agent">Agent</label>
        <select id="dag-filter-agent" value={filters.agent ?? ""} onChange={(e) => set({ agent: e.target.value || undefined })}>
          <option value="">Any agent</option>
          {filters.agent && !agents?.some((a) => a.id === filters.agent) ? <option value={filters.agent}>{filters.agent}</option> : null}
          {(agents ?? []).map((a) => (
            <option key={a.id} value={a.id}>
              {a.name}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="dag-filter-range">Created</label>
        <select id="dag-filter-range" value={filters.range} onChange={(e) => set({ range: e.target.value as RangePreset })}>
          {Object.entries(rangePresets).map(([value, preset]) => (
            <option key={value} value={value}>
              {preset.label}
            </option>
          ))}
        </select>
      </div>
      {filters.range === "custom" ? (
        <>
          <div>
            <label htmlFor="dag-filter-from">From</label>
            <input
              id="dag-filter-from"
              type="datetime-local"
              value={filters.from ?? ""}
              aria-invalid={error?.field === "from" || undefined}
              aria-describedby={error?.field === "from" ? "dag-filter-from-error" : undefined}
              onChange={(e) => set({ from: e.target.value || undefined })}
            />
            {fieldError("from")}
          </div>
          <div>
            <label htmlFor="dag-filter-until">Until</label>
            <input
              id="dag-filter-until"
              type="datetime-local"
              value={filters.until ?? ""}
              aria-invalid={error?.field === "until" || undefined}
              aria-describedby={error?.field === "until" ? "dag-filter-until-error" : undefined}
              onChange={(e) => set({ until: e.target.value || undefined })}
            />
            {fieldError("until")}
          </div>
        </>
      ) : null}
    </form>
  );
}
