import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'
import { funnelQueryArb, renderFunnel, toRefFunnel } from './funnel-arbitraries.ts'
import { referenceFunnel } from './funnel-reference.ts'
import { addDays, type ReferenceEvent, storeOrder } from './reference.ts'
import { matchesAll, renderFilter } from './reference-segment.ts'

// /stats/funnel against the plain walk of ./funnel-reference.ts on random
// events: few users, types and minutes, so attempts repeat, instants tie,
// windows cut and exclusions land between steps. As in the other property
// suites, one app per store, each run only adds events and the reference
// sees every event posted so far. Also with MAX_PROPERTY_PATHS=1, where step
// filters and breakdowns past the first path read the raw JSON.

const BASE_DAY = '2026-08-01'
const USERS = ['a', 'b', 'c', 'd']
const TYPES = ['x', 'y', 'z', 'w']

const event = fc.record({
  day: fc.integer({ min: 0, max: 4 }),
  minute: fc.oneof(fc.constantFrom(0, 1, 30, 59, 60, 1439), fc.integer({ min: 0, max: 1439 })),
  ms: fc.constantFrom(0, 0, 0, 1, 999),
  user: fc.constantFrom(...USERS),
  type: fc.constantFrom(...TYPES),
  p: fc.option(fc.constantFrom('u', 'v', 1, 2.5, true), { nil: undefined }),
  q: fc.option(fc.constantFrom('m', 'n'), { nil: undefined }),
})

const runArb = fc.record({
  events: fc.array(event, { maxLength: 60 }),
  queries: fc.array(funnelQueryArb(TYPES), { minLength: 3, maxLength: 3 }),
})

const VARIANTS = [
  { name: 'embedded', server: false, env: {} as Record<string, string> },
  {
    name: 'embedded, MAX_PROPERTY_PATHS=1',
    server: false,
    env: { MAX_PROPERTY_PATHS: '1' },
  },
  { name: 'PostgreSQL', server: true, env: {} },
]

for (const variant of VARIANTS)
  describe(`/stats/funnel agrees with the reference on random data (${variant.name})`, {
    skip: variant.server ? await skipUnless('postgres') : false,
  }, () => {
    let db: TestDatabase | undefined
    let t: TestApp
    const posted: ReferenceEvent[] = []
    // how many answers had someone reach the last step, and a breakdown value: the runs must not be vacuous
    const seen = { converted: 0, broken: 0 }

    before(async () => {
      db = variant.server ? await createTestDatabase() : undefined
      t = await startTestApp({ databaseUrl: db?.url, queue: false, env: variant.env })
    })
    after(async () => {
      await t?.close()
      await db?.drop()
    })

    test('every order, window, step filter, exclusion, breakdown and segment', {
      timeout: 300_000,
    }, async () => {
      await fc.assert(
        fc.asyncProperty(runArb, async (input) => {
          const events: ReferenceEvent[] = input.events.map((g) => {
            const at = new Date(`${addDays(BASE_DAY, g.day)}T00:00:00Z`).getTime()
            const properties: Record<string, unknown> = {}
            if (g.p !== undefined) properties.p = g.p
            if (g.q !== undefined) properties.q = g.q
            return {
              event_id: randomUUID(),
              occurred_at: new Date(at + g.minute * 60_000 + g.ms).toISOString(),
              user_id: g.user,
              event_type: g.type,
              properties,
            }
          })
          if (events.length > 0) {
            const res = await t.app.inject({ method: 'POST', url: '/events', payload: events })
            assert.equal(res.statusCode, 201, res.body)
            posted.push(...storeOrder(events))
          }
          await t.deps.analytics!.catchUp()
          for (const q of input.queries) {
            const from = addDays(BASE_DAY, q.from)
            const to = addDays(from, q.days - 1)
            const segment = q.segment.map((f) => `&segment=${encodeURIComponent(renderFilter(f))}`)
            const url = `/stats/funnel?from=${from}&to=${to}&${renderFunnel(q)}${segment.join('')}`
            const want = referenceFunnel(posted, from, to, toRefFunnel(q), matchesAll(q.segment))
            const res = await t.app.inject({ method: 'GET', url })
            assert.equal(res.statusCode, 200, `GET ${url}: ${res.body}`)
            const { steps, breakdown } = want as {
              steps: Array<{ users: number }>
              breakdown?: { values: unknown[] }
            }
            if (steps[steps.length - 1]!.users > 0) seen.converted += 1
            if ((breakdown?.values.length ?? 0) > 0) seen.broken += 1
            assert.ok(
              isDeepStrictEqual(res.json(), want),
              `GET ${decodeURIComponent(url)}\n got ${res.body}\nwant ${JSON.stringify(want)}`,
            )
          }
        }),
        {
          numRuns: Number(process.env.FC_RUNS ?? 40),
          endOnFailure: true,
          ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
        },
      )
      assert.ok(seen.converted >= 10 && seen.broken >= 5, JSON.stringify(seen))
    })
  })
