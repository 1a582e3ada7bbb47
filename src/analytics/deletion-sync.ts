import { type DuckDBConnection, listValue } from '@duckdb/node-api'
import type { DeletionRow, FeedPosition } from '../store/change-feed.ts'
import { BLOCK_BITS, USER_SETS, type UserSet } from './replica-schema.ts'

/**
 * A user's deletion, applied to the replica once the store has finished it
 * (the deletions feed, change-feed.ts), in one DuckDB transaction with the
 * feed's cursor. Exact, and bounded by the deleted persons' events: their bits
 * are cleared in every user bitmap their events set (as a merge moves them,
 * identity-sync.ts), their pending rows dropped, their counts subtracted from
 * the count rollups, then their events, property rows, user rows and identity
 * rows removed. Every figure afterwards is what a rebuild without them reads.
 */

// The persons of the deleted ids, by the replica's own links, and their keys.
const KEYS = [
  `CREATE OR REPLACE TEMP TABLE del_persons AS
   SELECT DISTINCT coalesce(i.person, d.user_id) AS person
   FROM (SELECT unnest($1::VARCHAR[]) AS user_id) d LEFT JOIN identity_ids i USING (user_id)`,
  `CREATE OR REPLACE TEMP TABLE del_keys AS
   SELECT u.user_key FROM users u JOIN del_persons p ON p.person = u.user_id`,
  `CREATE OR REPLACE TEMP TABLE del_events AS
   SELECT seq, day, event_type, user_key FROM events WHERE user_key IN (SELECT user_key FROM del_keys) AND seq <= $1::BIGINT`,
]

// The groups the deleted persons' events set them in, per user set (the sync's rollups).
const GROUPS: Record<UserSet, string> = {
  day_users: `SELECT DISTINCT e.day, e.user_key FROM events e JOIN del_keys k USING (user_key) WHERE e.seq SEQ_FILTER`,
  day_type_users: `SELECT DISTINCT e.day, e.event_type, e.user_key FROM events e JOIN del_keys k USING (user_key) WHERE e.seq SEQ_FILTER`,
  prop_day_users: `SELECT DISTINCT p.day, p.path_id, p.type, coalesce(p.text, '') AS text, p.user_key
    FROM event_props p JOIN del_keys k USING (user_key) JOIN property_paths pp ON pp.id = p.path_id
    WHERE pp.rolled_up AND p.seq SEQ_FILTER`,
}
const deleted = (sql: string) => sql.replace('SEQ_FILTER', '<= $1::BIGINT')
const kept = (sql: string) => sql.replace('SEQ_FILTER', '> $1::BIGINT')

const CLEAR_BITS = Object.entries(USER_SETS).flatMap(([name, keys]) => {
  const k = Object.keys(keys)
  return [
    `CREATE OR REPLACE TEMP TABLE del_groups AS ${deleted(GROUPS[name as UserSet])}`,
    `UPDATE ${name}_bitmaps SET users = users & ~g.mask
     FROM (SELECT ${k.join(', ')}, user_key // ${BLOCK_BITS} AS block,
                  bitstring_agg(user_key % ${BLOCK_BITS}, 0, ${BLOCK_BITS - 1}) AS mask
           FROM del_groups GROUP BY ALL) g
     WHERE ${[...k, 'block'].map((c) => `${name}_bitmaps.${c} = g.${c}`).join(' AND ')}`,
    `DELETE FROM ${name}_pending WHERE user_key IN (SELECT user_key FROM del_keys)`,
    // What the persons sent after a lift (only a late replay, a rebuild, has any) is counted again.
    `INSERT INTO ${name}_pending SELECT ${k.join(', ')}, user_key FROM (${kept(GROUPS[name as UserSet])})`,
  ]
})

