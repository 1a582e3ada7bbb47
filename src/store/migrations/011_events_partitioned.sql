-- Up Migration

-- Events are partitioned by project, then by UTC month of occurred_at, so a
-- retention cut (src/retention/) or a project's deletion drops whole tables
-- instead of deleting millions of rows:
--   events                        LIST (project_id)
--     events_p<N>                 RANGE (occurred_at), one per project
--       events_p<N>_<YYYYMM>      one calendar month (UTC)
--       events_p<N>_default       rows of a month whose table could not be
--                                 made (its rows were here first, or the lock
--                                 was not had in time): still stored, and cut
--                                 by row deletes
--     events_default              rows of a project whose table is missing
-- Writers make the month tables they need before inserting
-- (src/store/event-partitions.ts), so the default ones stay empty in practice.
--
-- PostgreSQL enforces a unique key on a partitioned table only if it holds
-- the partition key, which would make a resend with another occurred_at a
-- second event. Idempotency by (project, event_id) moves to event_keys, which
-- every writer inserts into first (ON CONFLICT DO NOTHING), storing only the
-- events whose key it inserted.

CREATE TABLE event_keys (
  project_id integer NOT NULL,
  event_id   uuid    NOT NULL,
  PRIMARY KEY (project_id, event_id)
);

ALTER TABLE events RENAME TO events_unpartitioned;
ALTER TABLE events_unpartitioned RENAME CONSTRAINT events_pkey TO events_unpartitioned_pkey;
ALTER INDEX events_project_sync_idx RENAME TO events_unpartitioned_sync_idx;

-- The same columns in the same order as before (seq, event_id, occurred_at,
-- user_id, event_type, properties, received_at, xact_id, project_id).
CREATE TABLE events (
  seq          bigint      GENERATED ALWAYS AS IDENTITY,
  event_id     uuid        NOT NULL,
  occurred_at  timestamptz NOT NULL,
  user_id      text        NOT NULL,
  event_type   text        NOT NULL,
  properties   jsonb       NOT NULL DEFAULT '{}'::jsonb,
  received_at  timestamptz NOT NULL DEFAULT now(),
  xact_id      xid8        NOT NULL DEFAULT pg_current_xact_id(),
  project_id   integer     NOT NULL DEFAULT 1
) PARTITION BY LIST (project_id);
CREATE INDEX events_project_sync_idx ON events (project_id, xact_id, seq);
CREATE TABLE events_default PARTITION OF events DEFAULT;

-- Makes each project's table and, for each month given (any instant in it;
-- null for none), its month table; returns how many month tables it made.
-- Safe to call concurrently and again. Creating a partition locks its parent
-- exclusively, which waits for every insert and read running on it: the lock
-- is waited for 2 s at most (a pg_dump holds its lock for the whole dump), and
-- on a timeout the rows go to the default table, as they do when it already
-- holds rows of that month (PostgreSQL then refuses the new partition).
CREATE FUNCTION ensure_event_partitions(projects integer[], months timestamptz[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  i integer;
  p integer;
  first_day timestamp;
  month_table text;
  made integer := 0;
BEGIN
  PERFORM set_config('lock_timeout', '2s', true);
  FOR i IN 1 .. coalesce(array_length(projects, 1), 0) LOOP
    p := projects[i];
    IF to_regclass(format('events_p%s', p)) IS NULL THEN
      BEGIN
        EXECUTE format(
          'CREATE TABLE events_p%s PARTITION OF events FOR VALUES IN (%s) PARTITION BY RANGE (occurred_at)', p, p);
        EXECUTE format('CREATE TABLE events_p%s_default PARTITION OF events_p%s DEFAULT', p, p);
      EXCEPTION WHEN duplicate_table OR unique_violation OR check_violation OR lock_not_available THEN
        CONTINUE;
      END;
    END IF;
    CONTINUE WHEN months[i] IS NULL;
    first_day := date_trunc('month', months[i] AT TIME ZONE 'UTC');
    month_table := format('events_p%s_%s', p, to_char(first_day, 'YYYYMM'));
    CONTINUE WHEN to_regclass(month_table) IS NOT NULL;
    BEGIN
      EXECUTE format('CREATE TABLE %I PARTITION OF events_p%s FOR VALUES FROM (%L) TO (%L)',
        month_table, p, first_day AT TIME ZONE 'UTC', (first_day + interval '1 month') AT TIME ZONE 'UTC');
      made := made + 1;
    EXCEPTION WHEN duplicate_table OR unique_violation OR check_violation OR lock_not_available THEN
      NULL;
    END;
  END LOOP;
  RETURN made;
END $$;

-- Drops one month table (the retention sweep, src/retention/), once its keys
-- are gone from event_keys; returns the events it held (null: it was gone
-- already). Dropping a partition locks its parent exclusively: as above, the
-- lock is waited for 2 s at most, and the sweep tries again next time.
CREATE FUNCTION drop_event_partition(month_table text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  PERFORM set_config('lock_timeout', '2s', true);
  IF to_regclass(month_table) IS NULL THEN
    RETURN NULL;
  END IF;
  EXECUTE format('SELECT count(*) FROM %I', month_table) INTO n;
  EXECUTE format('DROP TABLE %I', month_table);
  RETURN n;
END $$;

-- Every project's table, and the month tables of the rows there are, before
-- the rows move in with their seq and xact_id: a replica's cursor stays valid.
SELECT ensure_event_partitions(array_agg(id), array_agg(NULL::timestamptz)) FROM projects;
SELECT ensure_event_partitions(array_agg(project_id), array_agg(month))
FROM (SELECT DISTINCT project_id, date_trunc('month', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS month
      FROM events_unpartitioned) months;
INSERT INTO events OVERRIDING SYSTEM VALUE
SELECT seq, event_id, occurred_at, user_id, event_type, properties, received_at, xact_id, project_id
FROM events_unpartitioned;
INSERT INTO event_keys (project_id, event_id) SELECT project_id, event_id FROM events_unpartitioned;
SELECT setval(pg_get_serial_sequence('events', 'seq'), max(seq)) FROM events_unpartitioned HAVING max(seq) IS NOT NULL;
DROP TABLE events_unpartitioned;

-- Down Migration
ALTER TABLE events RENAME TO events_partitioned;
CREATE TABLE events (
  seq          bigint      GENERATED ALWAYS AS IDENTITY,
  event_id     uuid        NOT NULL,
  occurred_at  timestamptz NOT NULL,
  user_id      text        NOT NULL,
  event_type   text        NOT NULL,
  properties   jsonb       NOT NULL DEFAULT '{}'::jsonb,
  received_at  timestamptz NOT NULL DEFAULT now(),
  xact_id      xid8        NOT NULL DEFAULT pg_current_xact_id(),
  project_id   integer     NOT NULL DEFAULT 1,
  CONSTRAINT events_pkey PRIMARY KEY (event_id, project_id)
);
INSERT INTO events OVERRIDING SYSTEM VALUE
SELECT seq, event_id, occurred_at, user_id, event_type, properties, received_at, xact_id, project_id
FROM events_partitioned;
SELECT setval(pg_get_serial_sequence('events', 'seq'), max(seq)) FROM events_partitioned HAVING max(seq) IS NOT NULL;
DROP TABLE events_partitioned;
CREATE INDEX events_project_sync_idx ON events (project_id, xact_id, seq);
DROP FUNCTION drop_event_partition(text);
DROP FUNCTION ensure_event_partitions(integer[], timestamptz[]);
DROP TABLE event_keys;
