import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'
import { addDays, type ReferenceEvent } from './reference.ts'
import { type Filter, matchesAll, renderFilter } from './reference-segment.ts'
import { referenceTrends } from './trends-reference.ts'

// /stats/trends against ./trends-reference.ts on random events over ten
// weeks that cross a month end, with numeric and text properties, every
// interval, measure, compare=previous and breakdown. Values are small
// halves so sums are exact in any order.

const BASE_DAY = '2026-09-14' // a Monday; the data runs into November
const USERS = ['a', 'b', 'c', 'd', 'e']
const TYPES = ['x', 'y', 'z']
const MEASURES = [
  'count',
  'unique_users',
  'per_user',
  'sum:properties.n',
  'avg:properties.n',
  'min:properties.n',
  'max:properties.n',
]

const event = fc.record({
  day: fc.integer({ min: 0, max: 70 }),
  minute: fc.oneof(fc.constantFrom(0, 1439), fc.integer({ min: 0, max: 1439 })),
  user: fc.constantFrom(...USERS),
  type: fc.constantFrom(...TYPES),
  n: fc.option(fc.constantFrom(0, 1, 2.5, -3, 10, '7'), { nil: undefined }),
  k: fc.option(fc.constantFrom('r', 's', 't', 1), { nil: undefined }),
})

// event_type filters and a rolled-up k: the shapes counts and unique users
// are read from the per-day rollups for (trends-sql.ts), beside the rest
const propertyFilter: fc.Arbitrary<Filter> = fc.record({
  field: fc.constantFrom(['k'], ['n']),
  op: fc.constantFrom('eq' as const, 'ne' as const, 'exists' as const),
  values: fc.constantFrom(['r'], ['1'], ['10']).map((v) => [...v]),
})
const typeFilter: fc.Arbitrary<Filter> = fc.record({
  field: fc.constant('event_type' as const),
  op: fc.constantFrom('eq' as const, 'ne' as const),
  values: fc.constantFrom(['x'], ['y']).map((v) => [...v]),
})
const filter = fc.oneof(propertyFilter, typeFilter)

const seriesArb = fc.record({
  eventType: fc.option(fc.constantFrom(...TYPES), { nil: undefined }),
  measure: fc.oneof(
    { arbitrary: fc.constantFrom('count', 'unique_users'), weight: 1 },
    { arbitrary: fc.constantFrom(...MEASURES), weight: 1 },
  ),
  segment: fc.array(filter, { maxLength: 1 }),
})

const queryArb = fc.record({
  from: fc.integer({ min: 0, max: 60 }),
  days: fc.integer({ min: 1, max: 45 }),
  interval: fc.constantFrom('day' as const, 'week' as const, 'month' as const, 'hour' as const),
  series: fc.array(seriesArb, { minLength: 1, maxLength: 3 }),
  asSeries: fc.boolean(),
  compare: fc.boolean(),
  breakdown: fc.option(
    fc.record({ path: fc.constantFrom('k', 'n'), limit: fc.integer({ min: 1, max: 3 }) }),
    { nil: undefined, freq: 1 },
  ),
  segment: fc.array(filter, { maxLength: 1 }),
})

const VARIANTS = [
  { name: 'embedded', server: false, env: {} as Record<string, string> },
  { name: 'embedded, MAX_PROPERTY_PATHS=1', server: false, env: { MAX_PROPERTY_PATHS: '1' } },
  { name: 'PostgreSQL', server: true, env: {} },
]

for (const variant of VARIANTS)
  describe(`/stats/trends agrees with the reference on random data (${variant.name})`, {
    skip: variant.server ? await skipUnless('postgres') : false,
  }, () => {
    let db: TestDatabase | undefined
    let t: TestApp
    const posted: ReferenceEvent[] = []

    before(async () => {
      db = variant.server ? await createTestDatabase() : undefined
      t = await startTestApp({ databaseUrl: db?.url, queue: false, env: variant.env })
    })
    after(async () => {
      await t?.close()
      await db?.drop()
    })

    test('every interval, measure, series, compare and breakdown', {
      timeout: 300_000,
    }, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(event, { maxLength: 80 }),
          fc.array(queryArb, { minLength: 3, maxLength: 3 }),
          async (gen, queries) => {
            const events: ReferenceEvent[] = gen.map((g) => {
              const properties: Record<string, unknown> = {}
              if (g.n !== undefined) properties.n = g.n
              if (g.k !== undefined) properties.k = g.k
              const at = Date.parse(`${addDays(BASE_DAY, g.day)}T00:00:00Z`) + g.minute * 60_000
              return {
                event_id: randomUUID(),
                occurred_at: new Date(at).toISOString(),
                user_id: g.user,
                event_type: g.type,
                properties,
              }
            })
            if (events.length > 0) {
              const res = await t.app.inject({ method: 'POST', url: '/events', payload: events })
              assert.equal(res.statusCode, 201, res.body)
              posted.push(...events)
            }
            await t.deps.analytics!.catchUp()
            for (const q of queries) {
              const from = addDays(BASE_DAY, q.from)
              // hours: at most a few days, to keep the answers small
              const to = addDays(from, (q.interval === 'hour' ? Math.min(q.days, 3) : q.days) - 1)
              const series = q.asSeries
                ? q.series
                : q.series.slice(0, 1).map((s) => ({ ...s, segment: [] }))
              const enc = (f: Filter) => encodeURIComponent(renderFilter(f))
              const parts = [`from=${from}`, `to=${to}`, `interval=${q.interval}`]
              if (q.asSeries)
                for (const s of series)
                  parts.push(
                    `series=${encodeURIComponent(JSON.stringify({ event_type: s.eventType, measure: s.measure, segment: s.segment.map(renderFilter) }))}`,
                  )
              else {
                if (series[0]!.eventType) parts.push(`event_type=${series[0]!.eventType}`)
                parts.push(`measure=${encodeURIComponent(series[0]!.measure)}`)
              }
              if (q.compare) parts.push('compare=previous')
              if (q.breakdown)
                parts.push(
                  `breakdown=properties.${q.breakdown.path}`,
                  `breakdown_limit=${q.breakdown.limit}`,
                )
              for (const f of q.segment) parts.push(`segment=${enc(f)}`)
              const url = `/stats/trends?${parts.join('&')}`
              const want = referenceTrends(
                posted,
                from,
                to,
                series.map((s) => ({
                  eventType: s.eventType,
                  measure: s.measure,
                  keep: matchesAll([...q.segment, ...s.segment]),
                })),
                {
                  interval: q.interval,
                  compare: q.compare,
                  ...(q.breakdown
                    ? { breakdown: { path: [q.breakdown.path], limit: q.breakdown.limit } }
                    : {}),
                },
              )
              const res = await t.app.inject({ method: 'GET', url })
              assert.equal(res.statusCode, 200, `GET ${url}: ${res.body}`)
              assert.ok(
                isDeepStrictEqual(res.json(), want),
                `GET ${decodeURIComponent(url)}\n got ${res.body}\nwant ${JSON.stringify(want)}`,
              )
            }
          },
        ),
        {
          numRuns: 25,
          includeErrorInReport: true,
          endOnFailure: true,
          ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
        },
      )
    })
  })
