-- GET /v1/dags pages by keyset on (created_at, id), oldest or newest first (a B-tree scans both
-- ways), across all agents or for one agent.
CREATE INDEX dags_created_idx ON dags (created_at, id);
CREATE INDEX dags_agent_created_idx ON dags (agent_id, created_at, id);
-- Its leading columns are the new agent index's, which serves every query it served.
DROP INDEX dags_agent_idx;
