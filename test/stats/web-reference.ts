// Web analytics written plainly, as the oracle the /stats/web endpoints are
// compared with (README, "Web analytics"):
// - the events of the range are those whose UTC day is in [from, to] and that
//   the filters keep; a visit is a user's such events, in time order, with no
//   gap over 30 minutes (exactly 30 minutes stays in the visit);
// - a page view is a page_view or a $pageview (posthog-js) event; a bounce
//   is a visit of exactly one event, a page view;
// - a visit's duration is its last event's time minus its first's;
// - a visit's entry (exit) value of a property is that of its first (last)
//   page view carrying the property as a string or number, by time and then
//   by the value's text in code point order;
// - rates round half up: bounce rate and mean duration (seconds) to one
//   decimal, page views per visit to two.
// Times here are milliseconds: the tests send none finer.
import { compareCodePoints, dedupe, type ReferenceEvent, utcDay } from './reference.ts'
import { type Filter, matchesAll } from './reference-segment.ts'

const GAP_MS = 30 * 60_000
const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

interface Kept {
  at: number
  user: string
  view: boolean
  properties: Record<string, unknown>
}

interface Visit {
  user: string
  events: Kept[]
}

function kept(
  events: readonly ReferenceEvent[],
  from: string,
  to: string,
  filters: readonly Filter[],
): Kept[] {
  const keep = matchesAll(filters)
  return dedupe(events)
    .filter((e) => {
      const day = utcDay(e.occurred_at)
      return day >= from && day <= to && keep(e)
    })
    .map((e) => ({
      at: Date.parse(e.occurred_at),
      user: e.user_id,
      view: e.event_type === 'page_view' || e.event_type === '$pageview',
      properties: e.properties ?? {},
    }))
}

/** Each user's events in time order, cut where the gap to the previous one is over 30 minutes. */
export function visitsOf(events: readonly Kept[]): Visit[] {
  const byUser = new Map<string, Kept[]>()
  for (const e of events) {
    const list = byUser.get(e.user) ?? []
    list.push(e)
    byUser.set(e.user, list)
  }
  const visits: Visit[] = []
  for (const [user, list] of byUser) {
    list.sort((a, b) => a.at - b.at)
    let current: Visit | undefined
    for (const e of list) {
      const last = current?.events.at(-1)
      if (current === undefined || e.at - last!.at > GAP_MS) {
        current = { user, events: [] }
        visits.push(current)
      }
      current.events.push(e)
    }
  }
  return visits
}

const views = (v: Visit) => v.events.filter((e) => e.view).length
const isBounce = (v: Visit) => v.events.length === 1 && v.events[0]!.view
const durationMs = (v: Visit) => v.events.at(-1)!.at - v.events[0]!.at

/** Half up to `decimals`, in integers: part / whole. */
function ratio(part: number, whole: number, decimals: number): number {
  const scale = 10 ** decimals
  return Math.floor((2 * part * scale + whole) / (2 * whole)) / scale
}

function figures(visits: Visit[]) {
  if (visits.length === 0) return { bounce_rate: 0, visit_duration: 0, views_per_visit: 0 }
  const n = visits.length
  const total = visits.reduce((s, v) => s + durationMs(v), 0)
  return {
    bounce_rate: ratio(100 * visits.filter(isBounce).length, n, 1),
    visit_duration: ratio(total, n * 1000, 1),
    views_per_visit: ratio(
      visits.reduce((s, v) => s + views(v), 0),
      n,
      2,
    ),
  }
}

export function referenceOverview(
  events: readonly ReferenceEvent[],
  from: string,
  to: string,
  interval: 'day' | 'hour',
  filters: readonly Filter[] = [],
) {
  const ks = kept(events, from, to, filters)
  const visits = visitsOf(ks)
  const step = interval === 'day' ? DAY_MS : HOUR_MS
  const start = Date.parse(`${from}T00:00:00Z`)
  const end = Date.parse(`${to}T00:00:00Z`) + DAY_MS
  const intervals = []
  for (let t = start; t < end; t += step) {
    const inIt = (at: number) => at >= t && at < t + step
    const iso = new Date(t).toISOString()
    intervals.push({
      start: interval === 'day' ? iso.slice(0, 10) : `${iso.slice(0, 19)}Z`,
      visitors: new Set(ks.filter((e) => inIt(e.at)).map((e) => e.user)).size,
      page_views: ks.filter((e) => e.view && inIt(e.at)).length,
      visits: visits.filter((v) => inIt(v.events[0]!.at)).length,
    })
  }
  const { bounce_rate, visit_duration, views_per_visit } = figures(visits)
  return {
    interval,
    totals: {
      visitors: new Set(ks.map((e) => e.user)).size,
      page_views: ks.filter((e) => e.view).length,
      visits: visits.length,
      bounces: visits.filter(isBounce).length,
      bounce_rate,
      visit_duration,
      views_per_visit,
    },
    intervals,
  }
}

/** A page view's value of a property as text, or undefined when it is not a string or a number. */
function textOf(e: Kept, property: string): string | undefined {
  const v = e.properties[property]
  if (typeof v === 'string') return v
  if (typeof v === 'number') return String(v)
  return undefined
}

const byRank = <R extends { value: string }>(
  keys: Array<(r: R) => number>,
): ((a: R, b: R) => number) => {
  return (a, b) => {
    for (const k of keys) if (k(b) !== k(a)) return k(b) - k(a)
    return compareCodePoints(a.value, b.value)
  }
}

export function referenceTopPages(
  events: readonly ReferenceEvent[],
  from: string,
  to: string,
  limit: number,
  filters: readonly Filter[] = [],
) {
  const per = new Map<string, { views: number; users: Set<string> }>()
  for (const e of kept(events, from, to, filters)) {
    const path = e.view ? textOf(e, 'path') : undefined
    if (path === undefined) continue
    const p = per.get(path) ?? { views: 0, users: new Set<string>() }
    p.views += 1
    p.users.add(e.user)
    per.set(path, p)
  }
  return [...per]
    .map(([value, p]) => ({ value, visitors: p.users.size, page_views: p.views }))
    .sort(byRank([(r) => r.page_views, (r) => r.visitors]))
    .slice(0, limit)
}

export function referenceVisitGroups(
  events: readonly ReferenceEvent[],
  from: string,
  to: string,
  property: string,
  edge: 'entry' | 'exit',
  limit: number,
  filters: readonly Filter[] = [],
) {
  const groups = new Map<string, Visit[]>()
  for (const visit of visitsOf(kept(events, from, to, filters))) {
    const carrying = visit.events
      .filter((e) => e.view && textOf(e, property) !== undefined)
      .map((e) => ({ at: e.at, value: textOf(e, property)! }))
      .sort((a, b) => a.at - b.at || compareCodePoints(a.value, b.value))
    const chosen = edge === 'entry' ? carrying[0] : carrying.at(-1)
    if (chosen === undefined) continue
    groups.set(chosen.value, [...(groups.get(chosen.value) ?? []), visit])
  }
  return [...groups]
    .map(([value, visits]) => {
      const { bounce_rate, visit_duration } = figures(visits)
      return {
        value,
        visitors: new Set(visits.map((v) => v.user)).size,
        visits: visits.length,
        page_views: visits.reduce((s, v) => s + views(v), 0),
        bounce_rate,
        visit_duration,
      }
    })
    .sort(byRank([(r) => r.visits, (r) => r.visitors]))
    .slice(0, limit)
}
