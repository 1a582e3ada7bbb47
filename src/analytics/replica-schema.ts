import { PROPERTY_DDL } from './property-paths.ts'

// The DuckDB replica is derived data: when this version changes, the replica is
// dropped and rebuilt from PostgreSQL instead of migrated.
export const REPLICA_VERSION = 8

/**
 * Users are counted with bitmaps: user keys are dense integers, split into
 * blocks of this many bits, and a set of users is one BIT value per block.
 * Distinct users over any range become bit_or + bit_count over a few rows per
 * day, whatever the number of events, instead of hashing every (day, user).
 */
export const BLOCK_BITS = 65_536

/** The block of a user key column, and the bitmap of a group's keys within their block, in SQL. */
export const blockOf = (key: string) => `${key} // ${BLOCK_BITS}`
export const usersBitmap = (key: string) =>
  `bitstring_agg(${key} % ${BLOCK_BITS}, 0, ${BLOCK_BITS - 1})`

// Laid out for the questions asked, not as a copy of PostgreSQL:
// - `day` is a DATE computed once at sync time (UTC), so no query converts time zones;
// - users get dense integer keys (the bitmap positions); users.first_day is kept
//   current by the sync (a late event can move it earlier), so a cohort is a range filter;
// - day_users: who was active each day (DAU, retention), one bitmap per (day, block);
// - day_type_users and type_day_counts: who did each event type each day, and how
//   often (top events);
// - events keeps every row in columnar form for questions the rollups do not
//   answer (filters, breakdowns), with the store's seq as its id and its
//   properties as JSON text; event_props holds the property values typed, one
//   row per (event, path) (property-paths.ts).
export const REPLICA_DDL = [
  `CREATE TABLE IF NOT EXISTS replica_meta (
     id INTEGER PRIMARY KEY,
     version INTEGER NOT NULL,
     source_id VARCHAR,
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
     seq BIGINT NOT NULL,
     day DATE NOT NULL,
     user_key INTEGER NOT NULL,
     event_type VARCHAR NOT NULL,
     occurred_at TIMESTAMP NOT NULL,
     properties VARCHAR
   )`,
  ...PROPERTY_DDL,
  `CREATE TABLE IF NOT EXISTS day_users (
     day DATE NOT NULL,
     block INTEGER NOT NULL,
     users BIT NOT NULL,
     PRIMARY KEY (day, block)
   )`,
  `CREATE TABLE IF NOT EXISTS day_type_users (
     day DATE NOT NULL,
     event_type VARCHAR NOT NULL,
     block INTEGER NOT NULL,
     users BIT NOT NULL,
     PRIMARY KEY (day, event_type, block)
   )`,
  `CREATE TABLE IF NOT EXISTS type_day_counts (
     day DATE NOT NULL,
     event_type VARCHAR NOT NULL,
     events BIGINT NOT NULL,
     PRIMARY KEY (day, event_type)
   )`,
]

export const REPLICA_TABLES = [
  'prop_day_users',
  'prop_day_counts',
  'event_props',
  'property_paths',
  'type_day_counts',
  'day_type_users',
  'day_users',
  'events',
  'users',
  'replica_meta',
]
