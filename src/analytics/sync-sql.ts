import { NUMBER_TYPES } from './property-paths.ts'

// The chunk's rows (those of staging attempt $1) with their user keys. A
// user id linked to another is counted as the person it belongs to
// (identity-schema.ts). New persons get the next dense keys in the order they
// first appear; a person seen again keeps theirs.
export const STAGE_KEYS = `CREATE OR REPLACE TEMP TABLE sync_keyed AS
  WITH staged AS (
    SELECT s.* REPLACE (coalesce(i.person, s.user_id) AS user_id)
    FROM sync_stage s LEFT JOIN identity_ids i USING (user_id) WHERE s.attempt = $1
  ),
  fresh AS (
    SELECT user_id, (SELECT coalesce(max(user_key), 0) FROM users) + row_number() OVER (ORDER BY min(ord)) AS user_key
    FROM staged s WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = s.user_id)
    GROUP BY user_id
  )
  SELECT s.ord, s.seq, s.day, s.event_type, s.occurred_at, s.properties, s.user_id,
  coalesce(u.user_key, f.user_key) AS user_key, f.user_key IS NOT NULL AS fresh
  FROM staged s LEFT JOIN users u USING (user_id) LEFT JOIN fresh f USING (user_id)`

// Applied in one DuckDB transaction per chunk, together with the cursor: a
// crash at any point leaves the replica and its cursor consistent, so the next
// run neither skips nor repeats a row.
export const KEY_USERS = [
  `INSERT INTO users SELECT user_key, user_id, min(day) FROM sync_keyed WHERE fresh GROUP BY user_key, user_id`,
  // A late event can move a user's first day earlier.
  `UPDATE users SET first_day = s.first_day
   FROM (SELECT user_id, min(day) AS first_day FROM sync_keyed WHERE NOT fresh GROUP BY user_id) s
   WHERE users.user_id = s.user_id AND s.first_day < users.first_day`,
]

// One json_structure per distinct shape of properties, not per row: a chunk
// rarely holds more than a few dozen shapes.
export const CHUNK_STRUCTURES = `SELECT DISTINCT json_structure(properties)::VARCHAR AS structure FROM sync_keyed WHERE properties IS NOT NULL`

// The chunk's property values, one row per (event, path) and one JSON parse
// per row for all of its paths ($1 the numbers, $2 the paths: the two lists
// unnest side by side; $3 false when the chunk has no paths, to skip the parse).
export const STAGE_PROPS = `CREATE OR REPLACE TEMP TABLE sync_props AS
  SELECT ord, seq, path_id, day, user_key, event_type, json_type(value) AS type, value ->> '$' AS text,
         CASE WHEN json_type(value) IN ${NUMBER_TYPES} THEN TRY_CAST(value ->> '$' AS DOUBLE) END AS number
  FROM (
    SELECT ord, seq, day, user_key, event_type, unnest($1::INTEGER[]) AS path_id, unnest(json_extract(properties, $2::VARCHAR[])) AS value
    FROM sync_keyed WHERE properties IS NOT NULL AND $3
  )
  WHERE value IS NOT NULL`

// The property rollups of the paths that still have them ($1). Users go to
// the pending rows, folded into bitmaps later (fold.ts): OR-ing into 8 KB
// bitmaps chunk by chunk rewrote each of them once per chunk.
export const PROPERTY_ROLLUPS = [
  `INSERT INTO prop_day_counts
   SELECT day, path_id, type, coalesce(text, ''), event_type, count(*)
   FROM sync_props WHERE list_contains($1::INTEGER[], path_id) GROUP BY ALL
   ON CONFLICT DO UPDATE SET events = events + excluded.events`,
  `INSERT INTO prop_day_users_pending
   SELECT DISTINCT day, path_id, type, coalesce(text, ''), user_key
   FROM sync_props WHERE list_contains($1::INTEGER[], path_id)`,
]

export const ROLLUPS = [
  `INSERT INTO day_users_pending SELECT DISTINCT day, user_key FROM sync_keyed`,
  `INSERT INTO day_type_users_pending SELECT DISTINCT day, event_type, user_key FROM sync_keyed`,
  // One row per (day, type), added to: appending a row per chunk would grow
  // the table with every chunk of a steady trickle rather than with the data.
  `INSERT INTO type_day_counts SELECT day, event_type, count(*) FROM sync_keyed GROUP BY ALL
   ON CONFLICT DO UPDATE SET events = events + excluded.events`,
]
