import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import type { DayRange } from './params.ts'
import type { Segment } from './segment.ts'
import { DAYS_1_2, filteredEvents, SqlParams } from './segment-sql.ts'

export interface Stickiness {
  interval: 'day' | 'week'
  intervals: number
  counts: Array<{ intervals: number; users: number }>
}

/** The Monday-based week of a day number (1970-01-01, day 0, was a Thursday). */
export const weekOf = (day: number) => Math.floor((day + 3) / 7)

// Per user, the number of distinct days (or Monday weeks) of the range with a
// matching event; then users per number. Only the range's events are read.
export async function stickiness(
  replica: DuckDbReplica,
  range: DayRange,
  interval: 'day' | 'week',
  eventType: string | undefined,
  segments: readonly Segment[],
): Promise<Stickiness> {
  const params = new SqlParams()
  params.add(range.from)
  params.add(range.to)
  const all = [...segments]
  const f = filteredEvents(all, replica.paths, params, DAYS_1_2)
  const typeWhere = eventType === undefined ? '' : `AND e.event_type = ${params.add(eventType)}`
  const slot =
    interval === 'day' ? `(e.day - DATE '1970-01-01')` : `((e.day - DATE '1970-01-01') + 3) // 7`
  const sql = `
SELECT k, count(*)::INTEGER AS users FROM (
  SELECT e.user_key, count(DISTINCT ${slot})::INTEGER AS k
  FROM ${f.from} WHERE ${DAYS_1_2('e')} AND ${f.where} ${typeWhere}
  GROUP BY e.user_key)
GROUP BY k`
  const rows = await replica.query<{ k: number; users: number }>(sql, params.values)
  const n =
    interval === 'day' ? range.to - range.from + 1 : weekOf(range.to) - weekOf(range.from) + 1
  const byK = new Map(rows.map((r) => [r.k, r.users]))
  return {
    interval,
    intervals: n,
    counts: Array.from({ length: n }, (_, i) => ({ intervals: i + 1, users: byK.get(i + 1) ?? 0 })),
  }
}
