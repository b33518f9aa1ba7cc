-- Tasks keep their submission order (GetDag lists them as submitted).
ALTER TABLE tasks ADD COLUMN position integer NOT NULL DEFAULT 0;
