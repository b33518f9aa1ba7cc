-- LLM calls are steps paid once (issue 12).
--
-- llm_calls: one row per (dag, task, call) — today an LLM task makes one call, number 1. Before a
-- request goes to the provider the row is in_flight (own transaction); the answer and its usage
-- row are written together, in their own transaction, the moment the answer arrives. A later
-- attempt of the task finds the row answered and reuses the answer: no provider call, no second
-- usage row. A call whose worker died or gave up before an answer is unknown: a usage row with
-- unknown counts says it may have been paid, and the next attempt sends it again under the same
-- idempotency key. A call the provider answered with an error is failed: nothing to reuse, and the
-- next try gets a new key (`try` counts those).
-- The answer is JSON in a text column ({text, responseModel, finishReasons, responseId}): JSON
-- escapes NUL and lone surrogates, which Postgres text and jsonb refuse, so it stays lossless.
CREATE TABLE llm_calls (
  dag_id          uuid NOT NULL,
  task_id         text NOT NULL,
  call            integer NOT NULL CHECK (call >= 1),
  try             integer NOT NULL DEFAULT 1 CHECK (try >= 1),
  -- The attempt that sent the current try, then the one that got the answer.
  attempt         integer NOT NULL,
  worker_id       text NOT NULL,
  status          text NOT NULL CHECK (status IN ('in_flight', 'answered', 'unknown', 'failed')),
  idempotency_key text NOT NULL,
  provider        text NOT NULL,
  model           text NOT NULL,
  answer          text,
  response_model  text,
  error           text,
  sent_at         timestamptz NOT NULL DEFAULT now(),
  answered_at     timestamptz,
  PRIMARY KEY (dag_id, task_id, call),
  FOREIGN KEY (dag_id, task_id) REFERENCES tasks (dag_id, id) ON DELETE CASCADE,
  CHECK ((status = 'answered') = (answer IS NOT NULL))
);

-- usage: one row per paid (or possibly paid) call and attempt. `unknown` rows have no counts:
-- the call was in flight when its worker died, so what it cost is not known (sums skip them).
ALTER TABLE usage
  ADD COLUMN llm_call integer,
  ADD COLUMN unknown boolean NOT NULL DEFAULT false,
  ALTER COLUMN input_tokens DROP NOT NULL,
  ALTER COLUMN output_tokens DROP NOT NULL,
  ALTER COLUMN cached_tokens DROP NOT NULL,
  ALTER COLUMN cost_usd DROP NOT NULL,
  ADD CONSTRAINT usage_counts_known CHECK (unknown OR (input_tokens IS NOT NULL AND output_tokens IS NOT NULL
                                                       AND cached_tokens IS NOT NULL AND cost_usd IS NOT NULL));
CREATE UNIQUE INDEX usage_one_per_call_attempt ON usage (dag_id, task_id, llm_call, attempt) WHERE llm_call IS NOT NULL;

-- A ready task that waits for something other than its due time: 'provider' while the breaker of
-- its LLM provider is open (no attempt is started meanwhile). Shown only while the task is ready.
ALTER TABLE tasks ADD COLUMN waiting_for text CHECK (waiting_for IN ('provider'));

