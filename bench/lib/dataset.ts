import { randomUUID } from 'node:crypto'

export interface BenchEvent {
  event_id: string
  occurred_at: string
  user_id: string
  event_type: string
  properties: Record<string, unknown>
}

export interface DatasetOptions {
  events: number
  users: number
  days: number
}

/** realistic (the default: visits, URL paths, 100k+ distinct values; realistic.ts) or the old friendly one (few values per property) */
export type DatasetKind = 'realistic' | 'friendly'

const DAY_MS = 86_400_000

// Roughly the mix of a product site: mostly views, few conversions.
const EVENT_TYPES: ReadonlyArray<[type: string, weight: number]> = [
  ['page_view', 55],
  ['click', 22],
  ['scroll', 8],
  ['search', 5],
  ['add_to_cart', 4],
  ['login', 3],
  ['signup', 1.5],
  ['purchase', 1],
  ['logout', 0.5],
]
const PAGES = ['/', '/pricing', '/docs', '/blog', '/signup', '/checkout', '/account', '/features']
const COUNTRIES = ['US', 'DE', 'UA', 'GB', 'FR', 'IN', 'BR', 'JP', 'PL', 'CA']
const PLANS = ['free', 'pro', 'team', 'enterprise']
const ELEMENTS = ['cta', 'nav', 'footer-link', 'card', 'buy-button']

/** Draws an index in [0, weights.length) with probability proportional to its weight. */
export class WeightedPicker {
  private readonly cumulative: Float64Array
  private readonly total: number

  constructor(weights: ArrayLike<number>) {
    this.cumulative = new Float64Array(weights.length)
    let sum = 0
    for (let i = 0; i < weights.length; i++) this.cumulative[i] = sum += weights[i]!
    this.total = sum
  }

  pick(): number {
    const target = Math.random() * this.total
    let lo = 0
    let hi = this.cumulative.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.cumulative[mid]! > target) hi = mid
      else lo = mid + 1
    }
    return lo
  }
}

/** Zipf weights (s = 0.9 by default): a few users produce a large share of the events (of 10k users the first makes about 6%), as on real sites. */
export function zipfWeights(n: number, s = 0.9): Float64Array {
  const weights = new Float64Array(n)
  for (let rank = 1; rank <= n; rank++) weights[rank - 1] = 1 / rank ** s
  return weights
}

function oneOf<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)]!
}

function propertiesFor(type: string): Record<string, string | number> {
  const country = oneOf(COUNTRIES)
  switch (type) {
    case 'page_view':
      return { page: oneOf(PAGES), country, referrer: Math.random() < 0.3 ? 'google' : 'direct' }
    case 'click':
      return { page: oneOf(PAGES), element: oneOf(ELEMENTS) }
    case 'search':
      return { query_length: 1 + Math.floor(Math.random() * 30), country }
    case 'signup':
      return { plan: oneOf(PLANS), country }
    case 'purchase':
      return {
        plan: oneOf(PLANS),
        amount: Math.round(Math.random() * 50_000) / 100,
        currency: 'USD',
        country,
      }
    default:
      return { country }
  }
}

/**
 * Draws friendly events one at a time from the same distributions; the soak uses it to
 * make events for as long as it runs without holding them all.
 */
export function eventGenerator(options: Omit<DatasetOptions, 'events'>): () => BenchEvent {
  const users = new WeightedPicker(zipfWeights(options.users))
  const types = new WeightedPicker(EVENT_TYPES.map(([, w]) => w))
  const span = options.days * DAY_MS
  return () => {
    // Ends a minute in the past so no event is ever "in the future" for the API.
    const end = Date.now() - 60_000
    const type = EVENT_TYPES[types.pick()]![0]
    return {
      event_id: randomUUID(),
      occurred_at: new Date(end - Math.floor(Math.random() * span)).toISOString(),
      user_id: `user_${users.pick() + 1}`,
      event_type: type,
      properties: propertiesFor(type),
    }
  }
}

/** The friendly data set (few values per property), built before any timing starts. */
export function generateFriendlyEvents(options: DatasetOptions): BenchEvent[] {
  const next = eventGenerator(options)
  return Array.from({ length: options.events }, next)
}

/** Request bodies, serialised up front so the load generator spends its CPU on sending, not on JSON. */
export function toRequestBodies(
  events: readonly BenchEvent[],
  batchSize: number,
): Array<{ body: string; count: number }> {
  const bodies: Array<{ body: string; count: number }> = []
  for (let i = 0; i < events.length; i += batchSize) {
    const batch = events.slice(i, i + batchSize)
    bodies.push({ body: JSON.stringify({ events: batch }), count: batch.length })
  }
  return bodies
}
