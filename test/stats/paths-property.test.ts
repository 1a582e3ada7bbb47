import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'
import { referencePaths } from './paths-reference.ts'
import { addDays, type ReferenceEvent } from './reference.ts'
import { type Filter, renderFilter } from './reference-segment.ts'

// /stats/paths against ./paths-reference.ts on random events over four days:
// few users, types and paths so paths repeat and collapse, times on a minute
// grid (gaps of exactly 30 minutes, many equal timestamps, sorted out by
// event_id) with an occasional extra millisecond (30 minutes and 1 ms), and
// filters on event_type, user_id and a property. FC_RUNS=400 for a long run.
const BASE_DAY = '2026-05-04'
const USERS = ['a', 'b', 'c', 'd']
const TYPES = ['x', 'y', 'page_view', 'page_view', 'page_view']
const PATHS = ['/', '/a', '/b', 7, true] as const

const event = fc.record({
  day: fc.integer({ min: 0, max: 3 }),
  minute: fc.oneof(fc.constantFrom(0, 30, 60, 1439), fc.integer({ min: 0, max: 300 })),
  ms: fc.constantFrom(0, 0, 0, 1),
  user: fc.constantFrom(...USERS),
  type: fc.constantFrom(...TYPES),
  path: fc.option(fc.constantFrom(...PATHS), { nil: undefined, freq: 4 }),
  k: fc.option(fc.constantFrom('r', 's'), { nil: undefined }),
})

const filter: fc.Arbitrary<Filter> = fc.oneof(
  fc.record({
    field: fc.constant<string[]>(['k']),
    op: fc.constantFrom('eq' as const, 'ne' as const, 'exists' as const),
    values: fc.constant(['r']).map((v) => [...v]),
  }),
  fc.record({
    field: fc.constantFrom('event_type' as const, 'user_id' as const),
    op: fc.constantFrom('eq' as const, 'ne' as const),
    values: fc.constantFrom(['x'], ['a'], ['page_view']).map((v) => [...v]),
  }),
)

const ANCHORS = ['event:x', 'event:y', 'event:page_view', 'page:/', 'page:/a', 'page:7']
const queryArb = fc.record({
  from: fc.integer({ min: 0, max: 3 }),
  days: fc.integer({ min: 1, max: 3 }),
  mode: fc.constantFrom('start' as const, 'end' as const),
  anchor: fc.constantFrom(...ANCHORS),
  steps: fc.integer({ min: 2, max: 6 }),
  limit: fc.integer({ min: 1, max: 12 }),
  segment: fc.array(filter, { maxLength: 2 }),
})

const VARIANTS = [
  { name: 'embedded', server: false },
  { name: 'PostgreSQL', server: true },
]

for (const variant of VARIANTS)
  describe(`paths agree with the reference (${variant.name})`, {
    skip: variant.server ? await skipUnless('postgres') : false,
  }, () => {
    let db: TestDatabase | undefined
    let t: TestApp
    const batches: ReferenceEvent[][] = []

    before(async () => {
      db = variant.server ? await createTestDatabase() : undefined
      t = await startTestApp({ databaseUrl: db?.url, queue: false })
    })
    after(async () => {
      await t?.close()
      await db?.drop()
    })

    test('every anchor, mode, steps, limit and filter', { timeout: 600_000 }, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(event, { maxLength: 60 }),
          fc.array(queryArb, { minLength: 3, maxLength: 3 }),
          async (gen, queries) => {
            const events: ReferenceEvent[] = gen.map((g) => ({
              event_id: randomUUID(),
              occurred_at: new Date(
                Date.parse(`${addDays(BASE_DAY, g.day)}T00:00:00Z`) + g.minute * 60_000 + g.ms,
              ).toISOString(),
              user_id: g.user,
              event_type: g.type,
              properties: {
                ...(g.path === undefined ? {} : { path: g.path }),
                ...(g.k === undefined ? {} : { k: g.k }),
              },
            }))
            if (events.length > 0) {
              const res = await t.app.inject({ method: 'POST', url: '/events', payload: events })
              assert.equal(res.statusCode, 201, res.body)
              batches.push(events)
            }
            await t.deps.analytics!.catchUp()
            for (const q of queries) {
              const from = addDays(BASE_DAY, q.from)
              const to = addDays(from, q.days - 1)
              const seg = q.segment
                .map((f) => `&segment=${encodeURIComponent(renderFilter(f))}`)
                .join('')
              const url = `/stats/paths?from=${from}&to=${to}&${q.mode}=${encodeURIComponent(q.anchor)}&steps=${q.steps}&limit=${q.limit}${seg}`
              const want = referencePaths(batches, {
                from,
                to,
                mode: q.mode,
                node: q.anchor.startsWith('event:') ? q.anchor.slice(6) : q.anchor,
                steps: q.steps,
                limit: q.limit,
                filters: q.segment,
              })
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
          numRuns: Number(process.env.FC_RUNS ?? 40),
          endOnFailure: true,
          includeErrorInReport: true,
          ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
        },
      )
    })
  })
