-- The engine's hot path: claim-and-start is one statement, finishing attempts is one call to
-- apex_finish_attempts. Counters replace rescans, so finishing a task costs in proportion to its
-- direct dependents, never to the size of its DAG:
--   tasks.pending_deps   dependencies not yet succeeded (a pending task is ready at 0)
--   dags.open_tasks      tasks not yet terminal (the DAG settles at 0)
--   dags.pending_tasks, dags.awaiting_tasks, dags.failed_tasks (failed or skipped)
-- task_edges is depends_on indexed by parent: "who waits on me".
--
-- Lock order everywhere: task rows in (dag_id, id) order, then approvals, then DAG rows in id
-- order. The DAG row is updated last, just before commit, so siblings hold it only briefly.

CREATE TABLE task_edges (
  dag_id uuid NOT NULL,
  parent text NOT NULL,
  child  text NOT NULL,
  PRIMARY KEY (dag_id, parent, child),
  FOREIGN KEY (dag_id, child) REFERENCES tasks (dag_id, id) ON DELETE CASCADE
);
INSERT INTO task_edges (dag_id, parent, child)
SELECT dag_id, unnest(depends_on), id FROM tasks ON CONFLICT DO NOTHING;

ALTER TABLE tasks ADD COLUMN pending_deps integer NOT NULL DEFAULT 0 CHECK (pending_deps >= 0);
UPDATE tasks t SET pending_deps = (
  SELECT count(*) FROM task_edges e JOIN tasks p ON p.dag_id = e.dag_id AND p.id = e.parent
   WHERE e.dag_id = t.dag_id AND e.child = t.id AND p.status <> 'succeeded')
 WHERE t.status = 'pending';

ALTER TABLE dags
  ADD COLUMN open_tasks     integer NOT NULL DEFAULT 0,
  ADD COLUMN pending_tasks  integer NOT NULL DEFAULT 0,
  ADD COLUMN awaiting_tasks integer NOT NULL DEFAULT 0,
  ADD COLUMN failed_tasks   integer NOT NULL DEFAULT 0;
UPDATE dags d SET
  open_tasks     = c.open,
  pending_tasks  = c.pending,
  awaiting_tasks = c.awaiting,
  failed_tasks   = c.failed
  FROM (SELECT dag_id,
               count(*) FILTER (WHERE status IN ('pending', 'ready', 'running', 'awaiting_approval')) AS open,
               count(*) FILTER (WHERE status = 'pending') AS pending,
               count(*) FILTER (WHERE status = 'awaiting_approval') AS awaiting,
               count(*) FILTER (WHERE status IN ('failed', 'skipped')) AS failed
          FROM tasks GROUP BY dag_id) c
 WHERE c.dag_id = d.id AND d.finished_at IS NULL;

