import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import { cohortCells, NO_SEGMENTS, type RetentionSegments, retentionRate } from './cohort-cells.ts'
import { type DayRange, formatDay } from './params.ts'
import type { Cohorts, WeeklyRetention } from './schemas.ts'

// Every weekly cohort of a range at once, as a triangle: cohort c starts on
// from + 7c (for each c whose start lies in the range) and is the users whose
// first event ever falls in its week, exactly as /stats/retention defines it;
// its week k counts those users active in [start + 7k, start + 7(k+1)). Weeks
// are numbered from `from` (w = (day - from) // 7), so cohort c's week k is
// range week c + k, and only weeks up to the range's last one are asked for.
// One query (cohort-cells.ts) instead of one /stats/retention call per cohort.
// segment=, cohort_segment= and return_segment= mean what they mean there.
/** One cohort per week starting in the range; cohort c has weeks 1..(n-1-c) of the n range weeks. */
export async function weeklyCohorts(
  replica: DuckDbReplica,
  range: DayRange,
  segments: RetentionSegments = NO_SEGMENTS,
): Promise<Cohorts> {
  const weeks = Math.floor((range.to - range.from) / 7) + 1
  const cells = await cohortCells(
    replica,
    { start: range.from, period: 7, cohorts: weeks, slots: weeks },
    segments,
  )
  const cohorts: WeeklyRetention[] = []
  for (let c = 0; c < weeks; c++) {
    const start = range.from + 7 * c
    const size = cells.size(c)
    const retention = []
    for (let k = 1; c + k < weeks; k++) {
      const retained = cells.retained(c, k)
      retention.push({
        week: k,
        week_start: formatDay(start + 7 * k),
        retained_users: retained,
        retention_rate: retentionRate(retained, size),
      })
    }
    cohorts.push({ start_date: formatDay(start), cohort_size: size, retention })
  }
  return { from: formatDay(range.from), to: formatDay(range.to), cohorts }
}
