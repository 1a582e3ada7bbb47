-- Up Migration

-- The source of truth: every accepted event, once (the primary key decides).
-- seq and xact_id exist for the analytics sync: it copies rows in (xact_id, seq)
-- order and only from transactions older than every one still running, so rows
-- that commit out of order are never skipped.
CREATE TABLE events (
  seq          bigint      GENERATED ALWAYS AS IDENTITY,
  event_id     uuid        NOT NULL,
  occurred_at  timestamptz NOT NULL,
  user_id      text        NOT NULL,
  event_type   text        NOT NULL,
  properties   jsonb       NOT NULL DEFAULT '{}'::jsonb,
  received_at  timestamptz NOT NULL DEFAULT now(),
  xact_id      xid8        NOT NULL DEFAULT pg_current_xact_id(),
  CONSTRAINT events_pkey PRIMARY KEY (event_id)
);

CREATE INDEX events_sync_cursor_idx ON events (xact_id, seq);

-- Down Migration
DROP TABLE events;