-- Calls of the given attempts that were in flight when those attempts ended without a word from
-- their worker: unknown, each with an unknown-usage row (once per call and attempt).
CREATE FUNCTION apex_llm_calls_unknown(p_dag uuid, p_task text, p_attempts integer[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  n integer;
BEGIN
  WITH lost AS (
    UPDATE llm_calls SET status = 'unknown', error = 'in flight when its attempt was lost'
     WHERE dag_id = p_dag AND task_id = p_task AND status = 'in_flight' AND attempt = ANY (p_attempts)
    RETURNING call, attempt, provider, model
  ), recorded AS (
    INSERT INTO usage (dag_id, task_id, agent_id, attempt, llm_call, unknown, provider, model,
                       input_tokens, output_tokens, cached_tokens, cost_usd, price_version)
    SELECT p_dag, p_task, d.agent_id, lost.attempt, lost.call, true, lost.provider, lost.model, NULL, NULL, NULL, NULL, 'unknown'
      FROM lost JOIN dags d ON d.id = p_dag
    ON CONFLICT (dag_id, task_id, llm_call, attempt) WHERE llm_call IS NOT NULL DO NOTHING
    RETURNING 1
  )
  SELECT count(*) INTO n FROM lost;
  RETURN n;
END
$$;

-- Called by the reclaim of an expired lease, in its transaction, with the attempts it ended:
-- their in-flight calls become unknown (see above). When one of them already got its answer, the
-- attempt did what it paid for and is refunded (spent = false, the task's count goes back), so a
-- task with no attempt left still runs once more, reusing the stored answer. Once per answer: an
-- attempt that dies while reusing it is not refunded. Returns whether it refunded.
CREATE FUNCTION apex_settle_lost_attempts(p_dag uuid, p_task text, p_attempts integer[])
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  refund boolean;
BEGIN
  PERFORM apex_llm_calls_unknown(p_dag, p_task, p_attempts);
  SELECT EXISTS (SELECT 1 FROM llm_calls WHERE dag_id = p_dag AND task_id = p_task AND status = 'answered'
                                           AND attempt = ANY (p_attempts)) INTO refund;
  IF refund THEN
    UPDATE attempts SET spent = false WHERE dag_id = p_dag AND task_id = p_task AND number = ANY (p_attempts);
    UPDATE tasks SET attempts = greatest(attempts - 1, 0) WHERE dag_id = p_dag AND id = p_task;
  END IF;
  UPDATE tasks SET waiting_for = NULL WHERE dag_id = p_dag AND id = p_task AND waiting_for IS NOT NULL;
  RETURN refund;
END
$$;

-- apex_finish_attempts (0005) without usage: an LLM call's usage is written when its answer
-- arrives (llm_calls above), never with the task's result, so it cannot be written twice. New
-- outcome 'defer' (breaker open when the call was due): the attempt row is deleted and refunded,
-- the task is ready after delay_ms with waiting_for set.
CREATE OR REPLACE FUNCTION apex_finish_attempts(p_worker text, p_outcomes jsonb)
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
           output jsonb, error text, delay_ms integer, end_reason text, waiting_for text)
      LEFT JOIN tasks t ON t.dag_id = x.dag_id AND t.id = x.task_id AND t.status = 'running' AND t.lease_owner = p_worker
       AND EXISTS (SELECT 1 FROM attempts a WHERE a.dag_id = x.dag_id AND a.task_id = x.task_id
                                              AND a.number = x.attempt AND a.status = 'running')
     ORDER BY x.dag_id, x.task_id, x.attempt
  LOOP
    IF NOT o.held THEN
      RETURN NEXT ROW('result', o.dag_id, o.task_id, 'lease_lost', jsonb_build_object('attempt', o.attempt))::apex_change;
      CONTINUE;
    END IF;

    IF o.outcome = 'defer' THEN
      -- Claimed, but the call could not go out (its provider's breaker is open): the attempt never
      -- happened. Its row goes, the attempt is refunded, the task waits for what it names.
      DELETE FROM attempts WHERE dag_id = o.dag_id AND task_id = o.task_id AND number = o.attempt;
      UPDATE tasks SET status = 'ready', next_run_at = now() + greatest(coalesce(o.delay_ms, 0), 0) * interval '1 millisecond',
             error = o.error, attempts = attempts - 1, waiting_for = o.waiting_for,
             lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
       WHERE dag_id = o.dag_id AND id = o.task_id;
      wake := wake OR coalesce(o.delay_ms, 0) <= 0;
      RETURN NEXT ROW('task', o.dag_id, o.task_id, 'ready', NULL::jsonb)::apex_change;
      RETURN NEXT ROW('result', o.dag_id, o.task_id, 'rescheduled', jsonb_build_object('attempt', o.attempt))::apex_change;
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
             error = o.error, attempts = attempts - CASE WHEN o.outcome = 'reschedule' THEN 1 ELSE 0 END, waiting_for = NULL,
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
