-- Worker presence (issue 13): one row per running worker process, so the cluster gauges can say
-- whether anything is able to run agents' tasks (apex_workers_alive, apex_active_agents).
-- A worker inserts its row at start and renews heartbeat_at on every heartbeat (a third of its
-- lease, as its task leases); it deletes the row when it stops cleanly. It is alive while
-- heartbeat_at is younger than its own lease_ms: the same rule by which its task leases would be
-- reclaimed. Rows of workers that died are deleted by the next heartbeat of any worker
-- (store/queries/workers.ts); the gauges ignore them meanwhile.
CREATE TABLE workers (
  id           text PRIMARY KEY,
  hostname     text NOT NULL,
  pid          integer NOT NULL,
  -- Tasks the worker runs at once (its concurrency).
  slots        integer NOT NULL CHECK (slots > 0),
  lease_ms     integer NOT NULL CHECK (lease_ms > 0),
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- Workers start every agent's cost series at 0 and pick up agents created since at each scrape
-- (telemetry/cluster-gauges.ts): a range scan by creation time.
CREATE INDEX agents_created_idx ON agents (created_at);
