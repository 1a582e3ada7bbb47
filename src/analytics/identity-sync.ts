import { type DuckDBConnection, type DuckDBValue, listValue } from '@duckdb/node-api'
import type { FeedPosition, IdentityRow } from '../store/change-feed.ts'
import type { DuckDbReplica } from './duckdb-replica.ts'
import {
  applyIdentities,
  type IdentityChanges,
  type IdentityWarning,
  idsNamed,
  type KnownId,
} from './identity-merge.ts'
import { TRAIT_RANK } from './identity-schema.ts'
import { BLOCK_BITS, USER_SETS, type UserSet } from './replica-schema.ts'

/**
 * Applies identity calls to the replica (identity-merge.ts decides), in one
 * DuckDB transaction with their cursor. Merging persons is retroactive and
 * exact: the merged-away person's events, property rows and user bits move to
 * the person it joins, so every figure, rollups included, counts them as one
 * user from their first event, as a rebuild would.
 *
 * Work is bounded by the events of the persons merged, not by the replica:
 * the groups (day, type, property value) a person's bit is set in are read
 * off its events, its bit is cleared there with one mask per bitmap, and the
 * person it joins is added through the pending rows the fold already handles.
 * The common merge, an anonymous visitor signing up with a new user id, moves
 * nothing: its row in `users` is renamed.
 */

// Where the moved persons' events put them in each user set (the same groups the sync's rollups write).
const GROUPS: Record<UserSet, string> = {
  day_users: `SELECT DISTINCT e.day, k.old_key, k.new_key FROM events e JOIN merge_keys k ON e.user_key = k.old_key`,
  day_type_users: `SELECT DISTINCT e.day, e.event_type, k.old_key, k.new_key FROM events e JOIN merge_keys k ON e.user_key = k.old_key`,
  prop_day_users: `SELECT DISTINCT p.day, p.path_id, p.type, coalesce(p.text, '') AS text, k.old_key, k.new_key
    FROM event_props p JOIN merge_keys k ON p.user_key = k.old_key JOIN property_paths pp ON pp.id = p.path_id
    WHERE pp.rolled_up`,
}

const MOVE_BITS = Object.entries(USER_SETS).flatMap(([name, keys]) => {
  const k = Object.keys(keys)
  return [
    `CREATE OR REPLACE TEMP TABLE merge_groups AS ${GROUPS[name as UserSet]}`,
    `UPDATE ${name}_bitmaps SET users = users & ~g.mask
     FROM (SELECT ${k.join(', ')}, old_key // ${BLOCK_BITS} AS block,
                  bitstring_agg(old_key % ${BLOCK_BITS}, 0, ${BLOCK_BITS - 1}) AS mask
           FROM merge_groups GROUP BY ALL) g
     WHERE ${[...k, 'block'].map((c) => `${name}_bitmaps.${c} = g.${c}`).join(' AND ')}`,
    `UPDATE ${name}_pending SET user_key = k.new_key FROM merge_keys k WHERE ${name}_pending.user_key = k.old_key`,
    `INSERT INTO ${name}_pending SELECT DISTINCT ${k.join(', ')}, new_key FROM merge_groups`,
  ]
})

// merge_moves (old person, new person) → the user keys that move: each new
// person keeps its key, or takes the smallest key of those joining it.
const MOVE_KEYS = [
  `CREATE OR REPLACE TEMP TABLE merge_targets AS
   SELECT m.new, coalesce(min(un.user_key), min(uo.user_key)) AS target_key, min(un.user_key) IS NULL AS rename
   FROM merge_moves m LEFT JOIN users uo ON uo.user_id = m.old LEFT JOIN users un ON un.user_id = m.new
   GROUP BY m.new
   HAVING coalesce(min(un.user_key), min(uo.user_key)) IS NOT NULL`,
  `CREATE OR REPLACE TEMP TABLE merge_keys AS
   SELECT uo.user_key AS old_key, t.target_key AS new_key
   FROM merge_moves m JOIN users uo ON uo.user_id = m.old JOIN merge_targets t USING (new)
   WHERE uo.user_key <> t.target_key`,
  ...MOVE_BITS,
  `UPDATE events SET user_key = k.new_key FROM merge_keys k WHERE events.user_key = k.old_key`,
  `UPDATE event_props SET user_key = k.new_key FROM merge_keys k WHERE event_props.user_key = k.old_key`,
  `UPDATE users SET first_day = f.first_day
   FROM (SELECT k.new_key, min(u.first_day) AS first_day FROM merge_keys k JOIN users u ON u.user_key = k.old_key GROUP BY k.new_key) f
   WHERE users.user_key = f.new_key AND f.first_day < users.first_day`,
  `DELETE FROM users WHERE user_key IN (SELECT old_key FROM merge_keys)`,
  `UPDATE users SET user_id = t.new FROM merge_targets t WHERE t.rename AND users.user_key = t.target_key`,
  // Everything that named the old persons now names the new ones.
  `UPDATE identity_ids SET person = m.new FROM merge_moves m WHERE identity_ids.person = m.old`,
  `UPDATE trait_writes SET person = m.new FROM merge_moves m WHERE trait_writes.person = m.old`,
  `UPDATE user_groups SET person = m.new FROM merge_moves m WHERE user_groups.person = m.old`,
  `DELETE FROM user_traits WHERE person IN (SELECT old FROM merge_moves)`,
]

// The current traits of the persons in $1, typed as event_props types property values.
const REFRESH_TRAITS = [
  `DELETE FROM user_traits WHERE person IN (SELECT unnest($1::VARCHAR[]))`,
  `INSERT INTO user_traits
   SELECT person, trait, value, json_type(value::JSON), value::JSON ->> '$',
          CASE WHEN json_type(value::JSON) IN ('UBIGINT', 'BIGINT', 'DOUBLE') THEN TRY_CAST(value::JSON ->> '$' AS DOUBLE) END
   FROM (SELECT person, trait, arg_max(value, ${TRAIT_RANK}) AS value
         FROM trait_writes WHERE person IN (SELECT unnest($1::VARCHAR[])) GROUP BY person, trait)`,
]

