import type { DuckDbReplica } from '../../src/analytics/duckdb-replica.ts'
import { breakdown } from '../../src/stats/breakdown.ts'
import { dailyActiveUsers } from '../../src/stats/dau.ts'
import { dayNumber } from '../../src/stats/params.ts'
import { weeklyRetention } from '../../src/stats/retention.ts'
import type { DauRow, TopEventRow } from '../../src/stats/schemas.ts'
import { parseSegment, type Segment } from '../../src/stats/segment.ts'
import { topEvents } from '../../src/stats/top-events.ts'
import type { Engine } from './engine.ts'
import { getJson } from './http.ts'
import { type Percentiles, timeRuns } from './stats.ts'

// The reference service's table, then the same with filters and a breakdown: each /stats endpoint, timed over HTTP, beside
// the same query functions run directly on the DuckDB replica (no HTTP, no
// JSON), and beside plain SQL a developer would write against PostgreSQL.

const HTTP_WARMUP = 5
const PG_WARMUP = 1

/** One row of the table; `sql` answers the same question on the events table, in UTC days like the service. */
export interface StatsQuery {
  name: string
  path: string
  duck: (replica: DuckDbReplica) => Promise<unknown>
  sql: string
  values: unknown[]
  /** the plain-SQL rows in the endpoint's shape, to check both give the same answer */
  normalize: (rows: Array<Record<string, unknown>>) => unknown
}

export interface QueryTiming {
  name: string
  path: string
  http: Percentiles
  duckdb: Percentiles
  postgres: Percentiles
  /** the endpoint's answer equals the plain-SQL one */
  sameAnswer: boolean
}

const utc = (param: string) => `(${param})::timestamp AT TIME ZONE 'UTC'`
// `filter` is a fixed condition of the benchmark's own (a property test), never input.
const pgDau = (filter = 'TRUE') => `
  SELECT (occurred_at AT TIME ZONE 'UTC')::date::text AS day, count(DISTINCT user_id)::int AS users
  FROM events WHERE occurred_at >= ${utc('$1::date')} AND occurred_at < ${utc('$2::date + 1')} AND ${filter}
  GROUP BY 1 ORDER BY 1`
// COLLATE "C": ties on count are broken by byte order, as DuckDB does.
const pgTop = (filter = 'TRUE') => `
  SELECT event_type, count(*)::int AS count, count(DISTINCT user_id)::int AS unique_users
  FROM events WHERE occurred_at >= ${utc('$1::date')} AND occurred_at < ${utc('$2::date + 1')} AND ${filter}
  GROUP BY 1 ORDER BY count(*) DESC, event_type COLLATE "C" LIMIT $3`
const pgRetention = (filter = 'TRUE') => `
  WITH firsts AS (SELECT user_id, min(occurred_at AT TIME ZONE 'UTC')::date AS first_day FROM events WHERE ${filter} GROUP BY user_id),
  cohort AS (SELECT user_id FROM firsts WHERE first_day >= $1::date AND first_day < $1::date + 7)
  SELECT 0 AS week, count(*)::int AS users FROM cohort
  UNION ALL
  SELECT ((e.occurred_at AT TIME ZONE 'UTC')::date - $1::date) / 7 AS week, count(DISTINCT e.user_id)::int
  FROM events e JOIN cohort c USING (user_id)
  WHERE e.occurred_at >= ${utc('$1::date + 7')} AND e.occurred_at < ${utc('$1::date + 7 * ($2::int + 1)')} AND ${filter}
  GROUP BY 1`
const PG_BREAKDOWN = `
  SELECT (properties->>'country') COLLATE "C" AS value, count(*)::int AS count, count(DISTINCT user_id)::int AS unique_users
  FROM events WHERE occurred_at >= ${utc('$1::date')} AND occurred_at < ${utc('$2::date + 1')} AND properties ? 'country'
  GROUP BY 1 ORDER BY 2 DESC, 3 DESC, 1 LIMIT 10`

const shift = (day: string, n: number) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10)