// A count that reaches zero goes, as if the rows had never been synced.
const SUBTRACT_COUNTS = [
  `UPDATE type_day_counts SET events = type_day_counts.events - c.n
   FROM (SELECT day, event_type, count(*) AS n FROM del_events GROUP BY ALL) c
   WHERE type_day_counts.day = c.day AND type_day_counts.event_type = c.event_type`,
  `DELETE FROM type_day_counts WHERE events <= 0`,
  `UPDATE prop_day_counts SET events = prop_day_counts.events - c.n
   FROM (SELECT p.day, p.path_id, p.type, coalesce(p.text, '') AS text, p.event_type, count(*) AS n
         FROM event_props p JOIN del_events USING (seq) JOIN property_paths pp ON pp.id = p.path_id
         WHERE pp.rolled_up GROUP BY ALL) c
   WHERE prop_day_counts.day = c.day AND prop_day_counts.path_id = c.path_id AND prop_day_counts.type = c.type
     AND prop_day_counts.text = c.text AND prop_day_counts.event_type = c.event_type`,
  `DELETE FROM prop_day_counts WHERE events <= 0`,
]

// Events go last: the statements before read the deleted persons' events.
const REMOVE = [`DELETE FROM event_props WHERE seq IN (SELECT seq FROM del_events)`]

const REMOVE_PEOPLE = [
  `DELETE FROM users WHERE user_key IN (SELECT user_key FROM del_keys)
     AND user_key NOT IN (SELECT user_key FROM events)`,
  `UPDATE users SET first_day = f.first_day
   FROM (SELECT user_key, min(day) AS first_day FROM events WHERE user_key IN (SELECT user_key FROM del_keys) GROUP BY user_key) f
   WHERE users.user_key = f.user_key`,
  `DELETE FROM identity_ids WHERE user_id IN (SELECT unnest($1::VARCHAR[])) OR person IN (SELECT person FROM del_persons)`,
  `DELETE FROM trait_writes WHERE person IN (SELECT person FROM del_persons)`,
  `DELETE FROM user_traits WHERE person IN (SELECT person FROM del_persons)`,
  `DELETE FROM user_groups WHERE person IN (SELECT person FROM del_persons)`,
]

export async function deletionCursor(conn: DuckDBConnection): Promise<FeedPosition> {
  const reader = await conn.runAndReadAll('SELECT xact, seq FROM deletion_cursor WHERE id = 1')
  const row = reader.getRows()[0]
  return row
    ? { xact: BigInt(row[0] as bigint), seq: BigInt(row[1] as bigint) }
    : { xact: 0n, seq: 0n }
}

/** Applies one finished deletion; returns the replica's events it removed. */
export async function applyDeletion(
  conn: DuckDBConnection,
  deletion: DeletionRow,
): Promise<number> {
  const ids = [listValue(deletion.ids)]
  await conn.run('BEGIN TRANSACTION')
  try {
    const maxSeq = [deletion.max_seq]
    const [persons, keys, events] = KEYS as [string, string, string]
    await conn.run(persons, ids)
    await conn.run(keys)
    await conn.run(events, maxSeq)
    for (const sql of CLEAR_BITS) await conn.run(sql, sql.includes('$1') ? maxSeq : [])
    for (const sql of SUBTRACT_COUNTS) await conn.run(sql)
    for (const sql of REMOVE) await conn.run(sql)
    const counted = await conn.runAndReadAll('SELECT count(*) FROM del_events')
    await conn.run('DELETE FROM events WHERE seq IN (SELECT seq FROM del_events)')
    for (const sql of REMOVE_PEOPLE) await conn.run(sql, sql.includes('$1') ? ids : [])
    await conn.run(
      `INSERT INTO deletion_cursor VALUES (1, $1::UBIGINT, $2::BIGINT)
       ON CONFLICT (id) DO UPDATE SET xact = excluded.xact, seq = excluded.seq`,
      [deletion.xact, deletion.seq],
    )
    await conn.run('COMMIT')
    return Number(counted.getRows()[0]![0])
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => {})
    throw err
  }
}
