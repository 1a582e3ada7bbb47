import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import { blockOf, usersBitmap } from '../analytics/replica-schema.ts'
import { type DayRange, formatDay } from './params.ts'
import type { DauRow } from './schemas.ts'
import type { Segment } from './segment.ts'
import {
  DAYS_1_2,
  type FilteredEvents,
  filteredEvents,
  rollupFor,
  SqlParams,
} from './segment-sql.ts'

// With filters the rollups cannot answer, so the range's events are scanned,
// but users are still gathered into per-block bitmaps (bitstring_agg sets a
// bit; no hash table of distinct users), which is several times faster than
// count(DISTINCT) at millions of rows.
function filteredSql(f: FilteredEvents): string {
  return `
SELECT (day - DATE '1970-01-01')::INTEGER AS day, sum(bit_count(users))::INTEGER AS users
FROM (
  SELECT e.day, ${blockOf('e.user_key')} AS block, ${usersBitmap('e.user_key')} AS users
  FROM ${f.from}
  WHERE ${DAYS_1_2('e')} AND ${f.where}
  GROUP BY ALL
) per_block
GROUP BY day`
}

// A day's active users are the set bits of its bitmaps (one per block of user
// keys), so the cost depends on days, not events: without filters those of
// day_users, with filters the rollups can answer (event_type alone, or one
// property that has rollups) the union of the matching rows' daily bitmaps.
function rollupSql(table: string, where: string): string {
  return `
SELECT (day - DATE '1970-01-01')::INTEGER AS day, sum(bit_count(users))::INTEGER AS users
FROM (
  SELECT e.day, e.block, bit_or(e.users) AS users
  FROM ${table} e
  WHERE ${DAYS_1_2('e')} AND ${where}
  GROUP BY ALL
) per_block
GROUP BY day`
}

// Days without rows are filled with zeros here rather than by a generated series in SQL.
export async function dailyActiveUsers(
  replica: DuckDbReplica,
  range: DayRange,
  segments: readonly Segment[] = [],
): Promise<DauRow[]> {
  const params = new SqlParams()
  params.add(range.from)
  params.add(range.to)
  const rollup = segments.length === 0 ? undefined : rollupFor(segments, replica.paths, params)
  const sql =
    segments.length === 0
      ? rollupSql('day_users', 'TRUE')
      : rollup
        ? rollupSql(rollup.users, rollup.where)
        : filteredSql(filteredEvents(segments, replica.paths, params, DAYS_1_2))
  const rows = await replica.query<{ day: number; users: number }>(sql, params.values)
  const byDay = new Map(rows.map((r) => [r.day, r.users]))
  const out: DauRow[] = []
  for (let day = range.from; day <= range.to; day++)
    out.push({ date: formatDay(day), unique_users: byDay.get(day) ?? 0 })
  return out
}
