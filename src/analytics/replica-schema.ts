// The DuckDB replica is derived data: when this version changes, the replica is
// dropped and rebuilt from PostgreSQL instead of migrated.
export const REPLICA_VERSION = 1

// Laid out for the questions asked, not as a copy of PostgreSQL:
// - `day` is a DATE computed once at sync time (UTC), so no query converts time zones;
// - users get dense integer keys, so distinct counts hash integers, not strings;
// - user_days holds each (day, user) once: DAU is a count over it, retention a
//   semi-join of it with a cohort, both far smaller than the events;
// - users.first_day is kept current by the sync (a late event can move it earlier),
//   so a cohort is a range filter.
export const REPLICA_DDL = [
  `CREATE TABLE IF NOT EXISTS replica_meta (
     id INTEGER PRIMARY KEY,
     version INTEGER NOT NULL,
     cursor_xact UBIGINT NOT NULL,
     cursor_seq BIGINT NOT NULL,
     synced_rows BIGINT NOT NULL,
     synced_at_ms BIGINT
   )`,
  `CREATE TABLE IF NOT EXISTS users (
     user_key INTEGER NOT NULL,
     user_id VARCHAR PRIMARY KEY,
     first_day DATE NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS events (
     day DATE NOT NULL,
     user_key INTEGER NOT NULL,
     event_type VARCHAR NOT NULL,
     occurred_at TIMESTAMP NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS user_days (
     day DATE NOT NULL,
     user_key INTEGER NOT NULL,
     PRIMARY KEY (day, user_key)
   )`,
]

export const REPLICA_TABLES = ['user_days', 'events', 'users', 'replica_meta']
