-- Up Migration

-- What existing SDKs (Segment, RudderStack, PostHog) say about who is who:
-- identify, group and alias calls, and PostHog's $identify, $create_alias,
-- $groupidentify and $set / $set_once. Kept as sent, once per message, for the
-- identity merge to apply later (identities are data in PostgreSQL, applied in
-- the replica); Segment's identify and group are not events, so nothing else
-- keeps them. A message's id is its event id's rule (src/compat/event-id.ts),
-- so a retried request records nothing twice.
CREATE TABLE identity_messages (
  project_id   integer     NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  message_id   uuid        NOT NULL,
  -- identify: anonymous_id (if any) is user_id; alias: previous_id is user_id;
  -- group: user_id belongs to group_id; set: traits of user_id alone
  kind         text        NOT NULL CHECK (kind IN ('identify', 'alias', 'group', 'set')),
  source       text        NOT NULL CHECK (source IN ('segment', 'posthog')),
  user_id      text        NOT NULL,
  anonymous_id text,
  previous_id  text,
  group_id     text,
  group_type   text,
  -- traits to set, last write wins (Segment's traits, PostHog's $set and $group_set)
  traits       jsonb       NOT NULL DEFAULT '{}'::jsonb,
  -- traits to set only where none is set yet (PostHog's $set_once)
  traits_once  jsonb       NOT NULL DEFAULT '{}'::jsonb,
  occurred_at  timestamptz NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  -- for a reader that applies them in order and resumes, as the analytics sync reads events
  seq          bigint      GENERATED ALWAYS AS IDENTITY,
  xact_id      xid8        NOT NULL DEFAULT pg_current_xact_id(),
  PRIMARY KEY (project_id, message_id)
);
CREATE INDEX identity_messages_cursor_idx ON identity_messages (project_id, xact_id, seq);

-- SDK messages refused one by one (the rest of their request was stored):
-- each with its reason, so nothing is dropped without a trace. Bounded per
-- project by count and age (src/compat/warnings-store.ts prunes, and reads
-- only the last 7 days); once per message id, so a retried request warns once.
CREATE TABLE ingestion_warnings (
  id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id    integer     NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  message_id    uuid        NOT NULL,
  source        text        NOT NULL,
  request_id    text        NOT NULL,
  message_index integer     NOT NULL,
  reason        text        NOT NULL,
  errors        jsonb       NOT NULL,
  -- the message as sent, when it is at most 32 KiB as JSON; else its start as text
  message       jsonb,
  message_start text,
  received_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project_id, message_id)
);
CREATE INDEX ingestion_warnings_project_idx ON ingestion_warnings (project_id, id);

-- Down Migration
DROP TABLE ingestion_warnings;
DROP TABLE identity_messages;
