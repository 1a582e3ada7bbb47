import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import {
  addDays,
  type ReferenceEvent,
  referenceDau,
  referenceRetention,
  referenceTopEvents,
} from './reference.ts'
import {
  type Filter,
  matchesAll,
  type Op,
  referenceBreakdown,
  renderFilter,
} from './reference-segment.ts'

// Filtered DAU, top events and retention against the plain computation of
// ./reference-segment.ts, on random events with random properties. As in
// stats-property.test.ts, one app for the file and each run only adds events;
// the reference sees every event posted so far. The property keys come from a
// pool of 40, and the suite runs three times: as configured by default (one
// property filter reads the rollups, more read event_props); with
// MAX_PROPERTY_PATHS=3 (past the first 3 paths filters read the raw JSON); and
// with MAX_ROLLUP_VALUES=4 (paths lose their rollups as runs add values, and
// filters on them go back to event_props). All must agree with the reference.

const BASE_DAY = '2026-07-01'
const KEYS = Array.from({ length: 40 }, (_, i) => `k${i}`)
const TYPES = ['view', 'buy', 'Buy', 'signup']
const USERS = ['a', 'b', 'c', 'd', 'e', 'f']
const TEXTS = [
  'a',
  'b',
  'A',
  '5',
  '10',
  '2.5',
  '5.0',
  '1e1',
  '05',
  'true',
  'false',
  'null',
  'é',
  '',
  '-1',
]

const scalar = fc.oneof(
  fc.constantFrom(...TEXTS),
  fc.integer({ min: -2, max: 12 }),
  fc.constantFrom(2.5, 0.5, 10.0),
  fc.boolean(),
  fc.constant(null),
)
const value = fc.oneof(
  { weight: 5, arbitrary: scalar },
  { weight: 1, arbitrary: fc.record({ x: scalar }, { requiredKeys: [] }) },
)
const properties = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  {
    weight: 4,
    arbitrary: fc.dictionary(fc.constantFrom(...KEYS.slice(0, 6), 'o'), value, { maxKeys: 4 }),
  },
  {
    weight: 1,
    arbitrary: fc.dictionary(fc.constantFrom(...KEYS), value, { minKeys: 3, maxKeys: 10 }),
  },
)

const event = fc.record({
  day: fc.integer({ min: 0, max: 20 }),
  user: fc.constantFrom(...USERS),
  type: fc.constantFrom(...TYPES),
  properties,
})

const OPS: Op[] = ['eq', 'ne', 'in', 'gt', 'gte', 'lt', 'lte', 'exists']
const filter: fc.Arbitrary<Filter> = fc
  .oneof(
    fc.record({
      field: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...KEYS.slice(0, 6), 'o').map((k) => [k]) },
        { weight: 1, arbitrary: fc.constantFrom(...KEYS).map((k) => [k]) },
        { weight: 1, arbitrary: fc.constant<string[]>(['o', 'x']) },
      ),
      op: fc.constantFrom(...OPS),
      values: fc.array(fc.constantFrom(...TEXTS.filter((t) => t !== '')), {
        minLength: 1,
        maxLength: 3,
      }),
    }),
    fc.record({
      field: fc.constantFrom('event_type' as const, 'user_id' as const),
      op: fc.constantFrom(...OPS.filter((op) => op !== 'exists')),
      values: fc.array(fc.constantFrom(...TYPES, ...USERS, 'c0'), { minLength: 1, maxLength: 3 }),
    }),
  )
  .map((f) => ({
    ...f,
    values: f.op === 'in' ? f.values : f.op === 'exists' ? [] : f.values.slice(0, 1),
  }))

const runArb = fc.record({
  events: fc.array(event, { maxLength: 120 }),
  queries: fc.array(
    fc.record({
      from: fc.integer({ min: 0, max: 15 }),
      days: fc.integer({ min: 1, max: 20 }),
      segment: fc.array(filter, { minLength: 1, maxLength: 2 }),
      cohort: fc.array(filter, { maxLength: 1 }),
      return: fc.array(filter, { maxLength: 1 }),
      by: fc.oneof(
        {
          weight: 4,
          arbitrary: fc.constantFrom(...KEYS.slice(0, 6), 'o').map((k): Filter['field'] => [k]),
        },
        {
          weight: 1,
          arbitrary: fc.constantFrom<Filter['field']>(
            ['o', 'x'],
            [KEYS[30]!],
            'event_type',
            'user_id',
          ),
        },
      ),
      limit: fc.integer({ min: 1, max: 4 }),
      breakdownFilters: fc.array(filter, { maxLength: 2 }),
    }),
    { minLength: 3, maxLength: 3 },
  ),
})

