// The stats routes the reference of ../stats does not spell out (daily
// retention, the data range, weekly cohorts), and one place that answers any
// /stats URL the project tests ask, from a project's own events alone.

import {
  addDays,
  dedupe,
  percentOneDecimal,
  type ReferenceEvent,
  referenceDau,
  referenceRetention,
  referenceTopEvents,
  utcDay,
} from '../stats/reference.ts'
import {
  type Filter,
  matchesAll,
  referenceBreakdown,
  renderFilter,
} from '../stats/reference-segment.ts'

type EventFilter = (e: ReferenceEvent) => boolean

/** GET /stats/retention?period=day: users first seen on start_date (first matching `cohort`), back on day k. */
export function referenceDailyRetention(
  events: readonly ReferenceEvent[],
  startDate: string,
  windows: number,
  filters: { cohort?: EventFilter; return?: EventFilter } = {},
) {
  const kept = dedupe(events)
  const first = new Map<string, string>()
  for (const e of kept) {
    if (filters.cohort && !filters.cohort(e)) continue
    const day = utcDay(e.occurred_at)
    const known = first.get(e.user_id)
    if (known === undefined || day < known) first.set(e.user_id, day)
  }
  const cohort = new Set([...first].filter(([, day]) => day === startDate).map(([u]) => u))
  const retention = []
  for (let k = 1; k <= windows; k++) {
    const date = addDays(startDate, k)
    const back = new Set(
      kept
        .filter((e) => cohort.has(e.user_id) && (!filters.return || filters.return(e)))
        .filter((e) => utcDay(e.occurred_at) === date)
        .map((e) => e.user_id),
    )
    retention.push({
      day: k,
      date,
      retained_users: back.size,
      retention_rate: percentOneDecimal(back.size, cohort.size),
    })
  }
  return { start_date: startDate, period: 'day', cohort_size: cohort.size, retention }
}

/** GET /stats/range: the first and last UTC day with an event. */
export function referenceRange(events: readonly ReferenceEvent[]) {
  const days = dedupe(events)
    .map((e) => utcDay(e.occurred_at))
    .sort()
  return { first_day: days[0] ?? null, last_day: days.at(-1) ?? null }
}

/** GET /stats/cohorts: each week of [from, to] a cohort, with the windows up to the range's end. */
export function referenceCohorts(
  events: readonly ReferenceEvent[],
  from: string,
  to: string,
  filters: { cohort?: EventFilter; return?: EventFilter } = {},
) {
  const weeks = Math.floor((Date.parse(to) - Date.parse(from)) / (7 * 86_400_000)) + 1
  return {
    from,
    to,
    cohorts: Array.from({ length: weeks }, (_, c) => {
      const r = referenceRetention(
        events,
        addDays(from, 7 * c),
        Math.max(1, weeks - 1 - c),
        filters,
      )
      return { ...r, retention: r.retention.slice(0, weeks - 1 - c) }
    }),
  }
}

/** One question to every /stats route, with or without a segment filter. */
export interface StatsQuery {
  route: 'dau' | 'top-events' | 'retention' | 'retention-day' | 'breakdown' | 'range' | 'cohorts'
  from: string
  /** inclusive; for retention the number of windows is `windows` */
  to: string
  windows: number
  limit: number
  /** a property path or event_type / user_id */
  by: Filter['field']
  segment: Filter[]
}

/** The URL of a query, `project=` added when given. */
export function statsUrl(q: StatsQuery, project?: string): string {
  const seg = q.segment.map((f) => `&segment=${encodeURIComponent(renderFilter(f))}`).join('')
  const p = project === undefined ? '' : `&project=${encodeURIComponent(project)}`
  switch (q.route) {
    case 'dau':
      return `/stats/dau?from=${q.from}&to=${q.to}${seg}${p}`
    case 'top-events':
      return `/stats/top-events?from=${q.from}&to=${q.to}&limit=${q.limit}${seg}${p}`
    case 'retention':
      return `/stats/retention?start_date=${q.from}&windows=${q.windows}${seg}${p}`
    case 'retention-day':
      return `/stats/retention?start_date=${q.from}&period=day&windows=${q.windows}${seg}${p}`
    case 'breakdown': {
      const by = Array.isArray(q.by) ? `properties.${q.by.join('.')}` : q.by
      return `/stats/breakdown?from=${q.from}&to=${q.to}&by=${by}&limit=${q.limit}${seg}${p}`
    }
    case 'range':
      return p ? `/stats/range?${p.slice(1)}` : '/stats/range'
    case 'cohorts':
      return `/stats/cohorts?from=${q.from}&to=${q.to}${seg}${p}`
  }
}

/** What the route answers over `events` (one project's, in the order they were posted). */
export function referenceAnswer(events: readonly ReferenceEvent[], q: StatsQuery): unknown {
  const keep = matchesAll(q.segment)
  // The stored version of each event_id is the one a filter sees: de-duplicated first.
  const kept = dedupe(events).filter(keep)
  const both = { cohort: keep, return: keep }
  switch (q.route) {
    case 'dau':
      return referenceDau(kept, q.from, q.to)
    case 'top-events':
      return referenceTopEvents(kept, q.from, q.to, q.limit)
    case 'retention':
      return referenceRetention(events, q.from, q.windows, both)
    case 'retention-day':
      return referenceDailyRetention(events, q.from, q.windows, both)
    case 'breakdown':
      return referenceBreakdown(dedupe(events), q.from, q.to, q.by, q.limit, keep)
    case 'range':
      return referenceRange(events)
    case 'cohorts':
      return referenceCohorts(events, q.from, q.to, both)
  }
}
