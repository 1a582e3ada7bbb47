import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import { formatDay } from './params.ts'
import type { DataRange } from './schemas.ts'

// The first and last UTC day holding any event, so a client (the dashboard)
// can open on the days that have data instead of guessing. day_users has a
// few rows per day whatever the number of events, so this stays cheap.
const SQL = `
SELECT (min(day) - DATE '1970-01-01')::INTEGER AS first_day, (max(day) - DATE '1970-01-01')::INTEGER AS last_day
FROM day_users`

export async function dataRange(replica: DuckDbReplica): Promise<DataRange> {
  const [row] = await replica.query<{ first_day: number | null; last_day: number | null }>(SQL)
  return {
    first_day: row?.first_day == null ? null : formatDay(row.first_day),
    last_day: row?.last_day == null ? null : formatDay(row.last_day),
  }
}
