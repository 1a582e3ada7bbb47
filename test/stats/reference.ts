// A deliberately plain, in-memory computation of the three analytics figures of
// DESIGN.md §4, used as the oracle the real endpoints are compared with. It
// favours obviousness over speed: every figure is computed from scratch, from
// UTC calendar days written as 'YYYY-MM-DD' strings (which sort like the days
// they name), with Sets for "distinct users".
//
// Conventions, each one a reading of §4:
// - A day is the UTC calendar day of occurred_at:
//   new Date(occurred_at).toISOString().slice(0, 10). Date drops digits past the
//   millisecond, which never changes the day (23:59:59.999999Z stays that day).
// - Events are de-duplicated by event_id, case-insensitively, the FIRST one in
//   the list winning: the list must be in the order the events were posted, as
//   the service keeps the first stored version of an id.
// - Ranges are inclusive of both ends; the cohort week and retention weeks are
//   half-open [start, start + 7 days), i.e. 7 whole UTC days.
// - Top events ties (same count) are ordered by event_type ascending in Unicode
//   code point order (the same as UTF-8 byte order, the "C"/binary collation of
//   PostgreSQL and DuckDB), not by a locale: 'Z' < 'a'.
// - retention_rate is 100 × retained / cohort_size rounded to one decimal,
//   halves away from zero (6.25 → 6.3), computed with integers so no binary
//   floating-point error can move a value across a rounding boundary; 0 for an
//   empty cohort.

export interface ReferenceEvent {
  event_id: string
  /** RFC 3339 with any offset */
  occurred_at: string
  user_id: string
  event_type: string
  properties?: Record<string, unknown>
}

export interface DauRow {
  date: string
  unique_users: number
}
export interface TopEventRow {
  event_type: string
  count: number
  unique_users: number
}
export interface RetentionWeek {
  week: number
  week_start: string
  retained_users: number
  retention_rate: number
}
export interface RetentionResponse {
  start_date: string
  cohort_size: number
  retention: RetentionWeek[]
}

const DAY_MS = 86_400_000
const DATE = /^\d{4}-\d{2}-\d{2}$/

/** The UTC calendar day of an RFC 3339 timestamp, as 'YYYY-MM-DD'. */
export function utcDay(occurredAt: string): string {
  const time = new Date(occurredAt)
  if (Number.isNaN(time.getTime())) throw new Error(`reference: not a date-time: ${occurredAt}`)
  return time.toISOString().slice(0, 10)
}

/** 'YYYY-MM-DD' plus n days (n may be negative). */
export function addDays(date: string, n: number): string {
  return new Date(parseDate(date) + n * DAY_MS).toISOString().slice(0, 10)
}

/** Every day from `from` to `to`, both included, ascending. */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = []
  for (let t = parseDate(from); t <= parseDate(to); t += DAY_MS)
    days.push(new Date(t).toISOString().slice(0, 10))
  return days
}

/** The events the store keeps: the first of each event_id (case-insensitive). */
export function dedupe<E extends ReferenceEvent>(events: readonly E[]): E[] {
  const seen = new Set<string>()
  const kept: E[] = []
  for (const e of events) {
    const id = e.event_id.toLowerCase()
    if (seen.has(id)) continue
    seen.add(id)
    kept.push(e)
  }
  return kept
}

/**
 * One posted batch in the order the store keeps it: writers insert a batch's
 * rows in event_id order (the lock order that keeps them from deadlocking), so
 * that is the order of events at one instant within a batch.
 */
export function storeOrder<E extends ReferenceEvent>(batch: readonly E[]): E[] {
  return [...batch].sort((a, b) =>
    compareCodePoints(a.event_id.toLowerCase(), b.event_id.toLowerCase()),
  )
}

/** GET /stats/dau: one row per day of [from, to], ascending, zeros included. */
export function referenceDau(
  events: readonly ReferenceEvent[],
  from: string,
  to: string,
): DauRow[] {
  checkRange(from, to)
  const usersByDay = new Map<string, Set<string>>()
  for (const e of dedupe(events)) {
    const day = utcDay(e.occurred_at)
    let users = usersByDay.get(day)
    if (!users) {
      users = new Set()
      usersByDay.set(day, users)
    }
    users.add(e.user_id)
  }
  return daysBetween(from, to).map((date) => ({
    date,
    unique_users: usersByDay.get(date)?.size ?? 0,
  }))
}

