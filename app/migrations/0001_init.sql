-- Apex runtime schema v1: agents, DAGs and their tasks, attempts, approvals, LLM usage, API keys.
-- Applied by app/src/store/migrate.ts under pg_advisory_lock; identical on Postgres and PGlite.

CREATE TABLE agents (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
  description text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dags (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_id      uuid NOT NULL REFERENCES agents (id),
  name          text NOT NULL,
  input         jsonb NOT NULL DEFAULT '{}'::jsonb,
  status        text NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'awaiting_approval', 'succeeded', 'failed', 'cancelled')),
  submitted_by  text,
  -- W3C trace context carrier (traceparent/tracestate/baggage): one DAG is one trace across hops.
  trace_context jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz
);
CREATE INDEX dags_agent_idx ON dags (agent_id, created_at DESC);
CREATE INDEX dags_unfinished_idx ON dags (status) WHERE finished_at IS NULL;

CREATE TABLE tasks (
  dag_id           uuid NOT NULL REFERENCES dags (id) ON DELETE CASCADE,
  id               text NOT NULL,
  kind             text NOT NULL CHECK (kind IN ('llm', 'tool')),
  -- The task as submitted (model/prompt or tool/args, and any future fields).
  spec             jsonb NOT NULL,
  depends_on       text[] NOT NULL DEFAULT '{}',
  status           text NOT NULL
                   CHECK (status IN ('pending', 'ready', 'running', 'awaiting_approval',
                                     'succeeded', 'failed', 'cancelled', 'skipped')),
  -- Attempts spent (a breaker-open or rate-limited reschedule does not spend one).
  attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  max_attempts     integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 20),
  timeout_ms       integer NOT NULL CHECK (timeout_ms > 0),
  next_run_at      timestamptz NOT NULL DEFAULT now(),
  lease_owner      text,
  lease_expires_at timestamptz,
  output           jsonb,
  error            text,
  trace_context    jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz,
  PRIMARY KEY (dag_id, id),
  CHECK ((status = 'running') = (lease_owner IS NOT NULL))
);
-- The claim query's access paths: ready work by due time, running work by lease expiry.
CREATE INDEX tasks_ready_idx ON tasks (next_run_at) WHERE status = 'ready';
CREATE INDEX tasks_lease_idx ON tasks (lease_expires_at) WHERE status = 'running';

CREATE TABLE attempts (
  dag_id      uuid NOT NULL,
  task_id     text NOT NULL,
  -- Execution number within the task, counting reschedules too.
  number      integer NOT NULL,
  worker_id   text NOT NULL,
  status      text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
  -- false for an execution that was rescheduled (breaker open, rate limited, worker shut down).
  spent       boolean NOT NULL DEFAULT true,
  error       text,
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  PRIMARY KEY (dag_id, task_id, number),
  FOREIGN KEY (dag_id, task_id) REFERENCES tasks (dag_id, id) ON DELETE CASCADE
);

CREATE TABLE approvals (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  dag_id      uuid NOT NULL,
  task_id     text NOT NULL,
  tool        text NOT NULL,
  args        jsonb NOT NULL,
  status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
  -- API key id of the operator/admin who decided.
  decided_by  text,
  decided_at  timestamptz,
  reason      text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (dag_id, task_id) REFERENCES tasks (dag_id, id) ON DELETE CASCADE,
  CHECK ((status = 'pending') = (decided_at IS NULL))
);
CREATE INDEX approvals_status_idx ON approvals (status, created_at);
CREATE UNIQUE INDEX approvals_one_pending_per_task ON approvals (dag_id, task_id) WHERE status = 'pending';

CREATE TABLE usage (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  dag_id         uuid NOT NULL,
  task_id        text NOT NULL,
  agent_id       uuid NOT NULL REFERENCES agents (id),
  attempt        integer NOT NULL,
  provider       text NOT NULL,
  -- Requested `provider/model` and the model the provider says answered.
  model          text NOT NULL,
  response_model text,
  input_tokens   integer NOT NULL CHECK (input_tokens >= 0),
  output_tokens  integer NOT NULL CHECK (output_tokens >= 0),
  cached_tokens  integer NOT NULL DEFAULT 0 CHECK (cached_tokens >= 0),
  cost_usd       numeric(14, 8) NOT NULL CHECK (cost_usd >= 0),
  price_version  text NOT NULL,
  latency_ms     integer,
  created_at     timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (dag_id, task_id) REFERENCES tasks (dag_id, id) ON DELETE CASCADE
);
CREATE INDEX usage_dag_idx ON usage (dag_id);
CREATE INDEX usage_agent_idx ON usage (agent_id, created_at);

CREATE TABLE api_keys (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name         text NOT NULL,
  role         text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer', 'agent')),
  agent_id     uuid REFERENCES agents (id),
  -- sha256 hex of the key; the key itself is never stored.
  key_hash     text NOT NULL UNIQUE,
  -- First characters of the key, for display only.
  key_prefix   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz,
  last_used_at timestamptz
);