const VARIANTS: Array<Record<string, string>> = [
  {},
  { MAX_PROPERTY_PATHS: '3' },
  { MAX_ROLLUP_VALUES: '4' },
]
for (const variant of VARIANTS)
  describe(`filtered stats agree with the reference on random data (${JSON.stringify(variant)})`, () => {
    const maxPaths = variant.MAX_PROPERTY_PATHS ? Number(variant.MAX_PROPERTY_PATHS) : undefined
    let t: TestApp
    const posted: ReferenceEvent[] = []

    before(async () => {
      t = await startTestApp({ queue: false, env: variant })
    })
    after(async () => {
      await t?.close()
    })

    async function check(url: string, expected: unknown): Promise<void> {
      const res = await t.app.inject({ method: 'GET', url })
      assert.equal(res.statusCode, 200, `GET ${url}: ${res.body}`)
      assert.ok(
        isDeepStrictEqual(res.json(), expected),
        `GET ${decodeURIComponent(url)}\n got ${res.body}\nwant ${JSON.stringify(expected)}`,
      )
    }

    test('segment=, cohort_segment= and return_segment= equal the reference, on /stats/cohorts and /stats/breakdown too', {
      timeout: 180_000,
    }, async () => {
      await fc.assert(
        fc.asyncProperty(runArb, async (input) => {
          const events: ReferenceEvent[] = input.events.map((g) => ({
            event_id: randomUUID(),
            occurred_at: `${addDays(BASE_DAY, g.day)}T10:00:00Z`,
            user_id: g.user,
            event_type: g.type,
            ...(g.properties ? { properties: g.properties } : {}),
          }))
          if (events.length > 0) {
            const res = await t.app.inject({
              method: 'POST',
              url: '/events',
              payload: events as object[],
            })
            assert.equal(res.statusCode, 201, res.body)
            posted.push(...events)
          }
          await t.deps.analytics!.catchUp()

          for (const q of input.queries) {
            const from = addDays(BASE_DAY, q.from)
            const to = addDays(from, q.days - 1)
            const params = (name: string, filters: Filter[]) =>
              filters.map((f) => `&${name}=${encodeURIComponent(renderFilter(f))}`).join('')
            const kept = posted.filter(matchesAll(q.segment))
            await check(
              `/stats/dau?from=${from}&to=${to}${params('segment', q.segment)}`,
              referenceDau(kept, from, to),
            )
            await check(
              `/stats/top-events?from=${from}&to=${to}&limit=1000${params('segment', q.segment)}`,
              referenceTopEvents(kept, from, to, 1000),
            )
            const filters = { cohort: matchesAll(q.cohort), return: matchesAll(q.return) }
            await check(
              `/stats/retention?start_date=${from}&windows=2${params('cohort_segment', q.cohort)}${params('return_segment', q.return)}`,
              referenceRetention(posted, from, 2, filters),
            )
            const by = Array.isArray(q.by) ? `properties.${q.by.join('.')}` : q.by
            await check(
              `/stats/breakdown?from=${from}&to=${to}&by=${by}&limit=${q.limit}${params('segment', q.breakdownFilters)}`,
              referenceBreakdown(posted, from, to, q.by, q.limit, matchesAll(q.breakdownFilters)),
            )
            // every weekly cohort of the range at once, each as /stats/retention would answer it
            const weeks = Math.floor((q.days - 1) / 7) + 1
            await check(
              `/stats/cohorts?from=${from}&to=${to}${params('cohort_segment', q.cohort)}${params('return_segment', q.return)}`,
              {
                from,
                to,
                cohorts: Array.from({ length: weeks }, (_, c) => {
                  const r = referenceRetention(
                    posted,
                    addDays(from, 7 * c),
                    Math.max(1, weeks - 1 - c),
                    filters,
                  )
                  return { ...r, retention: r.retention.slice(0, weeks - 1 - c) }
                }),
              },
            )
          }
        }),
        {
          numRuns: 80,
          endOnFailure: true,
          ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
        },
      )
    })

    test(
      maxPaths
        ? 'the paths ran out, so some filters read the raw JSON'
        : 'every path met was numbered',
      async () => {
        const paths = t.deps.analytics!.replica.paths
        assert.equal(paths.complete, maxPaths === undefined)
        if (maxPaths) assert.equal(paths.size, maxPaths)
        else assert.ok(paths.size > 30, `${paths.size} paths`)
        const retired = Array.from({ length: paths.size }, (_, id) => id).filter(
          (id) => !paths.rolledUp(id),
        ).length
        if (variant.MAX_ROLLUP_VALUES)
          assert.ok(
            retired > 0 && retired < paths.size,
            `${retired} of ${paths.size} paths lost their rollups`,
          )
        // Exactly the paths with more values than the limit lost their rollups, whatever the limit.
        const limit = t.config.analytics.maxRollupValues
        const crowded = await t.deps.analytics!.replica.query<{ path_id: number }>(
          `SELECT path_id FROM event_props GROUP BY path_id HAVING count(DISTINCT (type, coalesce(text, ''))) > ${limit} ORDER BY path_id`,
        )
        const notRolledUp = Array.from({ length: paths.size }, (_, id) => id).filter(
          (id) => !paths.rolledUp(id),
        )
        assert.deepEqual(
          notRolledUp,
          crowded.map((r) => Number(r.path_id)),
        )
      },
    )
  })
