-- Up Migration

-- Which event store this is. The analytics replica records it and rebuilds
-- itself when it finds it is pointed at another one (a fresh database, a
-- different DATABASE_URL with the same DATA_DIR), instead of mixing the two.
CREATE TABLE store_identity (
  singleton  boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
  id         uuid        NOT NULL DEFAULT gen_random_uuid(),
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO store_identity DEFAULT VALUES;

-- Down Migration
DROP TABLE store_identity;
