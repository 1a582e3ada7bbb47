import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import { formatDay } from './params.ts'

// The cohort is a range filter on users.first_day (kept current by the sync);
// each week's retained users is a semi-join of user_days with the cohort, so
// no query ever scans raw events. Weeks without anyone are filled with zeros.
const SQL = `
WITH cohort AS (
  SELECT user_key FROM users
  WHERE first_day >= DATE '1970-01-01' + $1::INTEGER AND first_day < DATE '1970-01-01' + $1::INTEGER + 7
)
SELECT -1 AS week, count(*)::INTEGER AS users FROM cohort
UNION ALL
SELECT ((ud.day - DATE '1970-01-01') - $1::INTEGER) // 7 AS week, count(DISTINCT ud.user_key)::INTEGER AS users
FROM user_days ud SEMI JOIN cohort c ON ud.user_key = c.user_key
WHERE ud.day >= DATE '1970-01-01' + $1::INTEGER + 7
  AND ud.day < DATE '1970-01-01' + $1::INTEGER + 7 * ($2::INTEGER + 1)
GROUP BY 1`

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
