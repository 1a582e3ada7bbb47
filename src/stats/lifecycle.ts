import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import type { DayRange } from './params.ts'
import type { Segment } from './segment.ts'
import { DAYS_1_2, filteredEvents, rollupFor, SqlParams } from './segment-sql.ts'
import { formatStart, intervalStarts } from './trends.ts'

export type LifecycleInterval = 'day' | 'week' | 'month'

export interface LifecycleRow {
  start: string
  new: number
  returning: number
  resurrecting: number
  dormant: number
}

const DAY_US = 86_400_000_000

// Intervals are numbered so the one before is always n − 1: days since 1970,
// Monday weeks since 1970 (day 0 was a Thursday, so +3), months since year 0.
function indexSql(interval: LifecycleInterval, day: string): string {
  if (interval === 'day') return `(${day} - DATE '1970-01-01')`
  if (interval === 'week') return `((${day} - DATE '1970-01-01') + 3) // 7`
  return `(year(${day}) * 12 + month(${day}) - 1)`
}

function indexOf(interval: LifecycleInterval, us: number): number {
  const day = Math.floor(us / DAY_US)
  if (interval === 'day') return day
  if (interval === 'week') return Math.floor((day + 3) / 7)
  const d = new Date(us / 1000)
  return d.getUTCFullYear() * 12 + d.getUTCMonth()
}

/**
 * The intervals meeting [from, to], each whole (a week or month is not cut
 * to the range: "the previous interval" must be one too). Per interval, of
 * the users with a matching event: new (their first matching event ever is
 * in it), returning (also active in the interval before), resurrecting (not
 * active in the one before, but earlier); dormant: active in the interval
 * before, not in this one, as a negative number.
 */
export async function lifecycle(
  replica: DuckDbReplica,
  range: DayRange,
  interval: LifecycleInterval,
  eventType: string | undefined,
  segments: readonly Segment[],
): Promise<LifecycleRow[]> {
  const starts = intervalStarts(range, interval)
  const first = indexOf(interval, starts[0]!)
  const last = indexOf(interval, starts[starts.length - 1]!)
  // The days read: from the interval before the first to the end of the last.
  const firstDay = Math.floor(starts[0]! / DAY_US)
  const days = {
    from: firstDay - (interval === 'day' ? 1 : interval === 'week' ? 7 : 31),
    to: interval === 'month' ? range.to + 31 : range.to + 6,
  }
  const idx = indexSql(interval, 'e.day')
  const query = { eventType, segments, replica, days, idx, first, last }
  const { sql, values } = rollupSql(query) ?? eventsSql(query)
  const rows = await replica.query<{ i: number; kind: string; users: number }>(sql, values)
  const at = new Map(rows.map((r) => [`${r.i}/${r.kind}`, r.users]))
  return starts.map((t) => {
    const i = indexOf(interval, t)
    return {
      start: formatStart(t, interval),
      new: at.get(`${i}/new`) ?? 0,
      returning: at.get(`${i}/returning`) ?? 0,
      resurrecting: at.get(`${i}/resurrecting`) ?? 0,
      dormant: -(at.get(`${i}/dormant`) ?? 0),
    }
  })
}

/** What both ways of counting need: the days read, the interval index's SQL, the first and last interval. */
interface LifecycleQuery {
  eventType: string | undefined
  segments: readonly Segment[]
  replica: DuckDbReplica
  days: DayRange
  idx: string
  first: number
  last: number
}

/**
 * The same figures from the daily user bitmaps (day_type_users, or a rolled-up
 * property's), when the filters are ones they answer: per interval and block,
 * A = who was active, B = who was active in any interval before (a running
 * bit_or), P = who was active in the one before; new = A & ~B, returning =
 * A & P, resurrecting the rest of A, dormant = P & ~A. Exact, no event read.
 */
