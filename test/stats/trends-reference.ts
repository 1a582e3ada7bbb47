// GET /stats/trends written plainly: for each interval, the events whose
// time falls in it (and in the range), and the measure over them. Intervals
// are UTC hours, days, weeks starting on Monday, or calendar months; the first
// and last are cut to [from, to]. compare=previous: point i of `previous` is
// point i's stretch of time moved back by the range's length in days, cut to
// the days just before `from`. Breakdown: values ranked by their events in
// the range (then JSON type and text, code points), top `limit`, the rest (and
// values seen only before the range) in other, events without it in not_set.
import { compareCodePoints, dedupe, type ReferenceEvent } from './reference.ts'
import { jsonType, valueAt } from './reference-segment.ts'

const DAY_MS = 86_400_000

export interface RefSeries {
  eventType?: string
  measure: string
  keep: (e: ReferenceEvent) => boolean
}

export interface RefTrendsOptions {
  interval: 'hour' | 'day' | 'week' | 'month'
  compare: boolean
  breakdown?: { path: string[]; limit: number }
}

type Point = { start: string; value: number | null; median?: number | null; p90?: number | null }

const ms = (day: string) => Date.parse(`${day}T00:00:00Z`)

function startsOf(from: string, to: string, interval: RefTrendsOptions['interval']): number[] {
  const end = ms(to) + DAY_MS
  const out: number[] = []
  let t = ms(from)
  if (interval === 'week') t -= ((new Date(t).getUTCDay() + 6) % 7) * DAY_MS
  if (interval === 'month') t = Date.UTC(new Date(t).getUTCFullYear(), new Date(t).getUTCMonth(), 1)
  while (t < end) {
    out.push(t)
    if (interval === 'hour') t += 3_600_000
    else if (interval === 'day') t += DAY_MS
    else if (interval === 'week') t += 7 * DAY_MS
    else t = Date.UTC(new Date(t).getUTCFullYear(), new Date(t).getUTCMonth() + 1, 1)
  }
  return out
}

function nextStart(t: number, interval: RefTrendsOptions['interval']): number {
  if (interval === 'hour') return t + 3_600_000
  if (interval === 'day') return t + DAY_MS
  if (interval === 'week') return t + 7 * DAY_MS
  return Date.UTC(new Date(t).getUTCFullYear(), new Date(t).getUTCMonth() + 1, 1)
}

function label(t: number, interval: RefTrendsOptions['interval']): string {
  const iso = new Date(t).toISOString()
  return interval === 'hour' ? `${iso.slice(0, 19)}Z` : iso.slice(0, 10)
}

/** DuckDB's quantile_cont: linear between the two nearest ranks. */
function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo)
}

function measure(m: string, start: string, events: ReferenceEvent[]): Point {
  if (m === 'count') return { start, value: events.length }
  const users = new Map<string, number>()
  for (const e of events) users.set(e.user_id, (users.get(e.user_id) ?? 0) + 1)
  if (m === 'unique_users') return { start, value: users.size }
  if (m === 'per_user') {
    if (users.size === 0) return { start, value: null, median: null, p90: null }
    const counts = [...users.values()].sort((a, b) => a - b)
    return {
      start,
      value: events.length / users.size,
      median: quantile(counts, 0.5),
      p90: quantile(counts, 0.9),
    }
  }
  const [agg, field] = m.split(':') as [string, string]
  const path = field.slice('properties.'.length).split('.')
  const nums = events.map((e) => valueAt(e, path)).filter((v): v is number => typeof v === 'number')
  const sum = nums.reduce((a, b) => a + b, 0)
  if (agg === 'sum') return { start, value: sum }
  if (nums.length === 0) return { start, value: null }
  if (agg === 'avg') return { start, value: sum / nums.length }
  return { start, value: agg === 'min' ? Math.min(...nums) : Math.max(...nums) }
}

export function referenceTrends(
  posted: readonly ReferenceEvent[],
  from: string,
  to: string,
  allSeries: RefSeries[],
  options: RefTrendsOptions,
): unknown {
  const starts = startsOf(from, to, options.interval)
  const lo = ms(from)
  const hi = ms(to) + DAY_MS
  const shift = hi - lo
  const events = dedupe(posted)
  const series = allSeries.map((s) => {
    const kept = events.filter(
      (e) => (s.eventType === undefined || e.event_type === s.eventType) && s.keep(e),
    )
    const lines = (subset: ReferenceEvent[]) => {
      const at = (t0: number, t1: number, a: number, b: number) =>
        subset.filter((e) => {
          const t = Date.parse(e.occurred_at)
          return t >= Math.max(t0, a) && t < Math.min(t1, b)
        })
      const points = starts.map((t) =>
        measure(
          s.measure,
          label(t, options.interval),
          at(t, nextStart(t, options.interval), lo, hi),
        ),
      )
      if (!options.compare) return { points }
      const previous = starts.map((t) =>
        measure(
          s.measure,
          label(t - shift, options.interval),
          at(t - shift, nextStart(t, options.interval) - shift, lo - shift, lo),
        ),
      )
      return { points, previous }
    }
    const out: Record<string, unknown> = {
      event_type: s.eventType ?? null,
      measure: s.measure,
      ...lines(kept),
    }
    const b = options.breakdown
    if (b) {
      const inRange = (e: ReferenceEvent) => {
        const t = Date.parse(e.occurred_at)
        return t >= lo && t < hi
      }
      const groups = new Map<string, { type: string; text: string; value: unknown; n: number }>()
      const keyOf = (e: ReferenceEvent) => {
        const v = valueAt(e, b.path)
        if (v === undefined) return undefined
        const type = jsonType(v)
        const text = typeof v === 'string' ? v : v === null ? '' : JSON.stringify(v)
        return { key: `${type}\u0000${text}`, type, text, value: v }
      }
      for (const e of kept) {
        const k = keyOf(e)
        if (!k || !inRange(e)) continue
        const g = groups.get(k.key) ?? { ...k, value: JSON.parse(JSON.stringify(k.value)), n: 0 }
        g.n += 1
        groups.set(k.key, g)
      }
      const ranked = [...groups.entries()].sort(
        ([, x], [, y]) =>
          y.n - x.n || compareCodePoints(x.type, y.type) || compareCodePoints(x.text, y.text),
      )
      const top = ranked.slice(0, b.limit)
      const topKeys = new Set(top.map(([k]) => k))
      out.breakdown = {
        by: `properties.${b.path.join('.')}`,
        values: top.map(([k, g]) => ({
          value: g.value,
          ...lines(kept.filter((e) => keyOf(e)?.key === k)),
        })),
        other: {
          values: ranked.length - top.length,
          ...lines(kept.filter((e) => keyOf(e) !== undefined && !topKeys.has(keyOf(e)!.key))),
        },
        not_set: lines(kept.filter((e) => keyOf(e) === undefined)),
      }
    }
    return out
  })
  return { interval: options.interval, from, to, series }
}
