-- Hard spend budgets (issue 16): limits in micro-dollars and tokens on a DAG, an agent or an API
-- key, reserved at each LLM call's worst case before it goes out and settled to its real cost
-- after. Postgres is the only source of truth: one function call reserves against every budget
-- that applies, under row locks taken in one order, so replicas can never overshoot together.

-- A limit on one scope for one period. DAG budgets are set at submission and have no period;
-- agents and keys may have a total and hour/day/month budgets (calendar periods in UTC), each with
-- a USD limit, a token limit or both.
CREATE TABLE budgets (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  scope           text NOT NULL CHECK (scope IN ('dag', 'agent', 'api_key')),
  -- The DAG, agent or API key id (as text: dags.submitted_by is text).
  scope_id        text NOT NULL,
  period          text NOT NULL CHECK (period IN ('total', 'hour', 'day', 'month')),
  limit_micro_usd bigint CHECK (limit_micro_usd >= 0),
  limit_tokens    bigint CHECK (limit_tokens >= 0),
  updated_by      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (scope, scope_id, period),
  CHECK (limit_micro_usd IS NOT NULL OR limit_tokens IS NOT NULL),
  CHECK (scope <> 'dag' OR period = 'total')
);

-- What one budget has spent and holds reserved in one period (starts_at '-infinity' for total).
-- Created at the first reservation of the period (a total one when its budget is set). A window of a
-- period the budget was created in starts from the spend the usage table already records for the
-- period, so a budget set mid-month counts the month so far; a later period starts at 0, because
-- every call in it reserved against the budget and so created the window.
CREATE TABLE budget_windows (
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  budget_id          bigint NOT NULL REFERENCES budgets (id) ON DELETE CASCADE,
  starts_at          timestamptz NOT NULL,
  spent_micro_usd    bigint NOT NULL DEFAULT 0,
  spent_tokens       bigint NOT NULL DEFAULT 0,
  reserved_micro_usd bigint NOT NULL DEFAULT 0 CHECK (reserved_micro_usd >= 0),
  reserved_tokens    bigint NOT NULL DEFAULT 0 CHECK (reserved_tokens >= 0),
  UNIQUE (budget_id, starts_at)
);

-- One LLM call's hold on the windows it was reserved against, made with its in-flight record.
-- held: the call is out. charged: it ended without an answer (may have been paid), so its worst
-- case was moved to spent; kept so that a late answer can correct the charge to the real cost.
CREATE TABLE budget_reservations (
  dag_id     uuid NOT NULL,
  task_id    text NOT NULL,
  call       integer NOT NULL,
  attempt    integer NOT NULL,
  status     text NOT NULL CHECK (status IN ('held', 'charged')),
  micro_usd  bigint NOT NULL CHECK (micro_usd >= 0),
  tokens     bigint NOT NULL CHECK (tokens >= 0),
  window_ids bigint[] NOT NULL,
  worker_id  text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dag_id, task_id, call, attempt),
  FOREIGN KEY (dag_id, task_id) REFERENCES tasks (dag_id, id) ON DELETE CASCADE
);

-- What a DAG does when a periodic agent or key budget refuses a call: fail the task
-- (budget_exceeded), or wait for the period's reset.
ALTER TABLE dags ADD COLUMN budget_on_exhausted text NOT NULL DEFAULT 'fail'
  CHECK (budget_on_exhausted IN ('fail', 'wait_for_reset'));

-- A ready task may also wait for a budget: in-flight reservations to settle, or a period to reset.
ALTER TABLE tasks DROP CONSTRAINT tasks_waiting_for_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_waiting_for_check CHECK (waiting_for IN ('provider', 'budget'));

