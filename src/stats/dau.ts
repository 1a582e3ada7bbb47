import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import { formatDay, type DayRange } from './params.ts'

// A day's active users are the set bits of its bitmaps (one row per block of
// user keys), so the cost depends on days, not events. Days without rows are
// filled with zeros here rather than by a generated series in SQL.
const SQL = `
SELECT (day - DATE '1970-01-01')::INTEGER AS day, sum(bit_count(users))::INTEGER AS users
FROM day_users
WHERE day BETWEEN DATE '1970-01-01' + $1::INTEGER AND DATE '1970-01-01' + $2::INTEGER
GROUP BY day`

export interface DauRow {
  date: string
  unique_users: number
}

export async function dailyActiveUsers(replica: DuckDbReplica, range: DayRange): Promise<DauRow[]> {
  const rows = await replica.query<{ day: number; users: number }>(SQL, [range.from, range.to])
  const byDay = new Map(rows.map((r) => [r.day, r.users]))
  const out: DauRow[] = []
  for (let day = range.from; day <= range.to; day++) out.push({ date: formatDay(day), unique_users: byDay.get(day) ?? 0 })
  return out
}