function rollupSql({
  eventType,
  segments,
  replica,
  days,
  idx,
  first,
  last,
}: LifecycleQuery): { sql: string; values: SqlParams['values'] } | undefined {
  // every day up to the last: B needs all of the history before the range
  const params = new SqlParams()
  params.add(days.to)
  const all: Segment[] = [...segments]
  if (eventType !== undefined)
    all.push({ text: 'event_type', field: { kind: 'event_type' }, op: 'eq', values: [eventType] })
  const rollup =
    all.length === 0
      ? { users: 'day_type_users', where: 'TRUE' }
      : rollupFor(all, replica.paths, params)
  if (!rollup) return undefined
  const lo = params.add(first - 1)
  const hi = params.add(last)
  const sql = `
WITH daily AS MATERIALIZED (
  SELECT ${idx} AS i, e.block, bit_or(e.users) AS users FROM ${rollup.users} e
  WHERE e.day <= DATE '1970-01-01' + $1::INTEGER AND ${rollup.where} GROUP BY ALL),
ranked AS (
  SELECT *, bit_or(users) OVER (PARTITION BY block ORDER BY i ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
  FROM daily),
now AS (
  SELECT a.i, bit_count(a.users) AS active,
         CASE WHEN a.before IS NULL THEN bit_count(a.users) ELSE bit_count(a.users & ~a.before) END AS fresh,
         CASE WHEN p.users IS NULL THEN 0 ELSE bit_count(a.users & p.users) END AS kept
  FROM ranked a LEFT JOIN daily p ON p.block = a.block AND p.i = a.i - 1
  WHERE a.i BETWEEN ${lo} + 1 AND ${hi}),
gone AS (
  SELECT p.i + 1 AS i, CASE WHEN a.users IS NULL THEN bit_count(p.users) ELSE bit_count(p.users & ~a.users) END AS dormant
  FROM daily p LEFT JOIN daily a ON a.block = p.block AND a.i = p.i + 1
  WHERE p.i BETWEEN ${lo} AND ${hi} - 1)
SELECT i, 'new' AS kind, sum(fresh)::INTEGER AS users FROM now GROUP BY i
UNION ALL SELECT i, 'returning', sum(kept)::INTEGER FROM now GROUP BY i
UNION ALL SELECT i, 'resurrecting', sum(active - fresh - kept)::INTEGER FROM now GROUP BY i
UNION ALL SELECT i, 'dormant', sum(dormant)::INTEGER FROM gone GROUP BY i`
  return { sql, values: params.values }
}

/** Per interval and kind, users, from the events the filters keep (any filters). */
function eventsSql({ eventType, segments, replica, days, idx, first, last }: LifecycleQuery): {
  sql: string
  values: SqlParams['values']
} {
  const params = new SqlParams()
  params.add(days.from)
  params.add(days.to)
  const typeWhere = eventType === undefined ? '' : `AND e.event_type = ${params.add(eventType)}`
  const inDays = filteredEvents(segments, replica.paths, params, DAYS_1_2)
  const ever = filteredEvents(segments, replica.paths, params)
  const lo = params.add(first - 1)
  const hi = params.add(last)
  const sql = `
WITH act AS MATERIALIZED (
  SELECT DISTINCT e.user_key, ${idx} AS i FROM ${inDays.from}
  WHERE ${DAYS_1_2('e')} AND ${inDays.where} ${typeWhere} AND ${idx} BETWEEN ${lo} AND ${hi}),
firsts AS (
  SELECT e.user_key, min(${idx}) AS fi FROM ${ever.from}
  WHERE ${ever.where} ${typeWhere} AND e.user_key IN (SELECT user_key FROM act)
  GROUP BY e.user_key),
now AS (
  SELECT a.i, CASE WHEN f.fi = a.i THEN 'new' WHEN p.user_key IS NOT NULL THEN 'returning' ELSE 'resurrecting' END AS kind
  FROM act a JOIN firsts f USING (user_key)
  LEFT JOIN act p ON p.user_key = a.user_key AND p.i = a.i - 1
  WHERE a.i >= ${lo} + 1),
gone AS (
  SELECT p.i + 1 AS i, 'dormant' AS kind FROM act p
  LEFT JOIN act a ON a.user_key = p.user_key AND a.i = p.i + 1
  WHERE a.user_key IS NULL AND p.i < ${hi})
SELECT i, kind, count(*)::INTEGER AS users FROM (SELECT * FROM now UNION ALL SELECT * FROM gone) GROUP BY i, kind`
  return { sql, values: params.values }
}
