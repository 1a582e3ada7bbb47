-- Up Migration

-- Events are partitioned by project, then by UTC time of occurred_at, so a
-- retention cut (src/retention/) or a project's deletion drops whole tables
-- instead of deleting millions of rows:
--   events                          LIST (project_id)
--     events_p<N>                   RANGE (occurred_at), one per project
--       events_p<N>_<YYYYMMDD>      one UTC day, for a retention of 60 days or less
--       events_p<N>_w<YYYYMMDD>     one ISO week (from that Monday), for up to 420 days
--       events_p<N>_<YYYYMM>        one calendar month, for longer ones and for a
--                                   project keeping everything
--       events_p<N>_default         rows whose table could not be made (its
--                                   rows were here first, or the lock was not
--                                   had in time): still stored, cut by row deletes
--     events_default                rows of a project whose table is missing
-- A table is dropped once it ends before the cut, so PostgreSQL holds an event
-- at most a table's span (a day, a week, a month) past its retention; every
-- answer (the replica) and every export cuts on the exact day. The span keeps
-- a project at about 60 tables or fewer: every sync read visits each table's
-- index (measured with 400 day tables: ~25 ms an idle read, planning
-- included, against 1-2 ms with 41).
-- Writers make the tables they need before inserting
-- (src/store/event-partitions.ts), so the default ones stay empty in practice.
-- A project whose retention changes keeps the tables it has; new ones follow
-- the new setting (RANGE partitions may differ in size).
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

-- Makes each project's table and the table holding each instant given (null
-- for none), of the span its retention asks for (its own retention_days,
-- else service_days, the service's RETENTION_DAYS; see above). Returns how
-- many tables it made. Safe to call concurrently and again. Creating a
-- partition locks its parent exclusively, which waits for every insert and
-- read running on it: the lock is waited for 2 s at most (a pg_dump holds its
-- lock for the whole dump), and on a timeout the rows go to the default
-- table, as they do when it already holds rows of that range (PostgreSQL
-- then refuses the new partition). A span that would overlap tables of
-- another span (the retention changed) falls back to a day's table.
CREATE FUNCTION ensure_event_partitions(projects integer[], instants timestamptz[], service_days integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  i integer;
  p integer;
  days integer;
  at_utc timestamp;
  span text;
  first timestamp;
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
    CONTINUE WHEN instants[i] IS NULL;
    at_utc := instants[i] AT TIME ZONE 'UTC';
    CONTINUE WHEN to_regclass(format('events_p%s_%s', p, to_char(at_utc, 'YYYYMMDD'))) IS NOT NULL
      OR to_regclass(format('events_p%s_w%s', p, to_char(date_trunc('week', at_utc), 'YYYYMMDD'))) IS NOT NULL
      OR to_regclass(format('events_p%s_%s', p, to_char(at_utc, 'YYYYMM'))) IS NOT NULL;
    days := coalesce((SELECT retention_days FROM projects WHERE id = p), service_days);
    span := CASE WHEN days IS NULL OR days > 420 THEN 'month' WHEN days > 60 THEN 'week' ELSE 'day' END;
    LOOP
      first := date_trunc(span, at_utc);
      BEGIN
        EXECUTE format('CREATE TABLE %I PARTITION OF events_p%s FOR VALUES FROM (%L) TO (%L)',
          format('events_p%s_%s', p, CASE span
            WHEN 'month' THEN to_char(first, 'YYYYMM')
            WHEN 'week' THEN 'w' || to_char(first, 'YYYYMMDD')
            ELSE to_char(first, 'YYYYMMDD') END),
          p, first AT TIME ZONE 'UTC', (first + ('1 ' || span)::interval) AT TIME ZONE 'UTC');
        made := made + 1;
        EXIT;
      EXCEPTION
        WHEN invalid_object_definition THEN
          EXIT WHEN span = 'day';
          span := 'day';
        WHEN duplicate_table OR unique_violation OR check_violation OR lock_not_available THEN
          EXIT;
      END;
    END LOOP;
  END LOOP;
  RETURN made;
END $$;

-- Drops one day's, week's or month's table (the retention sweep, src/retention/),
-- once its keys are gone from event_keys; returns the events it held (null:
-- it was gone already). With `expected`, the events the sweep archived from
-- it, a table holding another number (an event stored meanwhile) is kept,
-- and the sweep tries again next time. Dropping a partition locks its parent
-- exclusively (here from before the count, so the count is final): as above,
-- the lock is waited for 2 s at most, and it is held while the table is
-- counted, which for a day's table is brief.
CREATE FUNCTION drop_event_partition(events_table text, expected bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  PERFORM set_config('lock_timeout', '2s', true);
  IF to_regclass(events_table) IS NULL THEN
    RETURN NULL;
  END IF;
  -- The parent first, as every insert locks it: the other order could deadlock with one.
  EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE',
    (SELECT inhparent::regclass FROM pg_inherits WHERE inhrelid = to_regclass(events_table)));
  EXECUTE format('SELECT count(*) FROM %I', events_table) INTO n;
  IF expected IS NOT NULL AND n <> expected THEN
    RAISE EXCEPTION 'table % holds % events, % were archived: kept for the next sweep', events_table, n, expected
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  EXECUTE format('DROP TABLE %I', events_table);
  RETURN n;
END $$;

-- A project's events after a position in (xact_id, seq) order, below a
-- transaction id, at most max_rows of them: what the analytics sync reads
-- (src/store/change-feed.ts). Over partitions the planner misjudges how many
-- rows follow a position (a row comparison on xid8), and appends every
-- table's rows past it and sorts them all to keep max_rows: measured on 1M
-- seeded events, 342 ms a read instead of 29 ms, and a replica build 4 times
-- slower. Without sorts the only plan left merges each table's index in
-- order and stops at max_rows. A function keeps the setting to this query.
CREATE FUNCTION events_after(project integer, after_xact xid8, after_seq bigint, below xid8, max_rows integer)
RETURNS SETOF events LANGUAGE sql STABLE SET enable_sort = off AS $$
  SELECT * FROM events
  WHERE project_id = project AND (xact_id, seq) > (after_xact, after_seq) AND xact_id < below
  ORDER BY xact_id, seq
  LIMIT max_rows
$$;

-- Every project's table, and a month's table for each month of the rows
-- there are (no project had a retention before), before the rows move in
-- with their seq and xact_id: a replica's cursor stays valid.
SELECT ensure_event_partitions(array_agg(id), array_agg(NULL::timestamptz), NULL) FROM projects;
SELECT ensure_event_partitions(array_agg(project_id), array_agg(month), NULL)
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
DROP FUNCTION events_after(integer, xid8, bigint, xid8, integer);
DROP FUNCTION drop_event_partition(text, bigint);
DROP FUNCTION ensure_event_partitions(integer[], timestamptz[], integer);
DROP TABLE event_keys;
