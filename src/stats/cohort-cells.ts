import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import { blockOf, usersBitmap } from '../analytics/replica-schema.ts'
import type { Segment } from './segment.ts'
import { type FilteredEvents, filteredEvents, rollupFor, SqlParams } from './segment-sql.ts'

/** Filters on who joins a cohort and on what counts as coming back; either may be empty. */
export interface RetentionSegments {
  cohort: readonly Segment[]
  return: readonly Segment[]
}

export const NO_SEGMENTS: RetentionSegments = { cohort: [], return: [] }

/**
 * Consecutive cohorts and the windows after them, all `period` days long from
 * `start` (days since 1970-01-01): cohort c covers [start + period·c, +period),
 * and window w the same span for w ≥ 1; cohorts run to slot `cohorts`,
 * windows to slot `slots` (exclusive).
 */
export interface CohortGrid {
  start: number
  period: number
  cohorts: number
  slots: number
}

// $1 start, $2 period, $3 cohorts, $4 slots. A slot is ((day - start) // period).
const DAY = (n: string) => `DATE '1970-01-01' + ${n}`
const slotOf = (day: string) => `((${day} - DATE '1970-01-01') - $1::INTEGER) // $2::INTEGER`
const COHORTS_END = DAY('$1::INTEGER + $2::INTEGER * $3::INTEGER')
const IN_WINDOWS = `e.day >= ${DAY('$1::INTEGER + $2::INTEGER')} AND e.day < ${DAY('$1::INTEGER + $2::INTEGER * $4::INTEGER')}`

// A cohort is the users whose first event falls in it: a range filter on
// users.first_day, which the sync keeps current.
const COHORT_USERS = `
  SELECT ${slotOf('first_day')} AS c, user_key FROM users
  WHERE first_day >= ${DAY('$1::INTEGER')} AND first_day < ${COHORTS_END}`

// With a cohort filter, "first seen" means the first matching event: users
// with a matching event in the cohorts' span and none before it. Only events
// up to the span's end are read.
const filteredCohortUsers = (f: FilteredEvents) => `
  SELECT ${slotOf('min(e.day)')} AS c, e.user_key FROM ${f.from}
  WHERE e.day < ${COHORTS_END} AND ${f.where}
  GROUP BY e.user_key
  HAVING min(e.day) >= ${DAY('$1::INTEGER')}`

const cohortOfUsers = (cohortUsers: string) => `
  SELECT c, ${blockOf('user_key')} AS block, ${usersBitmap('user_key')} AS users
  FROM (${cohortUsers}) cohort_users
  GROUP BY 1, 2`

// One cohort straight from rollup bitmaps (alias e, narrowed by `where`): the
// users with a matching event in the period and none before it, i.e. the
// period's union minus the union of every earlier day.
const singleCohortOfRollup = (table: string, where: string) => `
  SELECT 0 AS c, block, CASE WHEN before IS NULL THEN during ELSE during & ~before END AS users
  FROM (
    SELECT e.block,
           bit_or(e.users) FILTER (WHERE e.day >= ${DAY('$1::INTEGER')}) AS during,
           bit_or(e.users) FILTER (WHERE e.day < ${DAY('$1::INTEGER')}) AS before
    FROM ${table} e
    WHERE e.day < ${COHORTS_END} AND ${where}
    GROUP BY e.block
  ) per_block
  WHERE during IS NOT NULL`

// Each window's users: from day_users, or from the rollups that can answer the
// return filter (event_type alone, or one property with rollups), narrowed by it.
const rollupWindows = (table = 'day_users', where = 'TRUE') => `
  SELECT ${slotOf('e.day')} AS w, e.block, bit_or(e.users) AS users
  FROM ${table} e
  WHERE ${IN_WINDOWS} AND ${where}
  GROUP BY 1, 2`

// Otherwise a window's users are those with a matching event in it.
const filteredWindows = (f: FilteredEvents) => `
  SELECT ${slotOf('e.day')} AS w, ${blockOf('e.user_key')} AS block, ${usersBitmap('e.user_key')} AS users
  FROM ${f.from}
  WHERE ${IN_WINDOWS} AND ${f.where}
  GROUP BY 1, 2`

// Cohort sizes (k = -1) and, for each cohort c and later window w, the users
// they share (k = w - c): bits in common, block by block. The cost depends on
// periods and blocks, not events.
const cellsSql = (cohorts: string, windows: string) => `
WITH cohorts AS (${cohorts}), windows AS (${windows})
SELECT c, -1 AS k, sum(bit_count(users))::INTEGER AS users FROM cohorts GROUP BY c
UNION ALL
SELECT c.c, w.w - c.c AS k, sum(bit_count(w.users & c.users))::INTEGER AS users
FROM windows w JOIN cohorts c ON w.block = c.block AND w.w > c.c
GROUP BY 1, 2`

/** Users per (cohort, window) cell: size(c) for the cohort itself, retained(c, k) for k periods after it; 0 when none. */
export interface Cells {
  size(c: number): number
  retained(c: number, k: number): number
}

export async function cohortCells(
  replica: DuckDbReplica,
  grid: CohortGrid,
  segments: RetentionSegments,
): Promise<Cells> {
  const params = new SqlParams()
  for (const n of [grid.start, grid.period, grid.cohorts, grid.slots]) params.add(n)
  const cohortRollup =
    segments.cohort.length === 0 || grid.cohorts !== 1
      ? undefined
      : rollupFor(segments.cohort, replica.paths, params)
  const cohorts =
    segments.cohort.length === 0
      ? cohortOfUsers(COHORT_USERS)
      : cohortRollup
        ? singleCohortOfRollup(cohortRollup.users, cohortRollup.where)
        : cohortOfUsers(filteredCohortUsers(filteredEvents(segments.cohort, replica.paths, params)))
  const returnRollup =
    segments.return.length === 0 ? undefined : rollupFor(segments.return, replica.paths, params)
  const windows =
    segments.return.length === 0
      ? rollupWindows()
      : returnRollup
        ? rollupWindows(returnRollup.users, returnRollup.where)
        : filteredWindows(filteredEvents(segments.return, replica.paths, params))
  const rows = await replica.query<{
    c: number | bigint
    k: number | bigint
    users: number | null
  }>(cellsSql(cohorts, windows), params.values)
  const cell = new Map(rows.map((r) => [`${Number(r.c)}:${Number(r.k)}`, r.users ?? 0]))
  return {
    size: (c) => cell.get(`${c}:-1`) ?? 0,
    retained: (c, k) => cell.get(`${c}:${k}`) ?? 0,
  }
}

/** 100 × retained / size to one decimal, from integers so 1/8 is exactly 12.5; 0 for an empty cohort. */
export function retentionRate(retained: number, size: number): number {
  return size === 0 ? 0 : Math.round((retained * 1000) / size) / 10
}
