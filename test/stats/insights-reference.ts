// Active users, stickiness and lifecycle written plainly, as the oracle the
// endpoints are compared with: sets of user ids per UTC day, Monday week or
// calendar month, from the events a filter keeps (already de-duplicated by
// the caller or here).
import { addDays, daysBetween, dedupe, type ReferenceEvent, utcDay } from './reference.ts'

const DAY_MS = 86_400_000

function usersOn(events: ReferenceEvent[], first: string, last: string): Set<string> {
  return new Set(
    events
      .filter((e) => utcDay(e.occurred_at) >= first && utcDay(e.occurred_at) <= last)
      .map((e) => e.user_id),
  )
}

export function referenceActiveUsers(
  posted: readonly ReferenceEvent[],
  from: string,
  to: string,
  keep: (e: ReferenceEvent) => boolean,
) {
  const events = dedupe(posted).filter(keep)
  return daysBetween(from, to).map((date) => ({
    date,
    dau: usersOn(events, date, date).size,
    wau: usersOn(events, addDays(date, -6), date).size,
    mau: usersOn(events, addDays(date, -29), date).size,
  }))
}

/** The Monday on or before a day. */
function mondayOf(day: string): string {
  const weekday = new Date(`${day}T00:00:00Z`).getUTCDay() // 0 = Sunday
  return addDays(day, -((weekday + 6) % 7))
}

export function referenceStickiness(
  posted: readonly ReferenceEvent[],
  from: string,
  to: string,
  interval: 'day' | 'week',
  eventType: string | undefined,
  keep: (e: ReferenceEvent) => boolean,
) {
  const slot = (day: string) => (interval === 'day' ? day : mondayOf(day))
  const slots = new Map<string, Set<string>>()
  for (const e of dedupe(posted)) {
    const day = utcDay(e.occurred_at)
    if (day < from || day > to || !keep(e)) continue
    if (eventType !== undefined && e.event_type !== eventType) continue
    const set = slots.get(e.user_id) ?? new Set()
    set.add(slot(day))
    slots.set(e.user_id, set)
  }
  const n = new Set(daysBetween(from, to).map(slot)).size
  const counts = Array.from({ length: n }, (_, i) => ({ intervals: i + 1, users: 0 }))
  for (const set of slots.values()) counts[set.size - 1]!.users += 1
  return { interval, intervals: n, counts }
}

type Interval = 'day' | 'week' | 'month'

function startOf(day: string, interval: Interval): number {
  const t = Date.parse(`${day}T00:00:00Z`)
  if (interval === 'day') return t
  if (interval === 'week') return Date.parse(`${mondayOf(day)}T00:00:00Z`)
  const d = new Date(t)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
}

function step(t: number, interval: Interval, n: number): number {
  if (interval === 'day') return t + n * DAY_MS
  if (interval === 'week') return t + 7 * n * DAY_MS
  const d = new Date(t)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, 1)
}

export function referenceLifecycle(
  posted: readonly ReferenceEvent[],
  from: string,
  to: string,
  interval: Interval,
  eventType: string | undefined,
  keep: (e: ReferenceEvent) => boolean,
) {
  const events = dedupe(posted).filter(
    (e) => keep(e) && (eventType === undefined || e.event_type === eventType),
  )
  const active = (start: number) =>
    new Set(
      events
        .filter((e) => {
          const t = Date.parse(e.occurred_at)
          return t >= start && t < step(start, interval, 1)
        })
        .map((e) => e.user_id),
    )
  const firstStart = new Map<string, number>()
  for (const e of events) {
    const s = startOf(utcDay(e.occurred_at), interval)
    if (!firstStart.has(e.user_id) || s < firstStart.get(e.user_id)!) firstStart.set(e.user_id, s)
  }
  const rows = []
  const end = Date.parse(`${to}T00:00:00Z`)
  for (let s = startOf(from, interval); s <= end; s = step(s, interval, 1)) {
    const now = active(s)
    const before = active(step(s, interval, -1))
    const row = {
      start: new Date(s).toISOString().slice(0, 10),
      new: 0,
      returning: 0,
      resurrecting: 0,
      dormant: 0,
    }
    for (const u of now) {
      if (firstStart.get(u) === s) row.new += 1
      else if (before.has(u)) row.returning += 1
      else row.resurrecting += 1
    }
    for (const u of before) if (!now.has(u)) row.dormant -= 1
    rows.push(row)
  }
  return rows
}
