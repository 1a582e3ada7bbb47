-- Up Migration

-- A user's deletion, as a durable job: the request commits this row, the
-- suppressions and an audit row together, and the store's part runs in the
-- background (src/deletion/deletion-runner.ts) in bounded chunks, each of
-- which moves next_block and adds to store_events in the statement that
-- deletes, so a job killed half-way resumes where it stood, counting nothing twice.
CREATE TABLE deletions (
  id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id        integer     NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  -- the id asked for, and every id of the person it belongs to (merged ids)
  user_id           text        NOT NULL,
  ids               text[]      NOT NULL,
  state             text        NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done')),
  requested_by      text        NOT NULL,
  requested_at      timestamptz NOT NULL DEFAULT now(),
  -- Writers that began before the suppression committed did not see it: the
  -- scan starts once every transaction up to this one has ended.
  requested_xact    xid8        NOT NULL DEFAULT pg_current_xact_id(),
  -- The scan over the events heap, by block (a TID range scan needs no index
  -- on user_id, which every insert would pay for): scan_plan lists the
  -- table's leaf relations (itself, or its partitions) with their sizes when
  -- the scan began, and next_block / end_block count blocks across them in that order.
  scan_plan         jsonb,
  next_block        bigint      NOT NULL DEFAULT 0,
  end_block         bigint,
  store_events      bigint      NOT NULL DEFAULT 0,
  identity_messages bigint      NOT NULL DEFAULT 0,
  finished_at       timestamptz,
  -- the events' seq when it finished: rows of these ids above it were stored
  -- after the suppression was lifted, and a replica applying it late (a rebuild) keeps them
  max_seq           bigint,
  -- Replicas read finished deletions as a feed in (finished_xact, seq) order
  -- below the horizon, as they read events: separate stats processes apply them too.
  finished_xact     xid8,
  seq               bigint      GENERATED ALWAYS AS IDENTITY,
  -- what a replica removed when it applied the deletion (the last one to apply it)
  replica_events    bigint,
  replica_applied_at timestamptz
);
CREATE INDEX deletions_feed_idx ON deletions (project_id, finished_xact, seq)
  WHERE finished_xact IS NOT NULL;
CREATE INDEX deletions_open_idx ON deletions (requested_at) WHERE state <> 'done';

-- Ids whose events are refused, at intake and again by the writer's insert
-- (the authoritative check), from the deletion's request until an admin lifts it.
CREATE TABLE suppressions (
  project_id  integer     NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  user_id     text        NOT NULL,
  deletion_id uuid        NOT NULL REFERENCES deletions (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, user_id)
);

-- Bumped by every change to suppressions: each process's cache compares this
-- one number instead of reloading the table.
CREATE TABLE suppressions_version (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version   bigint  NOT NULL DEFAULT 0
);
INSERT INTO suppressions_version DEFAULT VALUES;

-- Who deleted or lifted what, when, and how many events: never the events
-- themselves. Kept when the project is deleted (no foreign key).
CREATE TABLE deletion_audit (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id  integer     NOT NULL,
  action      text        NOT NULL CHECK (action IN ('deletion_requested', 'deletion_done', 'suppression_lifted')),
  actor       text        NOT NULL,
  deletion_id uuid,
  ids         text[]      NOT NULL,
  events      bigint,
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deletion_audit_project_idx ON deletion_audit (project_id, id);

-- Down Migration
DROP TABLE deletion_audit;
DROP TABLE suppressions_version;
DROP TABLE suppressions;
DROP TABLE deletions;
