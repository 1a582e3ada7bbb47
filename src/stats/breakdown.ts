import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import type { PropertyPaths } from '../analytics/property-paths.ts'
import { blockOf, usersBitmap } from '../analytics/replica-schema.ts'
import type { DayRange } from './params.ts'
import type { Breakdown } from './schemas.ts'
import { jsonPath, type Segment, type SegmentField } from './segment.ts'
import { DAYS_1_2, filteredEvents, fromJson, SqlParams } from './segment-sql.ts'

const RANGE = DAYS_1_2
const ALL_EVENTS = `SELECT sum(e.events) FROM type_day_counts e WHERE ${RANGE('e')}`

/**
 * Where the grouped values come from, in one of two shapes. A value is its
 * JSON type and text, so the number 5 and the string "5" stay apart; text is
 * '' for JSON null. `total` is the events the filters keep (NULL when every
 * event has a value).
 * - bitmaps: `users` gives (type, text, block, users) per value and `counts`
 *   (type, text, count), which may read `value_users`. For the few values the
 *   replica keeps bitmaps of (event types, paths with rollups).
 * - pairs: `rows` gives (type, text, user_key), one per event, for values
 *   that may be many (user ids, urls).
 */
type Values =
  | { shape: 'bitmaps'; counts: string; users: string; total: string }
  | { shape: 'pairs'; rows: string; total: string }

// From (type, text, user_key) rows of a few values, scanned once: users as
// bitmaps per block, with each block's events counted alongside and summed.
function fromRows(rows: string, total: string): Values {
  return {
    shape: 'bitmaps',
    users: `SELECT type, text, ${blockOf('user_key')} AS block, count(*) AS events,
                   ${usersBitmap('user_key')} AS users
            FROM (${rows}) r GROUP BY ALL`,
    counts: 'SELECT type, text, sum(events) AS count FROM value_users GROUP BY ALL',
    total,
  }
}

const fromPairs = (rows: string, total: string): Values => ({ shape: 'pairs', rows, total })

// From rollups already grouped by value (alias e), narrowed by `where`.
function fromRollups(
  counts: string,
  users: string,
  value: { type: string; text: string },
  where: string,
  total: string,
): Values {
  return {
    shape: 'bitmaps',
    counts: `SELECT ${value.type} AS type, ${value.text} AS text, sum(e.events) AS count FROM ${counts} e WHERE ${RANGE('e')} AND ${where} GROUP BY ALL`,
    users: `SELECT ${value.type} AS type, ${value.text} AS text, e.block, bit_or(e.users) AS users FROM ${users} e WHERE ${RANGE('e')} AND ${where} GROUP BY ALL`,
    total,
  }
}

/**
 * Picks the cheapest source: the rollups when they can answer (by event type
 * with no filter or filters on event_type alone; by a property that has
 * rollups, with no filter); otherwise the property's rows of event_props,
 * narrowed to the events the filters keep.
 */
function valuesOf(
  by: SegmentField,
  segments: readonly Segment[],
  paths: PropertyPaths,
  params: SqlParams,
): Values {
  const rollable = segments.every((s) => s.field.kind === 'event_type')
  const typeWhere = () => filteredEvents(segments, paths, params, RANGE).where
  const filtered = () => {
    const f = filteredEvents(segments, paths, params, RANGE)
    return { ...f, seqs: `SELECT e.seq FROM ${f.from} WHERE ${RANGE('e')} AND ${f.where}` }
  }
  if (by.kind === 'event_type') {
    if (rollable)
      return fromRollups(
        'type_day_counts',
        'day_type_users',
        { type: `'VARCHAR'`, text: 'e.event_type' },
        typeWhere(),
        'NULL',
      )
    const f = filtered()
    return fromRows(
      `SELECT 'VARCHAR' AS type, e.event_type AS text, e.user_key FROM ${f.from} WHERE ${RANGE('e')} AND ${f.where}`,
      'NULL',
    )
  }
  if (by.kind === 'user_id') {
    const f = filtered()
    return fromPairs(
      `SELECT 'VARCHAR' AS type, u.user_id AS text, e.user_key FROM ${f.from} JOIN users u USING (user_key) WHERE ${RANGE('e')} AND ${f.where}`,
      'NULL',
    )
  }
  if (by.kind === 'trait') {
    // The value of the person's current trait, for every event of the person.
    const f = filtered()
    return fromPairs(
      `SELECT t.type, coalesce(t.text, '') AS text, e.user_key FROM ${f.from}
       JOIN users u USING (user_key) JOIN user_traits t ON t.person = u.user_id AND t.trait = ${params.add(by.key)}
       WHERE ${RANGE('e')} AND ${f.where}`,
      `SELECT count(*) FROM (${f.seqs})`,
    )
  }
  const path = jsonPath(by.path)
  const id = paths.get(path)
  // Its user bitmaps are per value, not per event type: only without filters.
  if (id !== undefined && segments.length === 0 && paths.rolledUp(id)) {
    const where = `e.path_id = ${params.add(id)}`
    return fromRollups(
      'prop_day_counts',
      'prop_day_users',
      { type: 'e.type', text: 'e.text' },
      where,
      ALL_EVENTS,
    )
  }
  const f = filtered()
  const total = `SELECT count(*) FROM (${f.seqs})`
  const narrowed = (alias: string) =>
    segments.length === 0 ? '' : `AND ${alias}.seq IN (${f.seqs})`
  if (id !== undefined) {
    // A path with rollups has few values, whatever the filters keep.
    return (paths.rolledUp(id) ? fromRows : fromPairs)(
      `SELECT b.type, coalesce(b.text, '') AS text, b.user_key FROM event_props b
       WHERE b.path_id = ${params.add(id)} AND ${RANGE('b')} ${narrowed('b')}`,
      total,
    )
  }
  // No number: in no event while numbers last, else read from the raw JSON.
  if (paths.complete)
    return fromPairs(
      `SELECT NULL::VARCHAR AS type, NULL::VARCHAR AS text, NULL::INTEGER AS user_key WHERE FALSE`,
      total,
    )
  const json = fromJson(path, params, 'x')
  return fromPairs(
    `SELECT ${json.type} AS type, coalesce(${json.text}, '') AS text, x.user_key
     FROM events x WHERE ${RANGE('x')} AND ${json.type} IS NOT NULL ${narrowed('x')}`,
    total,
  )
}

