import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import type { DayRange } from './params.ts'

// One pass over the range's events: the DATE column makes the filter a range
// check, and user keys are integers, so the distinct count hashes ints.
// Ties on count are broken by name so the answer is stable.
const SQL = `
SELECT event_type, count(*)::BIGINT AS count, count(DISTINCT user_key)::BIGINT AS unique_users
FROM events
WHERE day BETWEEN DATE '1970-01-01' + $1::INTEGER AND DATE '1970-01-01' + $2::INTEGER
GROUP BY event_type
ORDER BY count DESC, event_type ASC
LIMIT $3::INTEGER`

export interface TopEventRow {
  event_type: string
  count: number
  unique_users: number
}

export async function topEvents(replica: DuckDbReplica, range: DayRange, limit: number): Promise<TopEventRow[]> {
  const rows = await replica.query<{ event_type: string; count: bigint; unique_users: bigint }>(SQL, [range.from, range.to, limit])
  return rows.map((r) => ({ event_type: r.event_type, count: Number(r.count), unique_users: Number(r.unique_users) }))
}