CREATE FUNCTION apex_budget_window_start(p_period text, p_now timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_period = 'total' THEN '-infinity'::timestamptz
              ELSE date_trunc(p_period, p_now AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' END
$$;

-- When a window ends (its period resets); NULL for total.
CREATE FUNCTION apex_budget_window_end(p_period text, p_starts_at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_period = 'total' THEN NULL
              ELSE ((p_starts_at AT TIME ZONE 'UTC') + ('1 ' || p_period)::interval) AT TIME ZONE 'UTC' END
$$;

-- The spend the usage table records for a scope in [p_from, p_to): what a new window starts from.
-- Unknown-usage rows have no cost and count 0 here. One query per scope, each served by an index
-- (usage_dag_idx, usage_agent_idx, dags_submitted_by_idx then usage_dag_idx).
CREATE FUNCTION apex_budget_recorded_spend(p_scope text, p_scope_id text, p_from timestamptz, p_to timestamptz,
                                           OUT micro_usd bigint, OUT tokens bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF p_scope = 'dag' THEN
    SELECT coalesce(sum(round(u.cost_usd * 1000000)), 0)::bigint, coalesce(sum(u.input_tokens + u.output_tokens), 0)::bigint
      INTO micro_usd, tokens
      FROM usage u
     WHERE u.dag_id = p_scope_id::uuid AND NOT u.unknown AND u.created_at >= p_from AND (p_to IS NULL OR u.created_at < p_to);
  ELSIF p_scope = 'agent' THEN
    SELECT coalesce(sum(round(u.cost_usd * 1000000)), 0)::bigint, coalesce(sum(u.input_tokens + u.output_tokens), 0)::bigint
      INTO micro_usd, tokens
      FROM usage u
     WHERE u.agent_id = p_scope_id::uuid AND NOT u.unknown AND u.created_at >= p_from AND (p_to IS NULL OR u.created_at < p_to);
  ELSE
    SELECT coalesce(sum(round(u.cost_usd * 1000000)), 0)::bigint, coalesce(sum(u.input_tokens + u.output_tokens), 0)::bigint
      INTO micro_usd, tokens
      FROM dags d JOIN usage u ON u.dag_id = d.id
     WHERE d.submitted_by = p_scope_id AND NOT u.unknown AND u.created_at >= p_from AND (p_to IS NULL OR u.created_at < p_to);
  END IF;
END
$$;
CREATE INDEX dags_submitted_by_idx ON dags (submitted_by);

-- What a new window of budget `b` starts from: the recorded spend of its period when the budget was
-- created during it, else nothing (apex_budget_recorded_spend scans usage: only when needed).
CREATE FUNCTION apex_budget_window_seed(b budgets, p_starts_at timestamptz, OUT micro_usd bigint, OUT tokens bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF b.created_at > p_starts_at THEN
    SELECT r.micro_usd, r.tokens INTO micro_usd, tokens
      FROM apex_budget_recorded_spend(b.scope, b.scope_id, p_starts_at, apex_budget_window_end(b.period, p_starts_at)) r;
  ELSE
    micro_usd := 0;
    tokens := 0;
  END IF;
END
$$;

-- The budgets that apply to a DAG's calls: its own, its agent's and its submitting key's.
CREATE FUNCTION apex_dag_budgets(p_dag uuid) RETURNS SETOF budgets
LANGUAGE sql STABLE AS $$
  SELECT b.* FROM dags d
    JOIN budgets b ON (b.scope = 'dag' AND b.scope_id = d.id::text)
                   OR (b.scope = 'agent' AND b.scope_id = d.agent_id::text)
                   OR (b.scope = 'api_key' AND b.scope_id = d.submitted_by)
   WHERE d.id = p_dag
$$;

-- Records an LLM call in flight, fenced on the attempt still holding its task, after reserving
-- its worst case (p_micro_usd, p_tokens) against every budget of the DAG, all or nothing. Windows
-- are locked in id order, so concurrent reservations on shared budgets queue instead of
-- deadlocking, and each sees the others' holds. Returns {"status": "sent"}, {"status": "fenced"}
-- (nothing written: the call must not go out) or {"status": "refused", ...} with the refusing
-- budget, where `decision` says what the task should do:
--   fail         it cannot fit: spent + worst case > limit (and no reset to wait for)
--   wait_reset   the DAG asked to wait, and every refusing budget is periodic: wait until resets_at
--   wait_settle  it fits once calls in flight settle (spent + worst case <= limit): try again soon
-- A call whose worst case alone exceeds a limit is `fail` whatever the DAG asked.
CREATE FUNCTION apex_begin_llm_call(p_dag uuid, p_task text, p_call integer, p_try integer, p_attempt integer,
                                    p_worker text, p_key text, p_provider text, p_model text,
                                    p_micro_usd bigint, p_tokens bigint, p_now timestamptz)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  held boolean;
  call_status text;
  missing budgets;
  waits boolean;
  ids bigint[];
  w record;
  worst jsonb;
  worst_rank integer := -1;
  rank integer;
  blocking_total boolean := false;
  reset_at timestamptz;
BEGIN
  -- Locks in the order every writer of these rows uses: task, call, reservations, windows.
  SELECT true INTO held FROM tasks t
   WHERE t.dag_id = p_dag AND t.id = p_task AND t.status = 'running' AND t.lease_owner = p_worker
     AND EXISTS (SELECT 1 FROM attempts a WHERE a.dag_id = p_dag AND a.task_id = p_task
                                            AND a.number = p_attempt AND a.status = 'running')
     FOR SHARE OF t;
  SELECT status INTO call_status FROM llm_calls c
   WHERE c.dag_id = p_dag AND c.task_id = p_task AND c.call = p_call FOR UPDATE;
  IF held IS NULL OR call_status = 'answered' THEN
    RETURN jsonb_build_object('status', 'fenced');
  END IF;

  -- This period's window of every budget that applies, created on first use; only a missing one
  -- is seeded (the seed may read usage rows).
  FOR missing IN
    SELECT bb.* FROM apex_dag_budgets(p_dag) bb
     WHERE NOT EXISTS (SELECT 1 FROM budget_windows x WHERE x.budget_id = bb.id AND x.starts_at = apex_budget_window_start(bb.period, p_now))
  LOOP
    INSERT INTO budget_windows (budget_id, starts_at, spent_micro_usd, spent_tokens)
    SELECT missing.id, apex_budget_window_start(missing.period, p_now), r.micro_usd, r.tokens
      FROM apex_budget_window_seed(missing, apex_budget_window_start(missing.period, p_now)) r
    ON CONFLICT (budget_id, starts_at) DO NOTHING;
  END LOOP;

  ids := ARRAY[]::bigint[];
  FOR w IN
    SELECT bw.*, b.scope, b.scope_id, b.period, b.limit_micro_usd, b.limit_tokens,
           apex_budget_window_end(b.period, bw.starts_at) AS resets_at
      FROM apex_dag_budgets(p_dag) b
      JOIN budget_windows bw ON bw.budget_id = b.id AND bw.starts_at = apex_budget_window_start(b.period, p_now)
     ORDER BY bw.id
       FOR UPDATE OF bw
  LOOP
    ids := ids || w.id;
    IF (w.limit_micro_usd IS NULL OR w.spent_micro_usd + w.reserved_micro_usd + p_micro_usd <= w.limit_micro_usd)
       AND (w.limit_tokens IS NULL OR w.spent_tokens + w.reserved_tokens + p_tokens <= w.limit_tokens) THEN
      CONTINUE;
    END IF;
    -- 2: can never fit (the worst case alone is over the limit), 1: does not fit on what is spent, 0: fits once calls in flight settle.
    rank := CASE
      WHEN (w.limit_micro_usd IS NOT NULL AND p_micro_usd > w.limit_micro_usd) OR (w.limit_tokens IS NOT NULL AND p_tokens > w.limit_tokens) THEN 2
      WHEN (w.limit_micro_usd IS NOT NULL AND w.spent_micro_usd + p_micro_usd > w.limit_micro_usd)
        OR (w.limit_tokens IS NOT NULL AND w.spent_tokens + p_tokens > w.limit_tokens) THEN 1
      ELSE 0 END;
    IF rank >= 1 THEN
      blocking_total := blocking_total OR w.period = 'total' OR rank = 2;
      reset_at := greatest(reset_at, w.resets_at);
    END IF;
    IF rank > worst_rank THEN
      worst_rank := rank;
      worst := jsonb_build_object(
        'scope', w.scope, 'scope_id', w.scope_id, 'period', w.period,
        'limit_micro_usd', w.limit_micro_usd, 'limit_tokens', w.limit_tokens,
        'spent_micro_usd', w.spent_micro_usd, 'spent_tokens', w.spent_tokens,
        'reserved_micro_usd', w.reserved_micro_usd, 'reserved_tokens', w.reserved_tokens,
        'resets_at', w.resets_at);
    END IF;
  END LOOP;

  IF worst IS NOT NULL THEN
    SELECT d.budget_on_exhausted = 'wait_for_reset' INTO waits FROM dags d WHERE d.id = p_dag;
    RETURN worst || jsonb_build_object(
      'status', 'refused',
      'decision', CASE WHEN worst_rank = 0 THEN 'wait_settle'
                       WHEN waits AND NOT blocking_total THEN 'wait_reset'
                       ELSE 'fail' END,
      'wait_until', CASE WHEN worst_rank >= 1 AND waits AND NOT blocking_total THEN reset_at END,
      'micro_usd', p_micro_usd, 'tokens', p_tokens);
  END IF;

  IF cardinality(ids) > 0 THEN
    UPDATE budget_windows SET reserved_micro_usd = reserved_micro_usd + p_micro_usd, reserved_tokens = reserved_tokens + p_tokens
     WHERE id = ANY (ids);
    INSERT INTO budget_reservations (dag_id, task_id, call, attempt, status, micro_usd, tokens, window_ids, worker_id)
    VALUES (p_dag, p_task, p_call, p_attempt, 'held', p_micro_usd, p_tokens, ids, p_worker)
    ON CONFLICT (dag_id, task_id, call, attempt) DO NOTHING;
  END IF;

  INSERT INTO llm_calls (dag_id, task_id, call, try, attempt, worker_id, status, idempotency_key, provider, model)
  VALUES (p_dag, p_task, p_call, p_try, p_attempt, p_worker, 'in_flight', p_key, p_provider, p_model)
  ON CONFLICT (dag_id, task_id, call) DO UPDATE
     SET try = EXCLUDED.try, attempt = EXCLUDED.attempt, worker_id = EXCLUDED.worker_id, status = 'in_flight',
         idempotency_key = EXCLUDED.idempotency_key, provider = EXCLUDED.provider, model = EXCLUDED.model,
         error = NULL, sent_at = now();
  RETURN jsonb_build_object('status', 'sent', 'reserved', cardinality(ids) > 0);
END
$$;

-- Settles the reservations of a call's attempts (NULL p_call: every call of the task):
--   answered  the real cost (p_micro_usd, p_tokens) replaces the hold, or corrects an earlier charge
--   unknown   no answer, but it may have been paid: the worst case moves from reserved to spent
--   failed    the provider answered an error (nothing paid): the hold is released
-- Windows are locked in id order, as apex_begin_llm_call does. Returns by how many micro-dollars
-- the real cost exceeded the reservation (0 when it did not), for the caller to report.
CREATE FUNCTION apex_budget_settle(p_dag uuid, p_task text, p_call integer, p_attempts integer[], p_outcome text,
                                   p_micro_usd bigint, p_tokens bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  r record;
  overrun bigint := 0;
BEGIN
  PERFORM 1 FROM budget_reservations
    WHERE dag_id = p_dag AND task_id = p_task AND (p_call IS NULL OR call = p_call) AND attempt = ANY (p_attempts)
      AND (status = 'held' OR p_outcome = 'answered')
    ORDER BY call, attempt FOR UPDATE;
  IF NOT FOUND THEN
    RETURN 0;
  END IF;
  PERFORM 1 FROM budget_windows
    WHERE id IN (SELECT unnest(window_ids) FROM budget_reservations
                  WHERE dag_id = p_dag AND task_id = p_task AND (p_call IS NULL OR call = p_call) AND attempt = ANY (p_attempts))
    ORDER BY id FOR UPDATE;
  FOR r IN
    SELECT * FROM budget_reservations
     WHERE dag_id = p_dag AND task_id = p_task AND (p_call IS NULL OR call = p_call) AND attempt = ANY (p_attempts)
       AND (status = 'held' OR p_outcome = 'answered')
     ORDER BY call, attempt
  LOOP
    IF p_outcome = 'answered' THEN
      UPDATE budget_windows
         SET reserved_micro_usd = reserved_micro_usd - CASE WHEN r.status = 'held' THEN r.micro_usd ELSE 0 END,
             reserved_tokens = reserved_tokens - CASE WHEN r.status = 'held' THEN r.tokens ELSE 0 END,
             spent_micro_usd = spent_micro_usd + p_micro_usd - CASE WHEN r.status = 'charged' THEN r.micro_usd ELSE 0 END,
             spent_tokens = spent_tokens + p_tokens - CASE WHEN r.status = 'charged' THEN r.tokens ELSE 0 END
       WHERE id = ANY (r.window_ids);
      DELETE FROM budget_reservations
       WHERE dag_id = r.dag_id AND task_id = r.task_id AND call = r.call AND attempt = r.attempt;
      overrun := greatest(overrun, p_micro_usd - r.micro_usd);
    ELSIF p_outcome = 'unknown' THEN
      UPDATE budget_windows
         SET reserved_micro_usd = reserved_micro_usd - r.micro_usd, reserved_tokens = reserved_tokens - r.tokens,
             spent_micro_usd = spent_micro_usd + r.micro_usd, spent_tokens = spent_tokens + r.tokens
       WHERE id = ANY (r.window_ids);
      UPDATE budget_reservations SET status = 'charged'
       WHERE dag_id = r.dag_id AND task_id = r.task_id AND call = r.call AND attempt = r.attempt;
    ELSE
      UPDATE budget_windows
         SET reserved_micro_usd = reserved_micro_usd - r.micro_usd, reserved_tokens = reserved_tokens - r.tokens
       WHERE id = ANY (r.window_ids);
      DELETE FROM budget_reservations
       WHERE dag_id = r.dag_id AND task_id = r.task_id AND call = r.call AND attempt = r.attempt;
    END IF;
  END LOOP;
  RETURN overrun;
END
$$;

-- 0006's recordAnswer as a function, with the budget settled in the same transaction: the answer,
-- its usage row and the real cost on every budget it was reserved against.
CREATE FUNCTION apex_record_answer(p_dag uuid, p_task text, p_call integer, p_agent uuid, p_attempt integer,
                                   p_provider text, p_model text, p_response_model text, p_input integer,
                                   p_output integer, p_cached integer, p_cost_usd numeric, p_price_version text,
                                   p_latency_ms integer, p_answer text, p_cost_micro_usd bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  overrun bigint;
BEGIN
  UPDATE llm_calls SET status = 'answered', answer = p_answer, response_model = p_response_model, attempt = p_attempt,
         error = NULL, answered_at = now()
   WHERE dag_id = p_dag AND task_id = p_task AND call = p_call AND status <> 'answered';
  overrun := apex_budget_settle(p_dag, p_task, p_call, ARRAY[p_attempt], 'answered', p_cost_micro_usd, (p_input + p_output)::bigint);
  INSERT INTO usage (dag_id, task_id, agent_id, attempt, llm_call, provider, model, response_model, input_tokens,
                     output_tokens, cached_tokens, cost_usd, price_version, latency_ms)
  VALUES (p_dag, p_task, p_agent, p_attempt, p_call, p_provider, p_model, p_response_model, p_input, p_output, p_cached,
          p_cost_usd, p_price_version, p_latency_ms)
  ON CONFLICT (dag_id, task_id, llm_call, attempt) WHERE llm_call IS NOT NULL DO UPDATE
     SET unknown = false, provider = EXCLUDED.provider, model = EXCLUDED.model, response_model = EXCLUDED.response_model,
         input_tokens = EXCLUDED.input_tokens, output_tokens = EXCLUDED.output_tokens, cached_tokens = EXCLUDED.cached_tokens,
         cost_usd = EXCLUDED.cost_usd, price_version = EXCLUDED.price_version, latency_ms = EXCLUDED.latency_ms
   WHERE usage.unknown;
  RETURN overrun;
END
$$;

-- 0006's function, now also charging the budgets of the calls it makes unknown at their worst case.
CREATE OR REPLACE FUNCTION apex_llm_calls_unknown(p_dag uuid, p_task text, p_attempts integer[])
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
  PERFORM apex_budget_settle(p_dag, p_task, NULL, p_attempts, 'unknown', NULL, NULL);
  RETURN n;
END
$$;

-- 0006's failed path: the provider answered an error, nothing was paid, the hold is released.
CREATE FUNCTION apex_llm_call_failed(p_dag uuid, p_task text, p_call integer, p_attempt integer, p_error text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  UPDATE llm_calls SET status = 'failed', error = p_error
   WHERE dag_id = p_dag AND task_id = p_task AND call = p_call AND attempt = p_attempt AND status = 'in_flight';
  PERFORM apex_budget_settle(p_dag, p_task, p_call, ARRAY[p_attempt], 'failed', NULL, NULL);
END
$$;
