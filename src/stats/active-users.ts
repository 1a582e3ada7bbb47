import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import { blockOf, usersBitmap } from '../analytics/replica-schema.ts'
import { type DayRange, formatDay } from './params.ts'
import type { Segment } from './segment.ts'
import { DAYS_1_2, filteredEvents, rollupFor, SqlParams } from './segment-sql.ts'

export interface ActiveUsersRow {
  date: string
  dau: number
  wau: number
  mau: number
}

/** The windows, in days, each ending on the day it is reported for. */
const WINDOWS = [1, 7, 30]

// Each day's users as bitmaps per block (day, block, users), for the 29 days
// before the range too, so a window reaching back counts those users: from
// day_users without filters, from the rollups a filter can use, else from
// the matching events (as dau.ts does). A window is then the OR of its days'
// bitmaps, per block, counted: at most 30 bitmaps per day, block and window,
// whatever the number of events.
function dailySql(segments: readonly Segment[], replica: DuckDbReplica, params: SqlParams): string {
  if (segments.length === 0)
    return `SELECT day, block, users FROM day_users e WHERE ${DAYS_1_2('e')}`
  const rollup = rollupFor(segments, replica.paths, params)
  if (rollup)
    return `SELECT e.day, e.block, bit_or(e.users) AS users FROM ${rollup.users} e WHERE ${DAYS_1_2('e')} AND ${rollup.where} GROUP BY ALL`
  const f = filteredEvents(segments, replica.paths, params, DAYS_1_2)
  return `SELECT e.day, ${blockOf('e.user_key')} AS block, ${usersBitmap('e.user_key')} AS users
  FROM ${f.from} WHERE ${DAYS_1_2('e')} AND ${f.where} GROUP BY ALL`
}

export async function activeUsers(
  replica: DuckDbReplica,
  range: DayRange,
  segments: readonly Segment[],
): Promise<ActiveUsersRow[]> {
  const params = new SqlParams()
  params.add(range.from - 29)
  params.add(range.to)
  const from = params.add(range.from)
  const daily = dailySql(segments, replica, params)
  const sql = `
WITH daily AS MATERIALIZED (SELECT (day - DATE '1970-01-01')::INTEGER AS d, block, users FROM (${daily})),
days AS (SELECT range::INTEGER AS d FROM range(${from}::INTEGER, $2::INTEGER + 1)),
windows AS (SELECT unnest([${WINDOWS.join(', ')}]) AS w)
SELECT d, w, sum(bit_count(users))::INTEGER AS users FROM (
  SELECT days.d, windows.w, x.block, bit_or(x.users) AS users
  FROM days CROSS JOIN windows JOIN daily x ON x.d BETWEEN days.d - windows.w + 1 AND days.d
  GROUP BY ALL)
GROUP BY d, w`
  const rows = await replica.query<{ d: number; w: number; users: number }>(sql, params.values)
  const at = new Map(rows.map((r) => [`${r.d}/${r.w}`, r.users]))
  const out: ActiveUsersRow[] = []
  for (let d = range.from; d <= range.to; d++)
    out.push({
      date: formatDay(d),
      dau: at.get(`${d}/1`) ?? 0,
      wau: at.get(`${d}/7`) ?? 0,
      mau: at.get(`${d}/30`) ?? 0,
    })
  return out
}
