-- Approvals bound to the exact call and to a time (issue 12).
-- args_digest: SHA-256 (hex) of the canonical JSON of the tool arguments the approver was shown
-- (engine/approval-digest.ts). A worker renders the arguments again before it runs an approved
-- call; a different digest means the approval no longer covers the call.
-- expires_at: when the approval stops covering anything (requested at + APEX_APPROVAL_TTL_MS).
-- A pending one can no longer be decided, an approved one no longer lets the task start.
-- superseded / expired: an approval that was replaced by a new one for the same task, because the
-- arguments changed (superseded) or its time ran out (expired); ended_at says when.
ALTER TABLE approvals ADD COLUMN args_digest text;
ALTER TABLE approvals ADD COLUMN expires_at timestamptz;
ALTER TABLE approvals ADD COLUMN ended_at timestamptz;
-- Rows from before this migration have no digest: an approved one is asked for again (fail closed).
UPDATE approvals SET expires_at = created_at + interval '24 hours';
ALTER TABLE approvals ALTER COLUMN expires_at SET NOT NULL;

ALTER TABLE approvals DROP CONSTRAINT approvals_status_check;
ALTER TABLE approvals ADD CONSTRAINT approvals_status_check
  CHECK (status IN ('pending', 'approved', 'rejected', 'superseded', 'expired'));
-- Was: (status = 'pending') = (decided_at IS NULL). A pending approval that expired was never decided.
ALTER TABLE approvals DROP CONSTRAINT approvals_check;
ALTER TABLE approvals ADD CONSTRAINT approvals_decided_check
  CHECK (CASE status WHEN 'pending' THEN decided_at IS NULL
                     WHEN 'approved' THEN decided_at IS NOT NULL
                     WHEN 'rejected' THEN decided_at IS NOT NULL
                     ELSE ended_at IS NOT NULL END);
-- The claim looks for a task's approved approval on every claim of an approval-gated tool.
CREATE INDEX approvals_task_idx ON approvals (dag_id, task_id, status);
