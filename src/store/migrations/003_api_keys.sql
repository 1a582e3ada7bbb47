-- Up Migration

-- API keys, stored as SHA-256 digests of the key: the key itself is shown once,
-- when created, and never kept. Keys are 256 random bits, so a fast digest is
-- enough (no password-stretching needed) and lets a request be checked with
-- one indexed lookup.
CREATE TABLE api_keys (
  id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text        NOT NULL DEFAULT '',
  scope       text        NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
  key_hash    bytea       NOT NULL UNIQUE,
  -- the first characters of the key, so an operator can tell keys apart
  key_prefix  text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);

-- Down Migration
DROP TABLE api_keys;
