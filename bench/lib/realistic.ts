import { randomBytes, randomUUID } from 'node:crypto'
import {
  type BenchEvent,
  type DatasetKind,
  type DatasetOptions,
  generateFriendlyEvents,
  WeightedPicker,
  zipfWeights,
} from './dataset.ts'
import { uuidv7 } from './uuid7.ts'
import {
  BROWSERS,
  CAMPAIGN_SHARE,
  COUNTRIES,
  DEVICES,
  EVENT_TYPES,
  REFERRERS,
  STATIC_PAGE_SHARE,
  STATIC_PAGES,
  tailPath,
  tailRank,
  USER_EXPONENT,
  UTM_CAMPAIGNS,
  UTM_SOURCES,
  VISIT_MEAN_EVENTS,
  type Weighted,
} from './vocabulary.ts'
import { webPageView, webVisitor } from './web-vocabulary.ts'

// Events as real sites send them: each user's events come as visits (a
// session id each), a visit's events minutes apart, visits at least 30
// minutes apart. A user's visits take distinct hour slots of the span and
// stay within the first 30 minutes of theirs (up to 10 minutes in, then 20
// minutes at most), so no two visits of a user are within 30 minutes of each
// other and no visit has a gap over 30 minutes: the session ids are exactly
// what sessionising by 30-minute gaps would give. The SQL generator
// (seed-realistic.ts) uses the same construction.

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS
const VISIT_START_SPREAD_MS = 10 * 60_000
const VISIT_SPAN_MS = 20 * 60_000
const MAX_GAP_MS = 2 * 60_000

export type IdVersion = 'v4' | 'v7'

class Pick<T> {
  private readonly picker: WeightedPicker
  constructor(private readonly values: Weighted<T>) {
    this.picker = new WeightedPicker(values.map(([, w]) => w))
  }
  next(): T {
    return this.values[this.picker.pick()]![0]
  }
}

const types = new Pick(EVENT_TYPES)
const countries = new Pick(COUNTRIES)
const browsers = new Pick(BROWSERS)
const devices = new Pick(DEVICES)
const referrers = new Pick(REFERRERS)
const utmSources = new Pick(UTM_SOURCES)
const utmCampaigns = new Pick(UTM_CAMPAIGNS)
const staticPages = new Pick(STATIC_PAGES)

function pagePath(): string {
  return Math.random() < STATIC_PAGE_SHARE ? staticPages.next() : tailPath(tailRank(Math.random()))
}

/** The data set a run sends (or the import writes), built before any timing starts. */
export function generateEvents(
  options: DatasetOptions & { dataset: DatasetKind; ids: IdVersion },
): BenchEvent[] {
  if (options.dataset === 'realistic') return generateRealisticEvents(options)
  const events = generateFriendlyEvents(options)
  if (options.ids === 'v7') for (const e of events) e.event_id = uuidv7(Date.parse(e.occurred_at))
  return events
}

export interface RealisticOptions extends DatasetOptions {
  ids: IdVersion
  /** where the `days` end (ms since the epoch); by default a minute ago, so no event is ever "in the future" for the API */
  endMs?: number
  /** user ids are this and the user's Zipf rank (default `user_`; the SQL seed's users are `user-`) */
  userPrefix?: string
}

/**
 * The whole data set, sorted by time as traffic arrives. Users get their
 * event counts from a Zipf draw (exact total), then their visits.
 */
export function generateRealisticEvents(options: RealisticOptions): BenchEvent[] {
  const users = new WeightedPicker(zipfWeights(options.users, USER_EXPONENT))
  const counts = new Int32Array(options.users)
  for (let i = 0; i < options.events; i++) counts[users.pick()]!++
  const spanStart = (options.endMs ?? Date.now() - 60_000) - options.days * DAY_MS
  const slots = options.days * 24
  const prefix = options.userPrefix ?? 'user_'
  const events: BenchEvent[] = []
  for (let u = 0; u < options.users; u++) {
    if (counts[u]! > 0)
      userEvents(`${prefix}${u + 1}`, counts[u]!, spanStart, slots, options.ids, events)
  }
  return events.sort((a, b) =>
    a.occurred_at < b.occurred_at ? -1 : a.occurred_at > b.occurred_at ? 1 : 0,
  )
}

/** One user's `count` events as visits, appended to `out` in time order. */
function userEvents(
  userId: string,
  count: number,
  spanStart: number,
  slots: number,
  ids: IdVersion,
  out: BenchEvent[],
): void {
  // A user's country, browser and device stay the same across visits.
  const country = countries.next()
  const browser = browsers.next()
  const [os, type] = devices.next()
  const visitor = { ...webVisitor(type), browser, os, type }
  const visits = Math.min(count, slots, Math.max(1, Math.round(count / VISIT_MEAN_EVENTS)))
  const hours = distinctSorted(visits, slots)
  const lengths = visitLengths(count, visits)
  for (let v = 0; v < visits; v++) {
    const len = lengths[v]!
    const campaign = Math.random() < CAMPAIGN_SHARE
    const visit: Record<string, unknown> = campaign
      ? { utm_source: utmSources.next(), utm_campaign: utmCampaigns.next() }
      : { referrer: referrers.next() }
    const session = randomBytes(8).toString('hex')
    const gap = Math.min(MAX_GAP_MS, VISIT_SPAN_MS / len)
    let t = spanStart + hours[v]! * HOUR_MS + Math.random() * VISIT_START_SPREAD_MS
    let previous: string | undefined
    for (let i = 0; i < len; i++) {
      if (i > 0) t += gap * (0.2 + 0.8 * Math.random())
      const ms = Math.floor(t)
      const [eventType, extra] = types.next()
      const path = pagePath()
      const properties: Record<string, unknown> = {
        path,
        session,
        ...visit,
        country,
        browser,
        device: { os, type },
      }
      // Page views look like the browser script's (web-vocabulary.ts): a flat device, a referrer URL.
      if (eventType === 'page_view') {
        Object.assign(
          properties,
          webPageView(path, visit as { referrer?: string }, previous, visitor),
        )
        previous = path
      }
      if (extra === 'amount') properties.amount = Math.round(Math.random() ** 3 * 50_000) / 100
      else if (extra === 'n') properties.n = Math.floor(Math.random() * 100)
      else if (extra === 'logged_in') properties.logged_in = Math.random() < 0.6
      out.push({
        event_id: ids === 'v7' ? uuidv7(ms) : randomUUID(),
        occurred_at: new Date(ms).toISOString(),
        user_id: userId,
        event_type: eventType,
        properties,
      })
    }
  }
}

/** `k` distinct integers of [0, n), ascending. */
function distinctSorted(k: number, n: number): number[] {
  if (k * 2 > n) {
    const all = Array.from({ length: n }, (_, i) => i)
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(Math.random() * (n - i))
      ;[all[i], all[j]] = [all[j]!, all[i]!]
    }
    return all.slice(0, k).sort((a, b) => a - b)
  }
  const chosen = new Set<number>()
  while (chosen.size < k) chosen.add(Math.floor(Math.random() * n))
  return [...chosen].sort((a, b) => a - b)
}

/** `count` events over `visits` visits, each at least one, the rest spread unevenly (some visits are long). */
function visitLengths(count: number, visits: number): Int32Array {
  const lengths = new Int32Array(visits).fill(1)
  // Exponential weights: visit lengths vary like real ones instead of all being the mean.
  const picker = new WeightedPicker(
    Array.from({ length: visits }, () => -Math.log(1 - Math.random())),
  )
  for (let i = visits; i < count; i++) lengths[picker.pick()]!++
  return lengths
}
