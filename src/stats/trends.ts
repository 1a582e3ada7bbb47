import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import { jsonValue } from './breakdown.ts'
import type { DayRange } from './params.ts'
import type { Interval, Series } from './trends-params.ts'
import type { Trends, TrendsPoint, TrendsSeries } from './trends-schema.ts'
import { seriesSql, type TrendsOptions } from './trends-sql.ts'

const DAY_US = 86_400_000_000
const HOUR_US = 3_600_000_000

/** The starts (µs since 1970, UTC) of the intervals that meet [from, to]; weeks from Monday. */
export function intervalStarts(range: DayRange, interval: Interval): number[] {
  const end = (range.to + 1) * DAY_US
  const starts: number[] = []
  if (interval === 'hour' || interval === 'day') {
    const step = interval === 'hour' ? HOUR_US : DAY_US
    for (let t = range.from * DAY_US; t < end; t += step) starts.push(t)
    return starts
  }
  if (interval === 'week') {
    // 1970-01-01 was a Thursday: day d is a Monday when (d + 3) % 7 === 0
    const monday = range.from - ((((range.from + 3) % 7) + 7) % 7)
    for (let d = monday; d * DAY_US < end; d += 7) starts.push(d * DAY_US)
    return starts
  }
  const first = new Date(range.from * 86_400_000)
  for (let y = first.getUTCFullYear(), m = first.getUTCMonth(); ; m++) {
    const t = Date.UTC(y, m, 1) * 1000
    if (t >= end) break
    starts.push(t)
  }
  return starts
}

export function formatStart(us: number, interval: Interval): string {
  const iso = new Date(us / 1000).toISOString()
  return interval === 'hour' ? `${iso.slice(0, 19)}Z` : iso.slice(0, 10)
}

interface Row {
  prev: boolean
  bucket: bigint
  part: string
  grk: bigint | null
  vtype: string | null
  vtext: string | null
  events: bigint
  users: bigint
  sum?: number | null
  n?: bigint
  min?: number | null
  max?: number | null
  q0_lo?: bigint
  q0_hi?: bigint
  q1_lo?: bigint
  q1_hi?: bigint
  other_values: bigint
}

/** quantile_cont's value between the ranks around (n − 1) × q. */
function interpolate(n: number, q: number, lo: bigint, hi: bigint): number {
  const pos = (n - 1) * q
  return Number(lo) + (Number(hi) - Number(lo)) * (pos - Math.floor(pos))
}

function pointOf(series: Series, start: string, row: Row | undefined): TrendsPoint {
  const events = Number(row?.events ?? 0)
  const n = Number(row?.n ?? 0)
  switch (series.measure.kind) {
    case 'count':
      return { start, value: events }
    case 'unique_users':
      return { start, value: Number(row?.users ?? 0) }
    case 'per_user': {
      const users = Number(row?.users ?? 0)
      return users === 0
        ? { start, value: null, median: null, p90: null }
        : {
            start,
            value: events / users,
            median: interpolate(users, 0.5, row!.q0_lo!, row!.q0_hi!),
            p90: interpolate(users, 0.9, row!.q1_lo!, row!.q1_hi!),
          }
    }
    case 'sum':
      return { start, value: n === 0 ? 0 : row!.sum! }
    case 'avg':
      return { start, value: n === 0 ? null : row!.sum! / n }
    default:
      return { start, value: n === 0 ? null : row![series.measure.kind]! }
  }
}

export async function trends(
  replica: DuckDbReplica,
  range: DayRange,
  allSeries: readonly Series[],
  options: TrendsOptions & { breakdownText?: string },
): Promise<Trends> {
  const starts = intervalStarts(range, options.interval)
  const shiftUs = (range.to - range.from + 1) * DAY_US
  const out: TrendsSeries[] = []
  for (const series of allSeries) {
    const { sql, values } = seriesSql(series, range, options, replica.paths)
    const rows = await replica.query<Row>(sql, values)
    const byKey = new Map(rows.map((r) => [`${r.prev}|${r.part}|${r.grk}|${r.bucket}`, r]))
    const pointsOf = (part: string, grk: bigint | null, prev: boolean) =>
      starts.map((t) =>
        pointOf(
          series,
          formatStart(prev ? t - shiftUs : t, options.interval),
          byKey.get(`${prev}|${part}|${grk}|${t}`),
        ),
      )
    const lines = (part: string, grk: bigint | null) => ({
      points: pointsOf(part, grk, false),
      ...(options.comparePrevious ? { previous: pointsOf(part, grk, true) } : {}),
    })
    const result: TrendsSeries = {
      event_type: series.eventType ?? null,
      measure: series.measureText,
      ...lines('all', null),
    }
    if (options.breakdown) {
      const top = new Map<bigint, Row>()
      for (const r of rows) if (r.part === 'top' && r.grk !== null) top.set(r.grk, r)
      const ranked = [...top.entries()].sort((a, b) => Number(a[0] - b[0]))
      result.breakdown = {
        by: options.breakdownText!,
        values: ranked.map(([grk, r]) => ({
          value: jsonValue(r.vtype!, r.vtext!),
          ...lines('top', grk),
        })),
        other: { values: Number(rows[0]?.other_values ?? 0), ...lines('other', null) },
        not_set: lines('not_set', null),
      }
    }
    out.push(result)
  }
  return {
    interval: options.interval,
    from: formatStart(range.from * DAY_US, 'day'),
    to: formatStart(range.to * DAY_US, 'day'),
    series: out,
  }
}
