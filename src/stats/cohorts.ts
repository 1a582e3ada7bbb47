import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import { BLOCK_BITS } from '../analytics/replica-schema.ts'
import { formatDay, type DayRange } from './params.ts'
import { NO_SEGMENTS, retentionRate, type RetentionSegments, type WeeklyRetention } from './retention.ts'
import { filteredEvents, rollupFor, SqlParams, type FilteredEvents } from './segment-sql.ts'

// Every weekly cohort of a range at once, as a triangle: cohort c starts on
// from + 7c (for each c whose start lies in the range) and is the users whose
// first event ever falls in its week, exactly as /stats/retention defines it;
// its week k counts those users active in [start + 7k, start + 7(k+1)). Weeks
// are numbered from `from` (w = (day - from) // 7), so cohort c's week k is
// range week c + k, and only weeks up to the range's last one are asked for.
// One query instead of one /stats/retention call per cohort: each cohort and
// each range week becomes one bitmap per block of user keys, and a cell is the
// bits the two share. The cost depends on weeks and blocks, not events.
// segment=, cohort_segment= and return_segment= mean what they mean there.
const COHORT_USERS = `
  SELECT first_day, user_key FROM users
  WHERE first_day >= DATE '1970-01-01' + $1::INTEGER AND first_day < DATE '1970-01-01' + $1::INTEGER + 7 * $2::INTEGER`

// Each week's users from a table of daily user bitmaps (alias e), narrowed by `where`.
const rollupWeeks = (table = 'day_users', where = 'TRUE') => `
  SELECT ((e.day - DATE '1970-01-01') - $1::INTEGER) // 7 AS w, e.block, bit_or(e.users) AS users
  FROM ${table} e
  WHERE e.day >= DATE '1970-01-01' + $1::INTEGER + 7 AND e.day < DATE '1970-01-01' + $1::INTEGER + 7 * $2::INTEGER AND ${where}
  GROUP BY 1, 2`

// With filters, as in retention.ts: a user's first day is that of their first
// matching event, and a week's users those with a matching event in it (from
// the rollups when they can answer the filter: rollupWeeks over their users table).
const filteredCohortUsers = (f: FilteredEvents) => `
  SELECT min(e.day) AS first_day, e.user_key FROM ${f.from}
  WHERE e.day < DATE '1970-01-01' + $1::INTEGER + 7 * $2::INTEGER AND ${f.where}
  GROUP BY e.user_key
  HAVING min(e.day) >= DATE '1970-01-01' + $1::INTEGER`

const filteredWeeks = (f: FilteredEvents) => `
  SELECT ((e.day - DATE '1970-01-01') - $1::INTEGER) // 7 AS w,
         e.user_key // ${BLOCK_BITS} AS block, bitstring_agg(e.user_key % ${BLOCK_BITS}, 0, ${BLOCK_BITS - 1}) AS users
  FROM ${f.from}
  WHERE e.day >= DATE '1970-01-01' + $1::INTEGER + 7 AND e.day < DATE '1970-01-01' + $1::INTEGER + 7 * $2::INTEGER AND ${f.where}
  GROUP BY 1, 2`

const cohortsSql = (cohortUsers: string, weeks: string) => `
WITH cohorts AS (
  SELECT ((first_day - DATE '1970-01-01') - $1::INTEGER) // 7 AS c,
         user_key // ${BLOCK_BITS} AS block, bitstring_agg(user_key % ${BLOCK_BITS}, 0, ${BLOCK_BITS - 1}) AS users
  FROM (${cohortUsers}) cohort_users
  GROUP BY 1, 2
), weeks AS (${weeks})
SELECT c, -1 AS k, sum(bit_count(users))::INTEGER AS users FROM cohorts GROUP BY c
UNION ALL
SELECT c.c, w.w - c.c AS k, sum(bit_count(w.users & c.users))::INTEGER AS users
FROM weeks w JOIN cohorts c ON w.block = c.block AND w.w > c.c
GROUP BY 1, 2`

export interface Cohorts {
  from: string
  to: string
  cohorts: WeeklyRetention[]
}

/** One cohort per week starting in the range; cohort c has weeks 1..(n-1-c) of the n range weeks. */
export async function weeklyCohorts(replica: DuckDbReplica, range: DayRange, segments: RetentionSegments = NO_SEGMENTS): Promise<Cohorts> {
  const weeks = Math.floor((range.to - range.from) / 7) + 1
  const params = new SqlParams()
  params.add(range.from)
  params.add(weeks)
  const cohortUsers = segments.cohort.length === 0 ? COHORT_USERS : filteredCohortUsers(filteredEvents(segments.cohort, replica.paths, params))
  const returnRollup = segments.return.length === 0 ? undefined : rollupFor(segments.return, replica.paths, params)
  const weekUsers =
    segments.return.length === 0 ? rollupWeeks()
    : returnRollup ? rollupWeeks(returnRollup.users, returnRollup.where)
    : filteredWeeks(filteredEvents(segments.return, replica.paths, params))
  const rows = await replica.query<{ c: number | bigint; k: number | bigint; users: number | null }>(cohortsSql(cohortUsers, weekUsers), params.values)
  const cell = new Map(rows.map((r) => [`${Number(r.c)}:${Number(r.k)}`, r.users ?? 0]))
  const cohorts: WeeklyRetention[] = []
  for (let c = 0; c < weeks; c++) {
    const start = range.from + 7 * c
    const size = cell.get(`${c}:-1`) ?? 0
    const retention = []
    for (let k = 1; c + k < weeks; k++) {
      const retained = cell.get(`${c}:${k}`) ?? 0
      retention.push({ week: k, week_start: formatDay(start + 7 * k), retained_users: retained, retention_rate: retentionRate(retained, size) })
    }
    cohorts.push({ start_date: formatDay(start), cohort_size: size, retention })
  }
  return { from: formatDay(range.from), to: formatDay(range.to), cohorts }
}
