import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import { BLOCK_BITS } from '../analytics/replica-schema.ts'
import { formatDay } from './params.ts'
import type { Segment } from './segment.ts'
import { filteredEvents, rollupFor, SqlParams, type FilteredEvents } from './segment-sql.ts'

// The cohort is a range filter on users.first_day (kept current by the sync),
// turned into one bitmap per block of user keys; each window's retained users
// are the bits it shares with the union of that window's daily bitmaps. No
// query touches raw events, and the cost depends on days and blocks, not
// events. $3 is the period in days: 7 for weekly cohorts, 1 for daily ones.
// Windows without anyone are filled with zeros.
const COHORT_USERS = `
  SELECT user_key FROM users
  WHERE first_day >= DATE '1970-01-01' + $1::INTEGER AND first_day < DATE '1970-01-01' + $1::INTEGER + $3::INTEGER`

// From day_users, or, when the rollups can answer the return filter (event_type
// alone, or one property that has rollups), from their user bitmaps narrowed by it.
const rollupWindows = (table = 'day_users', where = 'TRUE') => `
  SELECT ((e.day - DATE '1970-01-01') - $1::INTEGER) // $3::INTEGER AS k, e.block, bit_or(e.users) AS users
  FROM ${table} e
  WHERE e.day >= DATE '1970-01-01' + $1::INTEGER + $3::INTEGER
    AND e.day < DATE '1970-01-01' + $1::INTEGER + $3::INTEGER * ($2::INTEGER + 1)
    AND ${where}
  GROUP BY 1, 2`

// With a cohort filter, "first seen" means the first matching event: users
// with a matching event in the period and none before it. Only events up to
// the period's end are read.
const filteredCohortUsers = (f: FilteredEvents) => `
  SELECT e.user_key FROM ${f.from}
  WHERE e.day < DATE '1970-01-01' + $1::INTEGER + $3::INTEGER AND ${f.where}
  GROUP BY e.user_key
  HAVING min(e.day) >= DATE '1970-01-01' + $1::INTEGER`

// With a return filter, a window's users are those with a matching event in it.
const filteredWindows = (f: FilteredEvents) => `
  SELECT ((e.day - DATE '1970-01-01') - $1::INTEGER) // $3::INTEGER AS k,
         e.user_key // ${BLOCK_BITS} AS block, bitstring_agg(e.user_key % ${BLOCK_BITS}, 0, ${BLOCK_BITS - 1}) AS users
  FROM ${f.from}
  WHERE e.day >= DATE '1970-01-01' + $1::INTEGER + $3::INTEGER
    AND e.day < DATE '1970-01-01' + $1::INTEGER + $3::INTEGER * ($2::INTEGER + 1)
    AND ${f.where}
  GROUP BY 1, 2`

// The cohort as bitmaps, from the users in it.
const cohortOfUsers = (cohortUsers: string) => `
  SELECT user_key // ${BLOCK_BITS} AS block, bitstring_agg(user_key % ${BLOCK_BITS}, 0, ${BLOCK_BITS - 1}) AS users
  FROM (${cohortUsers}) cohort_users
  GROUP BY 1`

// The cohort straight from rollup bitmaps (alias e, narrowed by `where`): the
// users with a matching event in the period and none before it, i.e. the
// period's union minus the union of every earlier day.
const cohortOfRollup = (table: string, where: string) => `
  SELECT block, CASE WHEN before IS NULL THEN during ELSE during & ~before END AS users
  FROM (
    SELECT e.block,
           bit_or(e.users) FILTER (WHERE e.day >= DATE '1970-01-01' + $1::INTEGER) AS during,
           bit_or(e.users) FILTER (WHERE e.day < DATE '1970-01-01' + $1::INTEGER) AS before
    FROM ${table} e
    WHERE e.day < DATE '1970-01-01' + $1::INTEGER + $3::INTEGER AND ${where}
    GROUP BY e.block
  ) per_block
  WHERE during IS NOT NULL`

const retentionSql = (cohort: string, windows: string) => `
WITH cohort AS (${cohort}), windows AS (${windows})
SELECT -1 AS k, sum(bit_count(users))::INTEGER AS users FROM cohort
UNION ALL
SELECT w.k, sum(bit_count(w.users & c.users))::INTEGER AS users
FROM windows w JOIN cohort c USING (block)
GROUP BY w.k`

/** Filters on who joins the cohort and on what counts as coming back; either may be empty. */
export interface RetentionSegments {
  cohort: readonly Segment[]
  return: readonly Segment[]
}

export const NO_SEGMENTS: RetentionSegments = { cohort: [], return: [] }

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

/** 100 × retained / size to one decimal, from integers so 1/8 is exactly 12.5; 0 for an empty cohort. */
export function retentionRate(retained: number, size: number): number {
  return size === 0 ? 0 : Math.round((retained * 1000) / size) / 10
}

/** Cohort size and, for windows 1..n, the users retained and the rate (one decimal, from integers, so 1/8 is exactly 12.5). */
async function cohortWindows(replica: DuckDbReplica, startDay: number, windows: number, periodDays: number, segments: RetentionSegments) {
  const params = new SqlParams()
  params.add(startDay)
  params.add(windows)
  params.add(periodDays)
  const cohortRollup = segments.cohort.length === 0 ? undefined : rollupFor(segments.cohort, replica.paths, params)
  const cohort =
    segments.cohort.length === 0 ? cohortOfUsers(COHORT_USERS)
    : cohortRollup ? cohortOfRollup(cohortRollup.users, cohortRollup.where)
    : cohortOfUsers(filteredCohortUsers(filteredEvents(segments.cohort, replica.paths, params)))
  const returnRollup = segments.return.length === 0 ? undefined : rollupFor(segments.return, replica.paths, params)
  const windowUsers =
    segments.return.length === 0 ? rollupWindows()
    : returnRollup ? rollupWindows(returnRollup.users, returnRollup.where)
    : filteredWindows(filteredEvents(segments.return, replica.paths, params))
  const rows = await replica.query<{ k: number | bigint; users: number | null }>(retentionSql(cohort, windowUsers), params.values)
  const byWindow = new Map(rows.map((r) => [Number(r.k), r.users ?? 0]))
  const cohortSize = byWindow.get(-1) ?? 0
  const out = []
  for (let k = 1; k <= windows; k++) {
    const retained = byWindow.get(k) ?? 0
    out.push({ k, start: formatDay(startDay + periodDays * k), retained, rate: retentionRate(retained, cohortSize) })
  }
  return { cohortSize, windows: out }
}

export async function weeklyRetention(replica: DuckDbReplica, startDay: number, windows: number, segments = NO_SEGMENTS): Promise<WeeklyRetention> {
  const r = await cohortWindows(replica, startDay, windows, 7, segments)
  return {
    start_date: formatDay(startDay),
    cohort_size: r.cohortSize,
    retention: r.windows.map((w) => ({ week: w.k, week_start: w.start, retained_users: w.retained, retention_rate: w.rate })),
  }
}

/** Users first seen on start_date; window k is day start_date + k. */
export async function dailyRetention(replica: DuckDbReplica, startDay: number, windows: number, segments = NO_SEGMENTS): Promise<DailyRetention> {
  const r = await cohortWindows(replica, startDay, windows, 1, segments)
  return {
    start_date: formatDay(startDay),
    period: 'day',
    cohort_size: r.cohortSize,
    retention: r.windows.map((w) => ({ day: w.k, date: w.start, retained_users: w.retained, retention_rate: w.rate })),
  }
}
