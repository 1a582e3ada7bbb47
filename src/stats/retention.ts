import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import { BLOCK_BITS } from '../analytics/replica-schema.ts'
import { formatDay } from './params.ts'

// The cohort is a range filter on users.first_day (kept current by the sync),
// turned into one bitmap per block of user keys; each week's retained users
// are the bits it shares with the union of that week's daily bitmaps. No query
// touches raw events, and the cost depends on days and blocks, not events.
// Weeks without anyone are filled with zeros.
const SQL = `
WITH cohort AS (
  SELECT user_key // ${BLOCK_BITS} AS block, bitstring_agg(user_key % ${BLOCK_BITS}, 0, ${BLOCK_BITS - 1}) AS users
  FROM users
  WHERE first_day >= DATE '1970-01-01' + $1::INTEGER AND first_day < DATE '1970-01-01' + $1::INTEGER + 7
  GROUP BY 1
), weeks AS (
  SELECT ((day - DATE '1970-01-01') - $1::INTEGER) // 7 AS week, block, bit_or(users) AS users
  FROM day_users
  WHERE day >= DATE '1970-01-01' + $1::INTEGER + 7
    AND day < DATE '1970-01-01' + $1::INTEGER + 7 * ($2::INTEGER + 1)
  GROUP BY 1, 2
)
SELECT -1 AS week, sum(bit_count(users))::INTEGER AS users FROM cohort
UNION ALL
SELECT w.week, sum(bit_count(w.users & c.users))::INTEGER AS users
FROM weeks w JOIN cohort c USING (block)
GROUP BY w.week`

export interface RetentionReport {
  start_date: string
  cohort_size: number
  retention: Array<{ week: number; week_start: string; retained_users: number; retention_rate: number }>
}

export async function weeklyRetention(replica: DuckDbReplica, startDay: number, windows: number): Promise<RetentionReport> {
  const rows = await replica.query<{ week: number | bigint; users: number }>(SQL, [startDay, windows])
  const byWeek = new Map(rows.map((r) => [Number(r.week), r.users]))
  const cohortSize = byWeek.get(-1) ?? 0
  const retention = []
  for (let week = 1; week <= windows; week++) {
    const retained = byWeek.get(week) ?? 0
    retention.push({
      week,
      week_start: formatDay(startDay + 7 * week),
      retained_users: retained,
      // One decimal, from integers, so 1/8 is exactly 12.5.
      retention_rate: cohortSize === 0 ? 0 : Math.round((retained * 1000) / cohortSize) / 10,
    })
  }
  return { start_date: formatDay(startDay), cohort_size: cohortSize, retention }
}
