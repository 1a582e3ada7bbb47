import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'
import { addDays, type ReferenceEvent } from './reference.ts'
import { type Filter, renderFilter } from './reference-segment.ts'
import { referenceOverview, referenceTopPages, referenceVisitGroups } from './web-reference.ts'

// Every /stats/web endpoint against the reference (web-reference.ts) on
// random page views and custom events. As in stats-property.test.ts: one
// database and app for the file, each run only adds events (fresh ids, users
// namespaced per run) and the reference is computed over every event posted
// so far. Events come in trains, each event a drawn gap after the one before:
// ties (0), exactly 30 minutes, 30 minutes and a second, longer; trains start
// late in the day often, so visits cross midnight and range edges.
// Shrinking is off (endOnFailure): the store accumulates. FC_SEED replays.

const BASE_DAY = '2026-06-10'
const PATHS = ['/', '/pricing', '/docs', '/blog/a', '/Blog/a']
const HOSTS = ['', 'www.google.com', 't.co']
const COUNTRIES = ['UA', 'PL', 'US']
const TYPES = ['page_view', 'page_view', '$pageview', 'click', 'signup']

interface GenEvent {
  /** seconds after the previous event of its train: 0 (a tie), minutes, exactly 30 minutes, 30 minutes and a second, more */
  gap: number
  type: string
  path: number | null
  host: number | null
  country: number | null
  width: number | null
}

const genEvent: fc.Arbitrary<GenEvent> = fc.record({
  gap: fc.constantFrom(0, 60, 600, 1799, 1800, 1800, 1801, 1801, 2400, 20_000),
  type: fc.constantFrom(...TYPES),
  path: fc.option(fc.integer({ min: 0, max: PATHS.length - 1 }), { freq: 8 }),
  host: fc.option(fc.integer({ min: 0, max: HOSTS.length - 1 }), { freq: 2 }),
  country: fc.option(fc.integer({ min: 0, max: COUNTRIES.length - 1 }), { freq: 3 }),
  width: fc.option(fc.constantFrom(1920, 390, 768), { freq: 3 }),
})

/** A user's run of events, each a gap after the one before, from a start often late in the day (so visits cross midnight). */
const genTrain = (users: number) =>
  fc.record({
    user: fc.integer({ min: 0, max: users - 1 }),
    day: fc.integer({ min: 0, max: 3 }),
    start: fc.oneof(fc.integer({ min: 0, max: 86_399 }), fc.integer({ min: 84_600, max: 86_399 })),
    events: fc.array(genEvent, { minLength: 1, maxLength: 12 }),
  })

const filterArb: fc.Arbitrary<Filter[]> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Filter[]>([]) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Filter[]>(
      [{ field: ['country'], op: 'eq', values: ['UA'] }],
      [{ field: 'event_type', op: 'eq', values: ['page_view'] }],
      [{ field: ['path'], op: 'ne', values: ['/pricing'] }],
      [{ field: ['referrer_host'], op: 'in', values: ['', 't.co'] }],
    ),
  },
)
const rangeArb = fc.record({
  from: fc.integer({ min: -1, max: 3 }),
  days: fc.integer({ min: 1, max: 4 }),
})

const runArb = fc.integer({ min: 1, max: 5 }).chain((users) =>
  fc.record({
    trains: fc.array(genTrain(users), { maxLength: 12 }),
    overview: fc.record({ range: rangeArb, hour: fc.boolean(), filters: filterArb }),
    pages: fc.record({
      range: rangeArb,
      kind: fc.constantFrom('top', 'entry', 'exit'),
      limit: fc.constantFrom(1, 2, 10, 1000),
      filters: filterArb,
    }),
    breakdown: fc.record({
      range: rangeArb,
      by: fc.constantFrom('referrer_host', 'country', 'screen_width', 'utm_source'),
      limit: fc.constantFrom(1, 3, 1000),
      filters: filterArb,
    }),
  }),
)

describe('GET /stats/web/* agrees with the reference on random data', {
  skip: await skipUnless('postgres'),
}, () => {
  let db: TestDatabase
  let t: TestApp
  const posted: ReferenceEvent[] = []
  let run = 0

  before(async () => {
    db = await createTestDatabase()
    t = await startTestApp({ databaseUrl: db.url, queue: false })
  })
  after(async () => {
    await t?.close()
    await db?.drop()
  })

  async function check(url: string, expected: unknown): Promise<void> {
    const res = await t.app.inject({ method: 'GET', url })
    assert.equal(res.statusCode, 200, `GET ${url}: ${res.body}`)
    const actual: unknown = res.json()
    if (!isDeepStrictEqual(actual, expected))
      assert.fail(
        `GET ${url} (run ${run}, ${posted.length} events so far) differs from the reference:\n` +
          `expected ${JSON.stringify(expected)}\ngot      ${JSON.stringify(actual)}`,
      )
  }

  const days = (r: { from: number; days: number }) => {
    const from = addDays(BASE_DAY, r.from)
    return { from, to: addDays(from, r.days - 1) }
  }
  const query = (filters: Filter[]) =>
    filters.map((f) => `&segment=${encodeURIComponent(renderFilter(f))}`).join('')

  test('overview, pages and breakdown equal the reference', { timeout: 300_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(runArb, async (input) => {
        run += 1
        const events: ReferenceEvent[] = input.trains.flatMap((train) => {
          let ms = Date.parse(`${addDays(BASE_DAY, train.day)}T00:00:00Z`) + train.start * 1000
          return train.events.map((g) => {
            ms += g.gap * 1000
            const properties: Record<string, unknown> = {}
            if (g.path !== null) properties.path = PATHS[g.path]
            if (g.host !== null) properties.referrer_host = HOSTS[g.host]
            if (g.country !== null) properties.country = COUNTRIES[g.country]
            if (g.width !== null) properties.screen_width = g.width
            return {
              event_id: randomUUID(),
              occurred_at: new Date(ms).toISOString(),
              user_id: `r${run}-u${train.user}`,
              event_type: g.type,
              properties,
            }
          })
        })
        if (events.length > 0) {
          const res = await t.app.inject({ method: 'POST', url: '/events', payload: events })
          assert.equal(res.statusCode, 201, res.body)
          posted.push(...events)
        }
        await t.deps.analytics!.catchUp()

        const o = input.overview
        const or = days(o.range)
        const interval = o.hour ? 'hour' : 'day'
        await check(
          `/stats/web/overview?from=${or.from}&to=${or.to}&interval=${interval}${query(o.filters)}`,
          referenceOverview(posted, or.from, or.to, interval, o.filters),
        )
        const p = input.pages
        const pr = days(p.range)
        const rows =
          p.kind === 'top'
            ? referenceTopPages(posted, pr.from, pr.to, p.limit, p.filters)
            : referenceVisitGroups(
                posted,
                pr.from,
                pr.to,
                'path',
                p.kind as 'entry' | 'exit',
                p.limit,
                p.filters,
              )
        await check(
          `/stats/web/pages?from=${pr.from}&to=${pr.to}&kind=${p.kind}&limit=${p.limit}${query(p.filters)}`,
          { kind: p.kind, rows },
        )
        const b = input.breakdown
        const br = days(b.range)
        await check(
          `/stats/web/breakdown?from=${br.from}&to=${br.to}&by=${b.by}&limit=${b.limit}${query(b.filters)}`,
          {
            by: b.by,
            rows: referenceVisitGroups(posted, br.from, br.to, b.by, 'entry', b.limit, b.filters),
          },
        )
      }),
      {
        numRuns: 40,
        endOnFailure: true,
        ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
      },
    )
  })
})
