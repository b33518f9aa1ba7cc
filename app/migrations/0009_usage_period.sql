-- The operator console's cost report (issue 15): GET /v1/usage sums the usage rows of a period
-- (created_at in [since, until)) across all agents. usage_agent_idx (agent_id, created_at) serves
-- the report of one agent; this index serves the all-agents one, a range scan by time.
CREATE INDEX usage_created_idx ON usage (created_at);
