import type { DuckDbReplica } from '../../src/analytics/duckdb-replica.ts'
import { breakdown } from '../../src/stats/breakdown.ts'
import { weeklyCohorts } from '../../src/stats/cohorts.ts'
import { dailyActiveUsers } from '../../src/stats/dau.ts'
import { dayNumber } from '../../src/stats/params.ts'
import { dailyRetention, weeklyRetention } from '../../src/stats/retention.ts'
import type {
  Breakdown,
  Cohorts,
  DailyRetention,
  DauRow,
  TopEventRow,
  WeeklyRetention,
} from '../../src/stats/schemas.ts'
import { parseField, parseSegment, type Segment } from '../../src/stats/segment.ts'
import { topEvents } from '../../src/stats/top-events.ts'
import type { DatasetKind } from './dataset.ts'
import { insightsQueries } from './insights-queries.ts'
import { pathsQueries } from './paths-queries.ts'
import {
  breakdownSql,
  cohortsSql,
  type Dialect,
  DUCKDB,
  dauSql,
  type PlainFilter,
  POSTGRES,
  propEq,
  propGt,
  propNe,
  retentionSql,
  topSql,
} from './plain-sql.ts'
import { webQueries } from './web-queries.ts'

type Rows = Array<Record<string, unknown>>

/** One row of the table: the endpoint, the same query functions on the replica, and plain SQL on both engines. */
export interface StatsQuery {
  name: string
  path: string
  duck: (replica: DuckDbReplica) => Promise<unknown>
  plain: { postgres: string; duckdb: string }
  values: unknown[]
  /** the plain-SQL rows in a shape the endpoint's answer reduces to (comparable), to check both give the same answer */
  normalize: (rows: Rows) => unknown
  comparable: (answer: unknown) => unknown
}

/** A filter as the endpoint takes it, as the query functions take it, and as plain SQL. */
interface Filter {
  label: string
  param: string
  parsed: Segment
  plain: PlainFilter
}

function filter(label: string, text: string, plain: PlainFilter): Filter {
  const parsed = parseSegment(text)
  if (typeof parsed === 'string') throw new Error(parsed)
  return { label, param: encodeURIComponent(text), parsed, plain }
}

const shift = (day: string, n: number) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10)
const both = (sql: (d: Dialect) => string) => ({ postgres: sql(POSTGRES), duckdb: sql(DUCKDB) })
const same = (answer: unknown) => answer
const segmentParam = (f?: Filter) => (f ? `&segment=${f.param}` : '')
const labelled = (name: string, f?: Filter) => (f ? `${name}, ${f.label}` : name)

/**
 * The queries of a data set, over the days ending with `lastDay`. The friendly
 * set keeps the nine of the figures measured before issue 14; the realistic one
 * asks every endpoint, filters on a low- and a high-cardinality property, `ne`,
 * a number and a nested path, and breaks down by both kinds of property.
 */
