/**
 * Who is who, as the replica applies it (identity-sync.ts). PostgreSQL keeps
 * the truth: every identify, alias, group and set call as sent
 * (identity_messages); this is what they add up to, rebuilt from them like
 * every other table here.
 *
 * - identity_ids: each id that was ever linked, with the person it now
 *   belongs to (a person is named by one of its ids, the one the replica's
 *   `users` row carries) and whether a call identified it. An id not listed
 *   is a person of its own.
 * - trait_writes: each trait each call set, with its time; the current value
 *   of a trait is its last `set` by event time, else its first `set_once`,
 *   whatever order the calls arrived in, so a rebuild reads the same profile
 *   (TRAIT_RANK). Moved with the person when ids merge.
 * - user_traits: the current values, kept for the persons each batch
 *   touched, typed like event_props, for `user.<trait>` filters.
 * - user_groups: the groups a person belongs to (Segment's group calls): the
 *   last call per group type.
 */
export const IDENTITY_DDL = [
  `CREATE TABLE IF NOT EXISTS identity_ids (
     user_id VARCHAR PRIMARY KEY,
     person VARCHAR NOT NULL,
     identified BOOLEAN NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS trait_writes (
     person VARCHAR NOT NULL,
     trait VARCHAR NOT NULL,
     once BOOLEAN NOT NULL,
     value VARCHAR NOT NULL,
     set_at TIMESTAMP NOT NULL,
     seq BIGINT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS user_traits (
     person VARCHAR NOT NULL,
     trait VARCHAR NOT NULL,
     value VARCHAR NOT NULL,
     type VARCHAR NOT NULL,
     text VARCHAR,
     number DOUBLE,
     PRIMARY KEY (person, trait)
   )`,
  `CREATE TABLE IF NOT EXISTS user_groups (
     person VARCHAR NOT NULL,
     group_type VARCHAR NOT NULL,
     group_id VARCHAR NOT NULL,
     set_at TIMESTAMP NOT NULL,
     seq BIGINT NOT NULL
   )`,
]

/**
 * A trait's winner: any set beats every set_once; among sets the latest (time,
 * then arrival), among set_onces the earliest. As one key for arg_max.
 */
export const TRAIT_RANK = `{'set': NOT once, 'at': CASE WHEN once THEN -epoch_us(set_at) ELSE epoch_us(set_at) END, 'seq': CASE WHEN once THEN -seq ELSE seq END}`