// Per value (type, text, count, unique_users) as `per_value`, and the users
// of the values folded into "other" (those not in `top`) as `other_users`,
// each user once. By bitmaps, the union of the values' bitmaps per block. By
// pairs, not bitmaps: they cost 8 KB per value and block however few users a
// value has (gigabytes at 100k values), and neither is a count(DISTINCT) per
// value, the hashing of every (value, user) that made up most of the time.
// Only the values that can make the top need their users: counts are ordered
// first, so those below the limit-th count never do, and a value seen once
// has one user. The rows are read three times, so once, materialized.
function perValueSql(v: Values): { ctes: string; otherUsers: string } {
  if (v.shape === 'pairs')
    return {
      ctes: `value_rows AS MATERIALIZED (${v.rows}),
value_counts AS (SELECT type, text, count(*) AS count FROM value_rows GROUP BY ALL),
contenders AS (
  SELECT type, text FROM value_counts
  WHERE count > 1 AND count >= (SELECT coalesce(min(count), 0) FROM (SELECT count FROM value_counts ORDER BY count DESC LIMIT $3::INTEGER))
),
contender_users AS (
  SELECT type, text, count(DISTINCT user_key) AS unique_users FROM value_rows SEMI JOIN contenders USING (type, text) GROUP BY ALL
),
per_value AS (
  SELECT c.type, c.text, c.count, CASE WHEN c.count = 1 THEN 1 ELSE u.unique_users END AS unique_users
  FROM value_counts c LEFT JOIN contender_users u USING (type, text)
)`,
      otherUsers:
        'SELECT count(DISTINCT user_key) FROM value_rows ANTI JOIN top USING (type, text)',
    }
  return {
    ctes: `value_users AS (${v.users}),
value_counts AS (${v.counts}),
per_value AS (
  SELECT c.type, c.text, c.count, coalesce(u.unique_users, 0) AS unique_users
  FROM value_counts c LEFT JOIN (SELECT type, text, sum(bit_count(users)) AS unique_users FROM value_users GROUP BY ALL) u USING (type, text)
)`,
    otherUsers: `SELECT coalesce(sum(bit_count(users)), 0) FROM (
  SELECT block, bit_or(users) AS users FROM value_users ANTI JOIN top USING (type, text) GROUP BY block)`,
  }
}

// The top `limit` values by count (then unique users, then value); the rest
// folded into "other"; and the events without the property ("not set": the
// events the filters keep minus those with a value).
function breakdownSql(v: Values): string {
  const { ctes, otherUsers } = perValueSql(v)
  return `
WITH ${ctes},
top AS (SELECT * FROM per_value ORDER BY count DESC, unique_users DESC, type, text LIMIT $3::INTEGER),
rest AS (SELECT * FROM per_value ANTI JOIN top USING (type, text))
SELECT 'top' AS part, type, text, count::BIGINT AS count, unique_users::BIGINT AS unique_users FROM top
UNION ALL SELECT 'other', NULL, NULL, (SELECT coalesce(sum(count), 0) FROM rest)::BIGINT, (${otherUsers})::BIGINT
UNION ALL SELECT 'values', NULL, NULL, (SELECT count(*) FROM rest)::BIGINT, 0
UNION ALL SELECT 'all', NULL, NULL, (SELECT coalesce(sum(count), 0) FROM per_value)::BIGINT, 0
UNION ALL SELECT 'total', NULL, NULL, (${v.total})::BIGINT, 0`
}

interface Row {
  part: 'top' | 'other' | 'values' | 'all' | 'total'
  type: string | null
  text: string | null
  count: bigint | null
  unique_users: bigint
}

export async function breakdown(
  replica: DuckDbReplica,
  range: DayRange,
  by: { text: string; field: SegmentField },
  limit: number,
  segments: readonly Segment[],
): Promise<Breakdown> {
  const params = new SqlParams()
  params.add(range.from)
  params.add(range.to)
  params.add(limit)
  const rows = await replica.query<Row>(
    breakdownSql(valuesOf(by.field, segments, replica.paths, params)),
    params.values,
  )
  const one = (part: Row['part']) => rows.find((r) => r.part === part)!
  const withValue = Number(one('all').count)
  const total = one('total').count
  return {
    by: by.text,
    values: rows
      .filter((r) => r.part === 'top')
      .map((r) => ({
        value: jsonValue(r.type!, r.text!),
        count: Number(r.count),
        unique_users: Number(r.unique_users),
      })),
    other: {
      values: Number(one('values').count),
      count: Number(one('other').count),
      unique_users: Number(one('other').unique_users),
    },
    not_set: { count: total === null ? 0 : Number(total) - withValue },
  }
}

/** A grouped value back as the JSON value it was in the events. */
export function jsonValue(type: string, text: string): unknown {
  switch (type) {
    case 'NULL':
      return null
    case 'VARCHAR':
      return text
    case 'BOOLEAN':
      return text === 'true'
    case 'UBIGINT':
    case 'BIGINT':
    case 'DOUBLE':
      return Number(text)
    default:
      return JSON.parse(text) // OBJECT, ARRAY
  }
}
