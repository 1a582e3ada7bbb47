import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import { blockOf, usersBitmap } from '../analytics/replica-schema.ts'
import type { DayRange } from './params.ts'
import type { TopEventRow } from './schemas.ts'
import type { Segment } from './segment.ts'
import {
  DAYS_1_2,
  type FilteredEvents,
  filteredEvents,
  rollupFor,
  SqlParams,
} from './segment-sql.ts'

// Counts are sums over (day, type); unique users are the union (bit_or) of a
// type's daily bitmaps over the range, counted per block of user keys. Neither
// touches raw events. Ties on count are broken by name so the answer is stable.
// Filters the rollups can answer narrow them the same way (`where`, over alias e).
const rollupSql = (where = 'TRUE', counts = 'type_day_counts', users = 'day_type_users') => `
WITH counts AS (
  SELECT e.event_type, sum(e.events) AS count
  FROM ${counts} e
  WHERE ${DAYS_1_2('e')} AND ${where}
  GROUP BY e.event_type
), users AS (
  SELECT event_type, sum(bit_count(users)) AS unique_users
  FROM (
    SELECT e.event_type, e.block, bit_or(e.users) AS users
    FROM ${users} e
    WHERE ${DAYS_1_2('e')} AND ${where}
    GROUP BY e.event_type, e.block
  ) per_block
  GROUP BY event_type
)
SELECT event_type, count::BIGINT AS count, unique_users::BIGINT AS unique_users
FROM counts JOIN users USING (event_type)
ORDER BY count DESC, event_type ASC
LIMIT $3::INTEGER`

// With filters: the range's matching events, scanned once; each type's users
// gathered as bitmaps per block (as for DAU) rather than by count(DISTINCT).
function filteredSql(f: FilteredEvents): string {
  return `
SELECT event_type, sum(count)::BIGINT AS count, sum(bit_count(users))::BIGINT AS unique_users
FROM (
  SELECT e.event_type, ${blockOf('e.user_key')} AS block, count(*) AS count,
         ${usersBitmap('e.user_key')} AS users
  FROM ${f.from}
  WHERE ${DAYS_1_2('e')} AND ${f.where}
  GROUP BY ALL
) per_block
GROUP BY event_type
ORDER BY count DESC, event_type ASC
LIMIT $3::INTEGER`
}

export async function topEvents(
  replica: DuckDbReplica,
  range: DayRange,
  limit: number,
  segments: readonly Segment[] = [],
): Promise<TopEventRow[]> {
  const params = new SqlParams()
  params.add(range.from)
  params.add(range.to)
  params.add(limit)
  const rollup =
    segments.length === 0 ? undefined : rollupFor(segments, replica.paths, params, 'users by type')
  const sql =
    segments.length === 0
      ? rollupSql()
      : rollup
        ? rollupSql(rollup.where, rollup.counts, rollup.users)
        : filteredSql(filteredEvents(segments, replica.paths, params, DAYS_1_2))
  const rows = await replica.query<{ event_type: string; count: bigint; unique_users: bigint }>(
    sql,
    params.values,
  )
  return rows.map((r) => ({
    event_type: r.event_type,
    count: Number(r.count),
    unique_users: Number(r.unique_users),
  }))
}
