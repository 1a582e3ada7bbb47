-- Up Migration

-- Public keys: write-only keys meant to be put in web pages (like PostHog's
-- project token). Access control lets them reach the ingestion routes only,
-- and limits them per client address as well as per key.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scope_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scope_check
  CHECK (scope IN ('read', 'write', 'admin', 'public'));

-- What a project allows browsers: the page origins that may send it events
-- (null: any origin), whether visitors keep a persistent anonymous id
-- (localStorage) instead of the daily salted hash, and whether a page's
-- Global Privacy Control signal means nothing is recorded.
ALTER TABLE projects ADD COLUMN allowed_origins text[];
ALTER TABLE projects ADD COLUMN persistent_visitor_id boolean NOT NULL DEFAULT false;
ALTER TABLE projects ADD COLUMN honor_gpc boolean NOT NULL DEFAULT false;

-- The browser script's identify calls are recorded beside the SDKs'.
ALTER TABLE identity_messages DROP CONSTRAINT identity_messages_source_check;
ALTER TABLE identity_messages ADD CONSTRAINT identity_messages_source_check
  CHECK (source IN ('segment', 'posthog', 'web'));

-- Down Migration
ALTER TABLE identity_messages DROP CONSTRAINT identity_messages_source_check;
ALTER TABLE identity_messages ADD CONSTRAINT identity_messages_source_check
  CHECK (source IN ('segment', 'posthog'));
ALTER TABLE projects DROP COLUMN honor_gpc;
ALTER TABLE projects DROP COLUMN persistent_visitor_id;
ALTER TABLE projects DROP COLUMN allowed_origins;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scope_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scope_check
  CHECK (scope IN ('read', 'write', 'admin'));
