import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import type { DayRange } from './params.ts'
import type { PropertyPaths } from '../analytics/property-paths.ts'
import { jsonPath, type Segment, type SegmentField } from './segment.ts'
import { filteredEvents, fromJson, SqlParams, type FilteredEvents } from './segment-sql.ts'

// Events of the range grouped by the value of one field: the top `limit`
// values by count (then unique users, then value), everything else folded into
// one "other" row whose unique users are counted across those values, not
// added up, and the events without the property as "not set". A value is
// grouped with its JSON type, so the number 5 and the string "5" stay apart.
// `value` names the (type, text) of the field for each filtered event `e`,
// through `join` when it comes from event_props.
function breakdownSql(f: FilteredEvents, value: { join: string; type: string; text: string }): string {
  return `
WITH matching AS (
  SELECT ${value.type} AS type, ${value.text} AS value, e.user_key
  FROM ${f.from} ${value.join}
  WHERE e.day BETWEEN DATE '1970-01-01' + $1::INTEGER AND DATE '1970-01-01' + $2::INTEGER AND ${f.where}
), per_value AS (
  SELECT type, value, count(*) AS count, count(DISTINCT user_key) AS unique_users
  FROM matching WHERE type IS NOT NULL GROUP BY ALL
), top AS (
  SELECT * FROM per_value ORDER BY count DESC, unique_users DESC, type, value LIMIT $3::INTEGER
)
SELECT 'top' AS part, type, value, count::BIGINT AS count, unique_users::BIGINT AS unique_users, 1::BIGINT AS "values" FROM top
UNION ALL
SELECT 'other', NULL, NULL, count(*)::BIGINT, count(DISTINCT m.user_key)::BIGINT, count(DISTINCT (m.type, m.value))::BIGINT
FROM matching m ANTI JOIN top t ON m.type = t.type AND m.value IS NOT DISTINCT FROM t.value
WHERE m.type IS NOT NULL
UNION ALL
SELECT 'not_set', NULL, NULL, count(*)::BIGINT, count(DISTINCT user_key)::BIGINT, 0 FROM matching WHERE type IS NULL`
}

/** Where the grouped value comes from for each event `e`. */
function valueOf(by: SegmentField, paths: PropertyPaths, params: SqlParams): { join: string; type: string; text: string } {
  if (by.kind === 'event_type') return { join: '', type: `'VARCHAR'`, text: 'e.event_type' }
  if (by.kind === 'user_id') return { join: 'JOIN users u ON u.user_key = e.user_key', type: `'VARCHAR'`, text: 'u.user_id' }
  const path = jsonPath(by.path)
  const id = paths.get(path)
  if (id === undefined) {
    // A path without a number is in no event, unless numbers ran out: then read the raw JSON.
    if (paths.complete) return { join: '', type: 'NULL::VARCHAR', text: 'NULL::VARCHAR' }
    const json = fromJson(path, params)
    return { join: '', type: json.type, text: json.text }
  }
  return {
    join: `LEFT JOIN event_props b ON b.seq = e.seq AND b.path_id = ${params.add(id)}
             AND b.day BETWEEN DATE '1970-01-01' + $1::INTEGER AND DATE '1970-01-01' + $2::INTEGER`,
    type: 'b.type',
    text: 'b.text',
  }
}

export interface BreakdownRow {
  value: unknown
  count: number
  unique_users: number
}

export interface Breakdown {
  by: string
  values: BreakdownRow[]
  other: { values: number; count: number; unique_users: number }
  not_set: { count: number; unique_users: number }
}

interface Row {
  part: 'top' | 'other' | 'not_set'
  type: string | null
  value: string | null
  count: bigint
  unique_users: bigint
  values: bigint
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
  const value = valueOf(by.field, replica.paths, params)
  const sql = breakdownSql(filteredEvents(segments, replica.paths, params), value)
  const rows = await replica.query<Row>(sql, params.values)
  const part = (name: Row['part']) => rows.filter((r) => r.part === name)
  const other = part('other')[0]
  const notSet = part('not_set')[0]
  return {
    by: by.text,
    values: part('top').map((r) => ({ value: jsonValue(r.type!, r.value), count: Number(r.count), unique_users: Number(r.unique_users) })),
    other: { values: Number(other?.values ?? 0), count: Number(other?.count ?? 0), unique_users: Number(other?.unique_users ?? 0) },
    not_set: { count: Number(notSet?.count ?? 0), unique_users: Number(notSet?.unique_users ?? 0) },
  }
}

/** A grouped value back as the JSON value it was in the events. */
function jsonValue(type: string, text: string | null): unknown {
  if (text === null || type === 'NULL') return null
  switch (type) {
    case 'VARCHAR': return text
    case 'BOOLEAN': return text === 'true'
    case 'UBIGINT': case 'BIGINT': case 'DOUBLE': return Number(text)
    default: return JSON.parse(text) // OBJECT, ARRAY
  }
}
