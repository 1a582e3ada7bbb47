import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import { cohortCells, NO_SEGMENTS, retentionRate } from './cohort-cells.ts'
import { formatDay } from './params.ts'
import type { DailyRetention, WeeklyRetention } from './schemas.ts'

/**
 * One cohort (users first seen in [start, start + period), or first matching
 * the cohort filter) and its windows 1..n: a grid of one row. Returns its
 * size and, per window, the users retained and the rate.
 */
async function cohortWindows(
  replica: DuckDbReplica,
  startDay: number,
  windows: number,
  periodDays: number,
  segments = NO_SEGMENTS,
) {
  const cells = await cohortCells(
    replica,
    { start: startDay, period: periodDays, cohorts: 1, slots: windows + 1 },
    segments,
  )
  const cohortSize = cells.size(0)
  const out = []
  for (let k = 1; k <= windows; k++) {
    const retained = cells.retained(0, k)
    out.push({
      k,
      start: formatDay(startDay + periodDays * k),
      retained,
      rate: retentionRate(retained, cohortSize),
    })
  }
  return { cohortSize, windows: out }
}

export async function weeklyRetention(
  replica: DuckDbReplica,
  startDay: number,
  windows: number,
  segments = NO_SEGMENTS,
): Promise<WeeklyRetention> {
  const r = await cohortWindows(replica, startDay, windows, 7, segments)
  return {
    start_date: formatDay(startDay),
    cohort_size: r.cohortSize,
    retention: r.windows.map((w) => ({
      week: w.k,
      week_start: w.start,
      retained_users: w.retained,
      retention_rate: w.rate,
    })),
  }
}

/** Users first seen on start_date; window k is day start_date + k. */
export async function dailyRetention(
  replica: DuckDbReplica,
  startDay: number,
  windows: number,
  segments = NO_SEGMENTS,
): Promise<DailyRetention> {
  const r = await cohortWindows(replica, startDay, windows, 1, segments)
  return {
    start_date: formatDay(startDay),
    period: 'day',
    cohort_size: r.cohortSize,
    retention: r.windows.map((w) => ({
      day: w.k,
      date: w.start,
      retained_users: w.retained,
      retention_rate: w.rate,
    })),
  }
}