/** The five queries of the reference table and four filtered ones, over the days ending with `lastDay`. */
export function statsQueries(lastDay: string): StatsQuery[] {
  const last = dayNumber(lastDay)
  const dau = (days: number, segment?: Filter): StatsQuery => {
    const from = shift(lastDay, -(days - 1))
    return {
      name: `DAU ${days} days${segment ? `, ${segment.label}` : ''}`,
      path: `/stats/dau?from=${from}&to=${lastDay}${segment ? `&segment=${segment.param}` : ''}`,
      duck: (r) =>
        dailyActiveUsers(r, { from: dayNumber(from), to: last }, segment ? [segment.parsed] : []),
      sql: pgDau(segment?.pg),
      values: [from, lastDay],
      normalize: (rows) => {
        const byDay = new Map(rows.map((r) => [r.day as string, Number(r.users)]))
        return Array.from({ length: days }, (_, i): DauRow => {
          const date = shift(from, i)
          return { date, unique_users: byDay.get(date) ?? 0 }
        })
      },
    }
  }
  const top = (limit: number, segment?: Filter): StatsQuery => {
    const from = shift(lastDay, -29)
    return {
      name: `top events ${limit}${segment ? `, ${segment.label}` : ''}`,
      path: `/stats/top-events?from=${from}&to=${lastDay}&limit=${limit}${segment ? `&segment=${segment.param}` : ''}`,
      duck: (r) =>
        topEvents(r, { from: dayNumber(from), to: last }, limit, segment ? [segment.parsed] : []),
      sql: pgTop(segment?.pg),
      values: [from, lastDay, limit],
      normalize: (rows) =>
        rows.map(
          (r): TopEventRow => ({
            event_type: r.event_type as string,
            count: Number(r.count),
            unique_users: Number(r.unique_users),
          }),
        ),
    }
  }
  const start = shift(lastDay, -29)
  const retention = (segment?: Filter): StatsQuery => ({
    name: `retention 3 weeks${segment ? `, ${segment.label}` : ''}`,
    path: `/stats/retention?start_date=${start}&windows=3${segment ? `&segment=${segment.param}` : ''}`,
    duck: (r) =>
      weeklyRetention(
        r,
        dayNumber(start),
        3,
        segment ? { cohort: [segment.parsed], return: [segment.parsed] } : undefined,
      ),
    sql: pgRetention(segment?.pg),
    values: [start, 3],
    // Compared on the counts; the rate is derived from them by one formula in the service.
    normalize: (rows) => {
      const byWeek = new Map(rows.map((r) => [Number(r.week), Number(r.users)]))
      return { cohort_size: byWeek.get(0) ?? 0, retained: [1, 2, 3].map((w) => byWeek.get(w) ?? 0) }
    },
  })
  const from30 = shift(lastDay, -29)
  const byCountry: StatsQuery = {
    name: 'breakdown by country',
    path: `/stats/breakdown?from=${from30}&to=${lastDay}&by=properties.country`,
    duck: (r) =>
      breakdown(
        r,
        { from: dayNumber(from30), to: last },
        { text: 'properties.country', field: { kind: 'property', path: ['country'] } },
        10,
        [],
      ),
    sql: PG_BREAKDOWN,
    values: [from30, lastDay],
    normalize: (rows) =>
      rows.map((r) => ({
        value: r.value,
        count: Number(r.count),
        unique_users: Number(r.unique_users),
      })),
  }
  const ua = filter('country=UA', 'properties.country:UA', `properties->>'country' = 'UA'`)
  const pro = filter('plan=pro', 'properties.plan:pro', `properties->>'plan' = 'pro'`)
  return [
    dau(7),
    dau(30),
    top(10),
    top(100),
    retention(),
    dau(30, ua),
    top(10, pro),
    retention(ua),
    byCountry,
  ]
}

/** A filter as the endpoint takes it, as the query functions take it, and as plain SQL on PostgreSQL. */
interface Filter {
  label: string
  param: string
  parsed: Segment
  pg: string
}

function filter(label: string, text: string, pg: string): Filter {
  const parsed = parseSegment(text)
  if (typeof parsed === 'string') throw new Error(parsed)
  return { label, param: encodeURIComponent(text), parsed, pg }
}

/** Reduces an endpoint answer to what normalize() gives for the same query. */
function comparable(name: string, answer: unknown): unknown {
  if (name.startsWith('breakdown')) return (answer as Awaited<ReturnType<typeof breakdown>>).values
  if (!name.startsWith('retention')) return answer
  const r = answer as Awaited<ReturnType<typeof weeklyRetention>>
  return { cohort_size: r.cohort_size, retained: r.retention.map((w) => w.retained_users) }
}

/** Every query over HTTP; the last answer of each is kept to compare with PostgreSQL's. */
export async function timeHttp(
  baseUrl: string,
  queries: readonly StatsQuery[],
  runs: number,
): Promise<Array<{ http: Percentiles; answer: unknown }>> {
  const out = []
  for (const q of queries) {
    let answer: unknown
    const http = await timeRuns(
      runs,
      HTTP_WARMUP,
      async () => (answer = await getJson(baseUrl, q.path)),
    )
    out.push({ http, answer })
  }
  return out
}

export async function timeDuckDb(
  replica: DuckDbReplica,
  queries: readonly StatsQuery[],
  runs: number,
): Promise<Percentiles[]> {
  const out = []
  for (const q of queries) out.push(await timeRuns(runs, HTTP_WARMUP, () => q.duck(replica)))
  return out
}

export async function timePostgres(
  engine: Engine,
  queries: readonly StatsQuery[],
  runs: number,
  httpAnswers: readonly unknown[],
  onQuery: (name: string, p: Percentiles) => void,
): Promise<Array<{ postgres: Percentiles; sameAnswer: boolean }>> {
  // Fresh rows may not have been analysed by autovacuum yet; without statistics
  // the planner picks nested loops that make retention take a minute at 100k
  // events. A production table would have them, so the comparison gets them too.
  await engine.query('ANALYZE events')
  const out = []
  for (const [i, q] of queries.entries()) {
    let rows: Array<Record<string, unknown>> = []
    const postgres = await timeRuns(
      runs,
      PG_WARMUP,
      async () => (rows = await engine.query(q.sql, q.values)),
    )
    onQuery(q.name, postgres)
    const sameAnswer =
      JSON.stringify(comparable(q.name, httpAnswers[i])) === JSON.stringify(q.normalize(rows))
    out.push({ postgres, sameAnswer })
  }
  return out
}