// A person's groups: the last call per group type (time, then arrival).
const REFRESH_GROUPS = `DELETE FROM user_groups g WHERE g.person IN (SELECT unnest($1::VARCHAR[]))
  AND EXISTS (SELECT 1 FROM user_groups n WHERE n.person = g.person AND n.group_type = g.group_type
              AND (n.set_at, n.seq) > (g.set_at, g.seq))`

export async function identityCursor(conn: DuckDBConnection): Promise<FeedPosition> {
  const reader = await conn.runAndReadAll(
    'SELECT identity_xact, identity_seq FROM replica_meta WHERE id = 1',
  )
  const [xact, seq] = reader.getRows()[0]!
  return { xact: BigInt(xact as bigint), seq: BigInt(seq as bigint) }
}

/** Applies a batch of identity calls; returns the warnings to keep (conflicts, ids never linked). */
export async function applyIdentityBatch(
  replica: DuckDbReplica,
  rows: readonly IdentityRow[],
): Promise<IdentityWarning[]> {
  const conn = replica.writer
  const changes = applyIdentities(rows, await loadState(replica, [...idsNamed(rows)]))
  const last = rows[rows.length - 1]!
  await conn.run('BEGIN TRANSACTION')
  try {
    await writeChanges(conn, changes)
    await conn.run(
      'UPDATE replica_meta SET identity_xact = $1::UBIGINT, identity_seq = $2::BIGINT WHERE id = 1',
      [last.xact, last.seq],
    )
    await conn.run('COMMIT')
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => {})
    throw err
  }
  return changes.warnings
}

async function loadState(replica: DuckDbReplica, names: string[]) {
  const conn = replica.writer
  const known = await replica.rows<{ user_id: string } & KnownId>(
    conn,
    'SELECT user_id, person, identified FROM identity_ids WHERE user_id IN (SELECT unnest($1::VARCHAR[]))',
    [listValue(names)],
  )
  const ids = new Map(known.map((r) => [r.user_id, { person: r.person, identified: r.identified }]))
  const persons = [...new Set(known.map((r) => r.person))]
  const flags =
    persons.length === 0
      ? []
      : await replica.rows<{ person: string; identified: boolean }>(
          conn,
          `SELECT person, bool_or(identified) AS identified FROM identity_ids
           WHERE person IN (SELECT unnest($1::VARCHAR[])) GROUP BY person`,
          [listValue(persons)],
        )
  return { ids, personIdentified: new Map(flags.map((r) => [r.person, r.identified])) }
}

async function writeChanges(conn: DuckDBConnection, changes: IdentityChanges): Promise<void> {
  const moves = [...changes.moves]
  if (moves.length > 0) {
    await conn.run(
      'CREATE OR REPLACE TEMP TABLE merge_moves AS SELECT unnest($1::VARCHAR[]) AS old, unnest($2::VARCHAR[]) AS new',
      [listValue(moves.map(([old]) => old)), listValue(moves.map(([, to]) => to))],
    )
    for (const sql of MOVE_KEYS) await conn.run(sql)
  }
  const ids = [...changes.ids]
  if (ids.length > 0)
    await conn.run(
      `INSERT INTO identity_ids SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]), unnest($3::BOOLEAN[])
       ON CONFLICT (user_id) DO UPDATE SET person = excluded.person, identified = excluded.identified`,
      [
        listValue(ids.map(([id]) => id)),
        listValue(ids.map(([, k]) => k.person)),
        listValue(ids.map(([, k]) => k.identified)),
      ],
    )
  const { traits, groups } = changes
  if (traits.length > 0)
    await insertLists(conn, 'trait_writes', [
      ['VARCHAR', traits.map((t) => t.person)],
      ['VARCHAR', traits.map((t) => t.trait)],
      ['BOOLEAN', traits.map((t) => t.once)],
      ['VARCHAR', traits.map((t) => t.value)],
      ['BIGINT', traits.map((t) => t.micros), 'make_timestamp'],
      ['BIGINT', traits.map((t) => t.seq)],
    ])
  if (groups.length > 0)
    await insertLists(conn, 'user_groups', [
      ['VARCHAR', groups.map((g) => g.person)],
      ['VARCHAR', groups.map((g) => g.group_type)],
      ['VARCHAR', groups.map((g) => g.group_id)],
      ['BIGINT', groups.map((g) => g.micros), 'make_timestamp'],
      ['BIGINT', groups.map((g) => g.seq)],
    ])
  const persons = new Set([...traits.map((t) => t.person), ...changes.moves.values()])
  if (persons.size > 0)
    for (const sql of REFRESH_TRAITS) await conn.run(sql, [listValue([...persons])])
  const grouped = new Set([...groups.map((g) => g.person), ...changes.moves.values()])
  if (grouped.size > 0) await conn.run(REFRESH_GROUPS, [listValue([...grouped])])
}

/** One INSERT of parallel lists, one bound list per column (a function applied where named). */
async function insertLists(
  conn: DuckDBConnection,
  table: string,
  columns: Array<[type: string, values: DuckDBValue[], fn?: string]>,
): Promise<void> {
  const select = columns
    .map(([type, , fn], i) => {
      const column = `unnest($${i + 1}::${type}[])`
      return fn ? `${fn}(${column})` : column
    })
    .join(', ')
  await conn.run(
    `INSERT INTO ${table} SELECT ${select}`,
    columns.map(([, values]) => listValue(values)),
  )
}
