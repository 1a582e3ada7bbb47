-- Up Migration

-- How long a project keeps its events, in days (null: the service's
-- RETENTION_DAYS, and when that is unset, everything). Events whose
-- occurred_at is before the cut (src/retention/cutoff.ts: the start of the
-- UTC day that many days before today) are removed from the store and from
-- every replica.
ALTER TABLE projects ADD COLUMN retention_days integer CHECK (retention_days > 0);

-- Every removal the retention sweep made: which project, up to which cut,
-- how many events, which partitions it dropped (migration 011), how many of
-- the events went by row deletes instead, and how many were archived. Like deletion_audit, it holds
-- no event data and outlives the project.
CREATE TABLE retention_runs (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id  integer     NOT NULL,
  cutoff      timestamptz NOT NULL,
  events      bigint      NOT NULL,
  partitions  text[]      NOT NULL DEFAULT '{}',
  rows_deleted bigint     NOT NULL DEFAULT 0,
  -- of the events, those written to ARCHIVE_DIR first (null: no archive)
  archived    bigint,
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX retention_runs_project_idx ON retention_runs (project_id, id);

-- A user's deletion reaches the archive too: the events it removed from
-- ARCHIVE_DIR's files (null: no archive).
ALTER TABLE deletions ADD COLUMN archive_events bigint;

-- Down Migration
ALTER TABLE deletions DROP COLUMN archive_events;
DROP TABLE retention_runs;
ALTER TABLE projects DROP COLUMN retention_days;