-- How an attempt ended, as state (never parsed back from `error`), and its span id (the carrier is
-- the task's trace_context with this span id: see telemetry/attempt-spans.ts).
ALTER TABLE attempts
  ADD COLUMN end_reason text CHECK (end_reason IN ('succeeded', 'failed', 'rescheduled', 'lease_expired', 'cancelled')),
  ADD COLUMN span_id text;
UPDATE attempts SET end_reason = CASE
    WHEN error LIKE 'lease of worker % expired' THEN 'lease_expired'
    WHEN error = 'cancelled' THEN 'cancelled'
    WHEN NOT spent THEN 'rescheduled'
    ELSE status END
 WHERE status <> 'running';
ALTER TABLE attempts ADD CONSTRAINT attempts_end_reason_set CHECK ((status = 'running') = (end_reason IS NULL));

-- The DAG status its counters imply (a cancelled DAG is set by cancel, never derived).
CREATE FUNCTION apex_dag_status(open integer, pending integer, awaiting integer, failed integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN open = 0 THEN CASE WHEN failed > 0 THEN 'failed' ELSE 'succeeded' END
    WHEN awaiting > 0 AND open = pending + awaiting THEN 'awaiting_approval'
    ELSE 'running'
  END
$$;

-- Every row the engine's functions return: a task or DAG status change (for events and metrics),
-- or the result of one finished attempt.
CREATE TYPE apex_change AS (kind text, dag_id uuid, task_id text, status text, detail jsonb);

-- Moves a DAG's counters by the given deltas and its status with them; returns the DAG's status
-- change when there is one (with what ends its trace when terminal). Terminal DAGs do not move.
CREATE FUNCTION apex_adjust_dag(p_dag uuid, d_open integer, d_pending integer, d_awaiting integer, d_failed integer)
RETURNS SETOF apex_change LANGUAGE plpgsql AS $$
DECLARE
  before text;
  d record;
BEGIN
  SELECT status INTO before FROM dags WHERE id = p_dag FOR UPDATE;
  IF before IS NULL OR before IN ('succeeded', 'failed', 'cancelled') THEN RETURN; END IF;
  UPDATE dags SET
      open_tasks = open_tasks + d_open,
      pending_tasks = pending_tasks + d_pending,
      awaiting_tasks = awaiting_tasks + d_awaiting,
      failed_tasks = failed_tasks + d_failed,
      status = apex_dag_status(open_tasks + d_open, pending_tasks + d_pending, awaiting_tasks + d_awaiting, failed_tasks + d_failed),
      finished_at = CASE WHEN open_tasks + d_open = 0 THEN now() END
   WHERE id = p_dag
   RETURNING id, status, agent_id, name, trace_context, created_at INTO d;
  IF d.status <> before THEN
    RETURN NEXT ROW('dag', d.id, NULL::text, d.status,
      jsonb_build_object('agent_id', d.agent_id, 'name', d.name, 'trace_context', d.trace_context, 'created_at', d.created_at))::apex_change;
  END IF;
END
$$;

-- Fails a task for good (its row already locked by the caller): every task downstream of it that
-- has not run is skipped, and the DAG's counters move. Returns the changes.
CREATE FUNCTION apex_fail_task(p_dag uuid, p_task text, p_error text)
RETURNS SETOF apex_change LANGUAGE plpgsql AS $$
DECLARE
  was text;
  s record;
  skipped_pending integer := 0;
  skipped_all integer := 0;
BEGIN
  UPDATE tasks t SET status = 'failed', error = p_error, lease_owner = NULL, lease_expires_at = NULL,
         finished_at = now(), updated_at = now()
    FROM (SELECT status FROM tasks WHERE dag_id = p_dag AND id = p_task) old
   WHERE t.dag_id = p_dag AND t.id = p_task AND t.status NOT IN ('succeeded', 'failed', 'cancelled', 'skipped')
   RETURNING old.status INTO was;
  IF was IS NULL THEN RETURN; END IF;
  RETURN NEXT ROW('task', p_dag, p_task, 'failed', NULL::jsonb)::apex_change;

  FOR s IN
    WITH RECURSIVE downstream (id) AS (
      SELECT child FROM task_edges WHERE dag_id = p_dag AND parent = p_task
      UNION
      SELECT e.child FROM task_edges e JOIN downstream d ON e.parent = d.id WHERE e.dag_id = p_dag
    ), locked AS (
      SELECT t.id, t.status FROM tasks t
       WHERE t.dag_id = p_dag AND t.id IN (SELECT id FROM downstream) AND t.status IN ('pending', 'ready')
       ORDER BY t.id FOR UPDATE
    )
    UPDATE tasks t SET status = 'skipped', error = 'skipped: upstream task "' || p_task || '" did not succeed',
           finished_at = now(), updated_at = now()
      FROM locked WHERE t.dag_id = p_dag AND t.id = locked.id
     RETURNING t.id, locked.status AS was
  LOOP
    skipped_all := skipped_all + 1;
    IF s.was = 'pending' THEN skipped_pending := skipped_pending + 1; END IF;
    RETURN NEXT ROW('task', p_dag, s.id, 'skipped', NULL::jsonb)::apex_change;
  END LOOP;
  RETURN QUERY SELECT * FROM apex_adjust_dag(p_dag, -1 - skipped_all,
    CASE WHEN was = 'pending' THEN -1 ELSE 0 END - skipped_pending,
    CASE WHEN was = 'awaiting_approval' THEN -1 ELSE 0 END,
    1 + skipped_all);
END
$$;

-- Records finished attempts, one element of p_outcomes per attempt, in one transaction:
--   {dag_id, task_id, attempt, outcome: succeeded|retry|fail|reschedule, output, error, delay_ms,
--    end_reason, usage: [{provider, model, ...}]}
-- Each write is fenced: the task must be running under p_worker's lease with this attempt still
-- running; otherwise the result is lease_lost (a paid LLM call's usage is still recorded, once).
-- Returns one ('result', dag, task, succeeded|retrying|failed|rescheduled|lease_lost, {attempt})
-- per outcome and every task and DAG status change. One NOTIFY wakes idle workers when a task is
-- ready now.
CREATE FUNCTION apex_finish_attempts(p_worker text, p_outcomes jsonb)
RETURNS SETOF apex_change LANGUAGE plpgsql AS $$
DECLARE
  o record;
  child text;
  promoted integer;
  wake boolean := false;
BEGIN
  -- Lock every task row this writes, in (dag_id, id) order: the attempts' own tasks and the direct
  -- dependents of them (the rare failure path locks what is further downstream itself).
  PERFORM 1 FROM tasks t
   WHERE (t.dag_id, t.id) IN (
     SELECT x.dag_id, x.task_id FROM jsonb_to_recordset(p_outcomes) AS x(dag_id uuid, task_id text)
     UNION
     SELECT e.dag_id, e.child FROM jsonb_to_recordset(p_outcomes) AS x(dag_id uuid, task_id text)
       JOIN task_edges e ON e.dag_id = x.dag_id AND e.parent = x.task_id)
   ORDER BY t.dag_id, t.id FOR UPDATE;

  FOR o IN
    SELECT x.*, t.attempts AS spent, t.max_attempts, t.id IS NOT NULL AS held
      FROM jsonb_to_recordset(p_outcomes) AS x(dag_id uuid, task_id text, attempt integer, outcome text,
           output jsonb, error text, delay_ms integer, end_reason text, usage jsonb)
      LEFT JOIN tasks t ON t.dag_id = x.dag_id AND t.id = x.task_id AND t.status = 'running' AND t.lease_owner = p_worker
       AND EXISTS (SELECT 1 FROM attempts a WHERE a.dag_id = x.dag_id AND a.task_id = x.task_id
                                              AND a.number = x.attempt AND a.status = 'running')
     ORDER BY x.dag_id, x.task_id, x.attempt
  LOOP
    IF o.outcome = 'succeeded' AND jsonb_typeof(o.usage) = 'array' AND jsonb_array_length(o.usage) > 0
       AND (o.held OR NOT EXISTS (SELECT 1 FROM usage WHERE dag_id = o.dag_id AND task_id = o.task_id AND attempt = o.attempt)) THEN
      INSERT INTO usage (dag_id, task_id, agent_id, attempt, provider, model, response_model, input_tokens,
                         output_tokens, cached_tokens, cost_usd, price_version, latency_ms)
      SELECT o.dag_id, o.task_id, d.agent_id, o.attempt, u.provider, u.model, u.response_model, u.input_tokens,
             u.output_tokens, u.cached_tokens, u.cost_usd, u.price_version, u.latency_ms
        FROM dags d, jsonb_to_recordset(o.usage) AS u(provider text, model text, response_model text, input_tokens integer,
             output_tokens integer, cached_tokens integer, cost_usd numeric, price_version text, latency_ms integer)
       WHERE d.id = o.dag_id;
    END IF;
    IF NOT o.held THEN
      RETURN NEXT ROW('result', o.dag_id, o.task_id, 'lease_lost', jsonb_build_object('attempt', o.attempt))::apex_change;
      CONTINUE;
    END IF;

    UPDATE attempts SET status = CASE WHEN o.outcome = 'succeeded' THEN 'succeeded' ELSE 'failed' END,
           end_reason = coalesce(o.end_reason, CASE o.outcome WHEN 'succeeded' THEN 'succeeded' WHEN 'reschedule' THEN 'rescheduled' ELSE 'failed' END),
           error = CASE o.outcome WHEN 'succeeded' THEN NULL WHEN 'reschedule' THEN 'rescheduled: ' || o.error ELSE o.error END,
           spent = o.outcome <> 'reschedule', finished_at = now()
     WHERE dag_id = o.dag_id AND task_id = o.task_id AND number = o.attempt;

    IF o.outcome = 'succeeded' THEN
      UPDATE tasks SET status = 'succeeded', output = coalesce(o.output, 'null'::jsonb), error = NULL, lease_owner = NULL,
             lease_expires_at = NULL, finished_at = now(), updated_at = now()
       WHERE dag_id = o.dag_id AND id = o.task_id;
      RETURN NEXT ROW('task', o.dag_id, o.task_id, 'succeeded', NULL::jsonb)::apex_change;
      RETURN NEXT ROW('result', o.dag_id, o.task_id, 'succeeded', jsonb_build_object('attempt', o.attempt))::apex_change;
      promoted := 0;
      FOR child IN
        UPDATE tasks t SET pending_deps = t.pending_deps - 1,
               status = CASE WHEN t.pending_deps = 1 THEN 'ready' ELSE t.status END,
               next_run_at = CASE WHEN t.pending_deps = 1 THEN now() ELSE t.next_run_at END,
               updated_at = now()
          FROM task_edges e
         WHERE e.dag_id = o.dag_id AND e.parent = o.task_id AND t.dag_id = e.dag_id AND t.id = e.child AND t.status = 'pending'
        RETURNING CASE WHEN t.status = 'ready' THEN t.id END
      LOOP
        IF child IS NOT NULL THEN
          promoted := promoted + 1;
          RETURN NEXT ROW('task', o.dag_id, child, 'ready', NULL::jsonb)::apex_change;
        END IF;
      END LOOP;
      wake := wake OR promoted > 0;
      RETURN QUERY SELECT * FROM apex_adjust_dag(o.dag_id, -1, -promoted, 0, 0);
    ELSIF o.outcome = 'reschedule' OR (o.outcome = 'retry' AND o.spent < o.max_attempts) THEN
      UPDATE tasks SET status = 'ready', next_run_at = now() + greatest(coalesce(o.delay_ms, 0), 0) * interval '1 millisecond',
             error = o.error, attempts = attempts - CASE WHEN o.outcome = 'reschedule' THEN 1 ELSE 0 END,
             lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
       WHERE dag_id = o.dag_id AND id = o.task_id;
      wake := wake OR coalesce(o.delay_ms, 0) <= 0;
      RETURN NEXT ROW('task', o.dag_id, o.task_id, 'ready', NULL::jsonb)::apex_change;
      RETURN NEXT ROW('result', o.dag_id, o.task_id, CASE WHEN o.outcome = 'reschedule' THEN 'rescheduled' ELSE 'retrying' END,
                      jsonb_build_object('attempt', o.attempt))::apex_change;
    ELSE
      RETURN QUERY SELECT * FROM apex_fail_task(o.dag_id, o.task_id, o.error);
      RETURN NEXT ROW('result', o.dag_id, o.task_id, 'failed', jsonb_build_object('attempt', o.attempt))::apex_change;
    END IF;
  END LOOP;
  IF wake THEN PERFORM pg_notify('apex_tasks_ready', ''); END IF;
END
$$;
