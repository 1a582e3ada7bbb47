import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import { BLOCK_BITS } from '../analytics/replica-schema.ts'
import { formatDay } from './params.ts'

// The cohort is a range filter on users.first_day (kept current by the sync),
// turned into one bitmap per block of user keys; each window's retained users
// are the bits it shares with the union of that window's daily bitmaps. No
// query touches raw events, and the cost depends on days and blocks, not
// events. $3 is the period in days: 7 for weekly cohorts, 1 for daily ones.
// Windows without anyone are filled with zeros.
const SQL = `
WITH cohort AS (
  SELECT user_key // ${BLOCK_BITS} AS block, bitstring_agg(user_key % ${BLOCK_BITS}, 0, ${BLOCK_BITS - 1}) AS users
  FROM users
  WHERE first_day >= DATE '1970-01-01' + $1::INTEGER AND first_day < DATE '1970-01-01' + $1::INTEGER + $3::INTEGER
  GROUP BY 1
), windows AS (
  SELECT ((day - DATE '1970-01-01') - $1::INTEGER) // $3::INTEGER AS k, block, bit_or(users) AS users
  FROM day_users
  WHERE day >= DATE '1970-01-01' + $1::INTEGER + $3::INTEGER
    AND day < DATE '1970-01-01' + $1::INTEGER + $3::INTEGER * ($2::INTEGER + 1)
  GROUP BY 1, 2
)
SELECT -1 AS k, sum(bit_count(users))::INTEGER AS users FROM cohort
UNION ALL
SELECT w.k, sum(bit_count(w.users & c.users))::INTEGER AS users
FROM windows w JOIN cohort c USING (block)
GROUP BY w.k`

export type Period = 'week' | 'day'

export interface WeeklyRetention {
  start_date: string
  cohort_size: number
  retention: Array<{ week: number; week_start: string; retained_users: number; retention_rate: number }>
}

export interface DailyRetention {
  start_date: string
  period: 'day'
  cohort_size: number
  retention: Array<{ day: number; date: string; retained_users: number; retention_rate: number }>
}

/** Cohort size and, for windows 1..n, the users retained and the rate (one decimal, from integers, so 1/8 is exactly 12.5). */
async function cohortWindows(replica: DuckDbReplica, startDay: number, windows: number, periodDays: number) {
  const rows = await replica.query<{ k: number | bigint; users: number | null }>(SQL, [startDay, windows, periodDays])
  const byWindow = new Map(rows.map((r) => [Number(r.k), r.users ?? 0]))
  const cohortSize = byWindow.get(-1) ?? 0
  const out = []
  for (let k = 1; k <= windows; k++) {
    const retained = byWindow.get(k) ?? 0
    out.push({ k, start: formatDay(startDay + periodDays * k), retained, rate: cohortSize === 0 ? 0 : Math.round((retained * 1000) / cohortSize) / 10 })
  }
  return { cohortSize, windows: out }
}

export async function weeklyRetention(replica: DuckDbReplica, startDay: number, windows: number): Promise<WeeklyRetention> {
  const r = await cohortWindows(replica, startDay, windows, 7)
  return {
    start_date: formatDay(startDay),
    cohort_size: r.cohortSize,
    retention: r.windows.map((w) => ({ week: w.k, week_start: w.start, retained_users: w.retained, retention_rate: w.rate })),
  }
}

/** Users first seen on start_date; window k is day start_date + k. */
export async function dailyRetention(replica: DuckDbReplica, startDay: number, windows: number): Promise<DailyRetention> {
  const r = await cohortWindows(replica, startDay, windows, 1)
  return {
    start_date: formatDay(startDay),
    period: 'day',
    cohort_size: r.cohortSize,
    retention: r.windows.map((w) => ({ day: w.k, date: w.start, retained_users: w.retained, retention_rate: w.rate })),
  }
}
