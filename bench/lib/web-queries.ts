import type { DuckDbReplica } from '../../src/analytics/duckdb-replica.ts'
import { dayNumber } from '../../src/stats/params.ts'
import { visitFigures } from '../../src/stats/web-figures.ts'
import { topPages, visitGroups } from '../../src/stats/web-groups.ts'
import { webOverview } from '../../src/stats/web-overview.ts'
import type { WebBreakdown, WebOverview, WebPages } from '../../src/stats/web-schemas.ts'
import { type Dialect, DUCKDB, POSTGRES } from './plain-sql.ts'
import { webEntrySql, webOverviewSql, webTopPagesSql } from './plain-web-sql.ts'
import type { StatsQuery } from './query-set.ts'

// The /stats/web endpoints in the bench (query-set.ts adds them to the
// realistic set), each beside plain SQL of the same question
// (plain-web-sql.ts); the plain rows become the endpoint's shape with the same
// formulas for rates (web-figures.ts), so the answers compare exactly.

type Rows = Array<Record<string, unknown>>
const both = (sql: (d: Dialect) => string) => ({ postgres: sql(POSTGRES), duckdb: sql(DUCKDB) })
const n = (v: unknown) => Number(v)
const DAY_MS = 86_400_000

function groupRows(rows: Rows) {
  return rows.map((r) => {
    const { bounce_rate, visit_duration } = visitFigures(
      n(r.visits),
      n(r.views),
      n(r.bounces),
      BigInt(String(r.duration_us)),
    )
    return {
      value: String(r.value),
      visitors: n(r.visitors),
      visits: n(r.visits),
      page_views: n(r.views),
      bounce_rate,
      visit_duration,
    }
  })
}

export function webQueries(from: string, to: string): StatsQuery[] {
  const range = { from: dayNumber(from), to: dayNumber(to) }
  const q = `from=${from}&to=${to}`
  const overview: StatsQuery = {
    name: 'web overview 30 days',
    path: `/stats/web/overview?${q}`,
    duck: (r: DuckDbReplica) => webOverview(r, range, 'day', []),
    plain: both(webOverviewSql),
    values: [from, to],
    normalize: (rows) => {
      const total = rows.find((r) => r.part === 'total')!
      const byDay = new Map(rows.filter((r) => r.part === 'day').map((r) => [String(r.day), r]))
      const intervals = []
      for (let t = Date.parse(from); t <= Date.parse(to); t += DAY_MS) {
        const day = new Date(t).toISOString().slice(0, 10)
        const r = byDay.get(day)
        intervals.push({
          start: day,
          visitors: r ? n(r.visitors) : 0,
          page_views: r ? n(r.views) : 0,
          visits: r ? n(r.visits) : 0,
        })
      }
      const visits = n(total.visits)
      return {
        interval: 'day',
        totals: {
          visitors: n(total.visitors),
          page_views: n(total.views),
          visits,
          bounces: n(total.bounces),
          ...visitFigures(
            visits,
            n(total.views),
            n(total.bounces),
            BigInt(String(total.duration_us)),
          ),
        },
        intervals,
      } satisfies WebOverview
    },
    comparable: (a) => a,
  }
  const top: StatsQuery = {
    name: 'web top pages 10',
    path: `/stats/web/pages?${q}&kind=top&limit=10`,
    duck: (r) => topPages(r, range, 10, []),
    plain: both(webTopPagesSql),
    values: [from, to, 10],
    normalize: (rows) =>
      rows.map((r) => ({
        value: String(r.value),
        visitors: n(r.visitors),
        page_views: n(r.views),
      })),
    comparable: (a) => (a as WebPages).rows,
  }
  const entry = (property: string, name: string, path: string): StatsQuery => ({
    name,
    path: `${path}&${q}&limit=10`,
    duck: (r) => visitGroups(r, range, property, 'entry', 10, []),
    plain: both((d) => webEntrySql(d, property)),
    values: [from, to, 10],
    normalize: groupRows,
    comparable: (a) => (a as WebPages | WebBreakdown).rows,
  })
  return [
    overview,
    top,
    entry('path', 'web entry pages 10', '/stats/web/pages?kind=entry'),
    entry('referrer_host', 'web sources by referrer_host', '/stats/web/breakdown?by=referrer_host'),
  ]
}
