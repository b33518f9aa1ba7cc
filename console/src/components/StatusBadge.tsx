/**
 * A DAG, task, attempt or approval status as a badge: the status word is always the text (colour
 * is only a second cue, never the only one), styled by `.status-<status>` in styles.css.
 */
export function StatusBadge({ status, label }: { status: string; label?: string }) {
  return <span className={`status status-${status}`}>{label ?? statusText(status)}</span>;
}

/** The words people read for a status: "awaiting_approval" is "awaiting approval". */
export function statusText(status: string): string {
  return status.replaceAll("_", " ");
}
