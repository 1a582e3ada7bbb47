import type { FieldError } from '../../src/errors.ts'
import { activeUsers } from '../../src/stats/active-users.ts'
import { funnel } from '../../src/stats/funnel.ts'
import { checkFunnel } from '../../src/stats/funnel-params.ts'
import type { Funnel } from '../../src/stats/funnel-schema.ts'
import { type LifecycleRow, lifecycle } from '../../src/stats/lifecycle.ts'
import { dayNumber } from '../../src/stats/params.ts'
import { type Stickiness, stickiness } from '../../src/stats/stickiness.ts'
import { formatStart, intervalStarts, trends } from '../../src/stats/trends.ts'
import { checkSeries, type Interval } from '../../src/stats/trends-params.ts'
import type { Trends } from '../../src/stats/trends-schema.ts'
import {
  activeUsersSql,
  funnelSql,
  lifecycleSql,
  stickinessSql,
  trendsDailySql,
  trendsWeeklySql,
} from './plain-insights-sql.ts'
import { type Dialect, DUCKDB, POSTGRES } from './plain-sql.ts'
import type { StatsQuery } from './query-set.ts'

// The insights endpoints in the bench (query-set.ts adds them to the
// realistic set), each beside plain SQL of the same question
// (plain-insights-sql.ts), compared on the figures both compute.

type Rows = Array<Record<string, unknown>>
const both = (sql: (d: Dialect) => string) => ({ postgres: sql(POSTGRES), duckdb: sql(DUCKDB) })
const n = (v: unknown) => Number(v ?? 0)
const FUNNEL = ['product_view', 'add_to_cart', 'purchase']
const WINDOW_DAYS = 14

function parsed<T>(make: (errors: FieldError[]) => T): T {
  const errors: FieldError[] = []
  const value = make(errors)
  if (errors.length > 0) throw new Error(JSON.stringify(errors))
  return value
}

export function insightsQueries(from: string, to: string): StatsQuery[] {
  const range = { from: dayNumber(from), to: dayNumber(to) }
  const q = `from=${from}&to=${to}`
  const starts = (interval: Interval) =>
    intervalStarts(range, interval).map((t) => formatStart(t, interval))
  const byStart = (rows: Rows, key: string, interval: Interval) => {
    const at = new Map(rows.map((r) => [String(r[key]), r]))
    return starts(interval).map((s) => at.get(s))
  }

  const spec = parsed((errors) => checkFunnel({ steps: FUNNEL, window: `${WINDOW_DAYS}d` }, errors))
  const funnelQuery: StatsQuery = {
    name: `funnel ${FUNNEL.length} steps 30 days`,
    path: `/stats/funnel?${q}&${FUNNEL.map((s) => `steps=${s}`).join('&')}`,
    duck: (r) => funnel(r, range, spec, []),
    plain: both((d) => funnelSql(d, FUNNEL, WINDOW_DAYS)),
    values: [from, to],
    normalize: ([row]) =>
      FUNNEL.map((_, i) => {
        const k = i + 1
        const users = n(row![`users${k}`])
        return {
          users,
          median: k === 1 || users === 0 ? null : n(row![`median${k}`]) / 1e6,
          mean: k === 1 || users === 0 ? null : n(row![`sum${k}`]) / users / 1e6,
        }
      }),
    comparable: (a) =>
      (a as Funnel).steps.map((s) => ({
        users: s.users,
        median: s.median_seconds,
        mean: s.mean_seconds,
      })),
  }

  const trendsQuery = (
    name: string,
    eventType: string | undefined,
    measure: 'count' | 'unique_users',
    interval: Interval,
  ): StatsQuery => {
    const series = parsed((errors) => checkSeries({ event_type: eventType, measure }, [], errors))
    const options = { interval, comparePrevious: false, breakdown: undefined }
    return {
      name,
      path: `/stats/trends?${q}&interval=${interval}&measure=${measure}${eventType ? `&event_type=${eventType}` : ''}`,
      duck: (r) => trends(r, range, series, options),
      plain: both((d) =>
        interval === 'week' ? trendsWeeklySql(d) : trendsDailySql(d, eventType!, measure),
      ),
      values: [from, to],
      normalize: (rows) => byStart(rows, 'start', interval).map((r) => n(r?.value)),
      comparable: (a) => (a as Trends).series[0]!.points.map((p) => p.value),
    }
  }

  const active: StatsQuery = {
    name: 'active users 30 days',
    path: `/stats/active-users?${q}`,
    duck: (r) => activeUsers(r, range, []),
    plain: both(activeUsersSql),
    values: [from, to],
    normalize: (rows) =>
      byStart(rows, 'day', 'day').map((r, i) => ({
        date: starts('day')[i],
        dau: n(r?.dau),
        wau: n(r?.wau),
        mau: n(r?.mau),
      })),
    comparable: (a) => a,
  }

  const sticky: StatsQuery = {
    name: 'stickiness page_view 30 days',
    path: `/stats/stickiness?${q}&event_type=page_view`,
    duck: (r) => stickiness(r, range, 'day', 'page_view', []),
    plain: both((d) => stickinessSql(d, 'page_view')),
    values: [from, to],
    normalize: (rows) => {
      const byK = new Map(rows.map((r) => [n(r.k), n(r.users)]))
      return starts('day').map((_, i) => byK.get(i + 1) ?? 0)
    },
    comparable: (a) => (a as Stickiness).counts.map((c) => c.users),
  }

  const life: StatsQuery = {
    name: 'lifecycle page_view 30 days',
    path: `/stats/lifecycle?${q}&event_type=page_view&interval=day`,
    duck: (r) => lifecycle(r, range, 'day', 'page_view', []),
    plain: both((d) => lifecycleSql(d, 'page_view')),
    values: [from, to],
    normalize: (rows) => {
      const sums = new Map<string, number[]>()
      for (const r of rows) {
        const s = sums.get(String(r.day)) ?? [0, 0, 0, 0]
        const add = [r.new, r.returning, r.resurrecting, r.dormant].map(n)
        sums.set(
          String(r.day),
          s.map((v, i) => v + add[i]!),
        )
      }
      return starts('day').map((s) => sums.get(s) ?? [0, 0, 0, 0])
    },
    comparable: (a) =>
      (a as LifecycleRow[]).map((r) => [r.new, r.returning, r.resurrecting, r.dormant]),
  }

  return [
    funnelQuery,
    trendsQuery('trends page_view users per day', 'page_view', 'unique_users', 'day'),
    trendsQuery('trends events per week', undefined, 'count', 'week'),
    active,
    sticky,
    life,
  ]
}