export function statsQueries(lastDay: string, dataset: DatasetKind): StatsQuery[] {
  const last = dayNumber(lastDay)
  const from30 = shift(lastDay, -29)
  const range30 = { from: dayNumber(from30), to: last }

  const dau = (days: number, f?: Filter): StatsQuery => {
    const from = shift(lastDay, -(days - 1))
    return {
      name: labelled(`DAU ${days} days`, f),
      path: `/stats/dau?from=${from}&to=${lastDay}${segmentParam(f)}`,
      duck: (r) => dailyActiveUsers(r, { from: dayNumber(from), to: last }, f ? [f.parsed] : []),
      plain: both((d) => dauSql(d, f?.plain)),
      values: [from, lastDay],
      normalize: (rows) => {
        const byDay = new Map(rows.map((r) => [r.day as string, Number(r.users)]))
        return Array.from(
          { length: days },
          (_, i): DauRow => ({
            date: shift(from, i),
            unique_users: byDay.get(shift(from, i)) ?? 0,
          }),
        )
      },
      comparable: same,
    }
  }
  const top = (limit: number, f?: Filter): StatsQuery => ({
    name: labelled(`top events ${limit}`, f),
    path: `/stats/top-events?from=${from30}&to=${lastDay}&limit=${limit}${segmentParam(f)}`,
    duck: (r) => topEvents(r, range30, limit, f ? [f.parsed] : []),
    plain: both((d) => topSql(d, f?.plain)),
    values: [from30, lastDay, limit],
    normalize: (rows) =>
      rows.map(
        (r): TopEventRow => ({
          event_type: r.event_type as string,
          count: Number(r.count),
          unique_users: Number(r.unique_users),
        }),
      ),
    comparable: same,
  })
  // Compared on the counts; the rate is derived from them by one formula in the service.
  const retention = (
    period: 'week' | 'day',
    windows: number,
    start: string,
    f?: Filter,
  ): StatsQuery => ({
    name: labelled(`retention ${windows} ${period}s`, f),
    path: `/stats/retention?start_date=${start}&windows=${windows}${period === 'day' ? '&period=day' : ''}${segmentParam(f)}`,
    duck: (r) =>
      (period === 'day' ? dailyRetention : weeklyRetention)(
        r,
        dayNumber(start),
        windows,
        f ? { cohort: [f.parsed], return: [f.parsed] } : undefined,
      ),
    plain: both((d) => retentionSql(d, period === 'day' ? 1 : 7, f?.plain)),
    values: [start, windows],
    normalize: (rows) => {
      const byK = new Map(rows.map((r) => [Number(r.k), Number(r.users)]))
      return {
        cohort_size: byK.get(0) ?? 0,
        retained: Array.from({ length: windows }, (_, i) => byK.get(i + 1) ?? 0),
      }
    },
    comparable: (a) => {
      const r = a as WeeklyRetention | DailyRetention
      return { cohort_size: r.cohort_size, retained: r.retention.map((w) => w.retained_users) }
    },
  })
  const cohorts = (weeks: number): StatsQuery => {
    const from = shift(lastDay, -(7 * weeks - 1))
    return {
      name: `cohorts ${weeks} weeks`,
      path: `/stats/cohorts?from=${from}&to=${lastDay}`,
      duck: (r) => weeklyCohorts(r, { from: dayNumber(from), to: last }),
      plain: both(cohortsSql),
      values: [from, weeks],
      normalize: (rows) => {
        const cell = new Map(rows.map((r) => [`${Number(r.c)} ${Number(r.w)}`, Number(r.users)]))
        return Array.from({ length: weeks }, (_, c) => ({
          size: cell.get(`${c} -1`) ?? 0,
          retained: Array.from(
            { length: weeks - 1 - c },
            (_, k) => cell.get(`${c} ${c + k + 1}`) ?? 0,
          ),
        }))
      },
      comparable: (a) =>
        (a as Cohorts).cohorts.map((c) => ({
          size: c.cohort_size,
          retained: c.retention.map((w) => w.retained_users),
        })),
    }
  }
  const breakdownBy = (key: string): StatsQuery => {
    const by = `properties.${key}`
    const field = parseField(by)
    if (typeof field === 'string') throw new Error(field)
    return {
      name: `breakdown by ${key}`,
      path: `/stats/breakdown?from=${from30}&to=${lastDay}&by=${by}`,
      duck: (r) => breakdown(r, range30, { text: by, field }, 10, []),
      plain: both((d) => breakdownSql(d, key.split('.'))),
      values: [from30, lastDay],
      normalize: (rows) => {
        const one = (part: string) => rows.find((r) => r.part === part)!
        const values = rows
          .filter((r) => r.part === 'top')
          .map((r) => ({
            value: r.value,
            count: Number(r.count),
            unique_users: Number(r.unique_users),
          }))
          .sort(
            (a, b) =>
              b.count - a.count ||
              b.unique_users - a.unique_users ||
              (String(a.value) < String(b.value) ? -1 : 1),
          )
        const other = {
          values: Number(one('values').count),
          count: Number(one('other').count),
          unique_users: Number(one('other').unique_users),
        }
        return { values, other, not_set: { count: Number(one('not_set').count) } }
      },
      comparable: (a) => {
        const b = a as Breakdown
        return { values: b.values, other: b.other, not_set: b.not_set }
      },
    }
  }

  if (dataset === 'friendly') {
    const ua = filter('country=UA', 'properties.country:UA', propEq(['country'], 'UA'))
    const pro = filter('plan=pro', 'properties.plan:pro', propEq(['plan'], 'pro'))
    const start = shift(lastDay, -29)
    return [
      dau(7),
      dau(30),
      top(10),
      top(100),
      retention('week', 3, start),
      dau(30, ua),
      top(10, pro),
      retention('week', 3, start, ua),
      breakdownBy('country'),
    ]
  }
  const google = filter(
    'referrer=google',
    'properties.referrer:google',
    propEq(['referrer'], 'google'),
  )
  const pricing = filter('path=/pricing', 'properties.path:/pricing', propEq(['path'], '/pricing'))
  const notDirect = filter(
    'referrer≠direct',
    'properties.referrer:ne:direct',
    propNe(['referrer'], 'direct'),
  )
  const amount = filter('amount>100', 'properties.amount:gt:100', propGt(['amount'], 100))
  const ios = filter('device.os=iOS', 'properties.device.os:iOS', propEq(['device', 'os'], 'iOS'))
  return [
    dau(7),
    dau(30),
    top(10),
    top(100),
    retention('week', 3, shift(lastDay, -29)),
    retention('day', 7, shift(lastDay, -14)),
    cohorts(4),
    breakdownBy('country'),
    breakdownBy('path'),
    dau(30, google),
    top(10, pricing),
    dau(30, notDirect),
    top(10, amount),
    retention('week', 3, shift(lastDay, -29), ios),
    ...webQueries(from30, lastDay),
    ...insightsQueries(from30, lastDay),
    ...pathsQueries(from30, lastDay),
  ]
}