/** GET /stats/top-events: per event_type over [from, to], count desc then event_type asc, at most `limit` rows. */
export function referenceTopEvents(
  events: readonly ReferenceEvent[],
  from: string,
  to: string,
  limit: number,
): TopEventRow[] {
  checkRange(from, to)
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`reference: bad limit ${limit}`)
  const byType = new Map<string, { count: number; users: Set<string> }>()
  for (const e of dedupe(events)) {
    const day = utcDay(e.occurred_at)
    if (day < from || day > to) continue
    let agg = byType.get(e.event_type)
    if (!agg) {
      agg = { count: 0, users: new Set() }
      byType.set(e.event_type, agg)
    }
    agg.count += 1
    agg.users.add(e.user_id)
  }
  const rows = [...byType].map(([event_type, agg]) => ({
    event_type,
    count: agg.count,
    unique_users: agg.users.size,
  }))
  rows.sort((a, b) => b.count - a.count || compareCodePoints(a.event_type, b.event_type))
  return rows.slice(0, limit)
}

/**
 * GET /stats/retention: the cohort of users first seen in [start, start+7d) and their return in each later week.
 * With filters, "first seen" is the first event matching `cohort`, and a return is an event matching `return`.
 */
export function referenceRetention(
  events: readonly ReferenceEvent[],
  startDate: string,
  windows: number,
  filters: {
    cohort?: (e: ReferenceEvent) => boolean
    return?: (e: ReferenceEvent) => boolean
  } = {},
): RetentionResponse {
  parseDate(startDate)
  if (!Number.isInteger(windows) || windows < 1)
    throw new Error(`reference: bad windows ${windows}`)
  const kept = dedupe(events)
  // The first event ever of each user, over ALL events (not only those near start_date).
  const firstDay = new Map<string, string>()
  for (const e of kept) {
    if (filters.cohort && !filters.cohort(e)) continue
    const day = utcDay(e.occurred_at)
    const known = firstDay.get(e.user_id)
    if (known === undefined || day < known) firstDay.set(e.user_id, day)
  }
  const cohortEnd = addDays(startDate, 6) // last day of the cohort week
  const cohort = new Set<string>()
  for (const [user, day] of firstDay) if (day >= startDate && day <= cohortEnd) cohort.add(user)

  const retention: RetentionWeek[] = []
  for (let week = 1; week <= windows; week++) {
    const weekStart = addDays(startDate, 7 * week)
    const weekEnd = addDays(startDate, 7 * week + 6)
    const retained = new Set<string>()
    for (const e of kept) {
      if (!cohort.has(e.user_id) || (filters.return && !filters.return(e))) continue
      const day = utcDay(e.occurred_at)
      if (day >= weekStart && day <= weekEnd) retained.add(e.user_id)
    }
    retention.push({
      week,
      week_start: weekStart,
      retained_users: retained.size,
      retention_rate: percentOneDecimal(retained.size, cohort.size),
    })
  }
  return { start_date: startDate, cohort_size: cohort.size, retention }
}

/**
 * 100 × part / whole rounded to one decimal, halves away from zero; 0 when whole is 0.
 * round(1000·part/whole) = floor((2000·part + whole) / (2·whole)) for part, whole ≥ 0,
 * exact in integers (safe far beyond any test's sizes).
 */
export function percentOneDecimal(part: number, whole: number): number {
  if (whole === 0) return 0
  return Math.floor((2000 * part + whole) / (2 * whole)) / 10
}

/** Unicode code point order (= UTF-8 byte order), unlike `<` on strings, which compares UTF-16 units. */
export function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

function parseDate(date: string): number {
  const t = Date.parse(`${date}T00:00:00Z`)
  if (!DATE.test(date) || Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== date) {
    throw new Error(`reference: not a YYYY-MM-DD date: ${date}`)
  }
  return t
}

function checkRange(from: string, to: string): void {
  if (parseDate(from) > parseDate(to)) throw new Error(`reference: from ${from} is after to ${to}`)
}
