-- Up Migration

-- Idempotency-Key on POST /events: the first request with a key is processed
-- and its answer kept here; a retry with the same key and body gets that answer
-- again. A row without a status is a request still being processed. Rows are
-- kept for at least 24 hours (the service deletes older ones).
CREATE TABLE idempotency_keys (
  owner         text        NOT NULL, -- the API key's id, or "anonymous": keys are scoped per API key
  key           text        NOT NULL,
  body_sha256   bytea       NOT NULL,
  status        integer,
  response      jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Down Migration
DROP TABLE idempotency_keys;
