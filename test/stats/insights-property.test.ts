import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'
import {
  referenceActiveUsers,
  referenceLifecycle,
  referenceStickiness,
} from './insights-reference.ts'
import { addDays, type ReferenceEvent } from './reference.ts'
import { type Filter, matchesAll, renderFilter } from './reference-segment.ts'

// /stats/active-users, /stats/stickiness and /stats/lifecycle against
// ./insights-reference.ts on random events over three months, with filters
// the rollups answer (event_type, a property with few values) and ones they
// do not (two filters, ne, user_id).

const BASE_DAY = '2026-08-03' // a Monday
const USERS = ['a', 'b', 'c', 'd', 'e', 'f']
const TYPES = ['x', 'y', 'z']

const event = fc.record({
  day: fc.integer({ min: 0, max: 95 }),
  minute: fc.oneof(fc.constantFrom(0, 1439), fc.integer({ min: 0, max: 1439 })),
  user: fc.constantFrom(...USERS),
  type: fc.constantFrom(...TYPES),
  k: fc.option(fc.constantFrom('r', 's', 1), { nil: undefined }),
})

const filter: fc.Arbitrary<Filter> = fc.oneof(
  fc.record({
    field: fc.constant<string[]>(['k']),
    op: fc.constantFrom('eq' as const, 'ne' as const, 'exists' as const),
    values: fc.constantFrom(['r'], ['1']).map((v) => [...v]),
  }),
  fc.record({
    field: fc.constantFrom('event_type' as const, 'user_id' as const),
    op: fc.constantFrom('eq' as const, 'ne' as const),
    values: fc.constantFrom(['x'], ['a'], ['y']).map((v) => [...v]),
  }),
)

const queryArb = fc.record({
  from: fc.integer({ min: 0, max: 80 }),
  days: fc.integer({ min: 1, max: 40 }),
  eventType: fc.option(fc.constantFrom(...TYPES), { nil: undefined }),
  stickInterval: fc.constantFrom('day' as const, 'week' as const),
  lifeInterval: fc.constantFrom('day' as const, 'week' as const, 'month' as const),
  segment: fc.array(filter, { maxLength: 2 }),
})

const VARIANTS = [
  { name: 'embedded', server: false },
  { name: 'PostgreSQL', server: true },
]

for (const variant of VARIANTS)
  describe(`active users, stickiness and lifecycle agree with the reference (${variant.name})`, {
    skip: variant.server ? await skipUnless('postgres') : false,
  }, () => {
    let db: TestDatabase | undefined
    let t: TestApp
    const posted: ReferenceEvent[] = []

    before(async () => {
      db = variant.server ? await createTestDatabase() : undefined
      t = await startTestApp({ databaseUrl: db?.url, queue: false })
    })
    after(async () => {
      await t?.close()
      await db?.drop()
    })

    async function check(url: string, want: unknown) {
      const res = await t.app.inject({ method: 'GET', url })
      assert.equal(res.statusCode, 200, `GET ${url}: ${res.body}`)
      assert.ok(
        isDeepStrictEqual(res.json(), want),
        `GET ${decodeURIComponent(url)}\n got ${res.body}\nwant ${JSON.stringify(want)}`,
      )
    }

    test('every range, interval and filter', { timeout: 300_000 }, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(event, { maxLength: 80 }),
          fc.array(queryArb, { minLength: 3, maxLength: 3 }),
          async (gen, queries) => {
            const events: ReferenceEvent[] = gen.map((g) => ({
              event_id: randomUUID(),
              occurred_at: new Date(
                Date.parse(`${addDays(BASE_DAY, g.day)}T00:00:00Z`) + g.minute * 60_000,
              ).toISOString(),
              user_id: g.user,
              event_type: g.type,
              ...(g.k === undefined ? {} : { properties: { k: g.k } }),
            }))
            if (events.length > 0) {
              const res = await t.app.inject({ method: 'POST', url: '/events', payload: events })
              assert.equal(res.statusCode, 201, res.body)
              posted.push(...events)
            }
            await t.deps.analytics!.catchUp()
            for (const q of queries) {
              const from = addDays(BASE_DAY, q.from)
              const to = addDays(from, q.days - 1)
              const keep = matchesAll(q.segment)
              const seg = q.segment
                .map((f) => `&segment=${encodeURIComponent(renderFilter(f))}`)
                .join('')
              const type = q.eventType === undefined ? '' : `&event_type=${q.eventType}`
              await check(
                `/stats/active-users?from=${from}&to=${to}${seg}`,
                referenceActiveUsers(posted, from, to, keep),
              )
              await check(
                `/stats/stickiness?from=${from}&to=${to}&interval=${q.stickInterval}${type}${seg}`,
                referenceStickiness(posted, from, to, q.stickInterval, q.eventType, keep),
              )
              await check(
                `/stats/lifecycle?from=${from}&to=${to}&interval=${q.lifeInterval}${type}${seg}`,
                referenceLifecycle(posted, from, to, q.lifeInterval, q.eventType, keep),
              )
            }
          },
        ),
        {
          numRuns: 30,
          endOnFailure: true,
          includeErrorInReport: true,
          ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
        },
      )
    })
  })
