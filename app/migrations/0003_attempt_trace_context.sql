-- The attempt's own span (task_execution) as a W3C carrier: when its worker dies mid-attempt, the
-- worker that reclaims the lease ends that span with the stored ids, so the trace keeps the attempt
-- and the spans the dead worker already exported under it keep their parent.
ALTER TABLE attempts ADD COLUMN trace_context jsonb;
