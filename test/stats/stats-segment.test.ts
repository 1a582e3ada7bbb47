import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { getOk, startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'

// Filters (segment=, cohort_segment=, return_segment=) and /stats/breakdown on
// a small data set whose answers were worked out by hand, in the comments
// next to each literal. All in May 2026, at noon UTC:
const E = (
  n: number,
  user: string,
  day: number,
  type: string,
  properties?: Record<string, unknown>,
) => ({
  event_id: `5e9a0000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  occurred_at: `2026-05-${String(day).padStart(2, '0')}T12:00:00Z`,
  user_id: user,
  event_type: type,
  ...(properties ? { properties } : {}),
})
const EVENTS = [
  E(1, 'ann', 1, 'signup', { plan: 'pro', country: 'UA', amount: 10, device: { os: 'ios' } }),
  E(2, 'ann', 1, 'purchase', { plan: 'pro', amount: 120.5, country: 'UA' }),
  E(3, 'ann', 9, 'purchase', { amount: '200', country: 'UA' }), // amount is a string here
  E(4, 'ben', 2, 'signup', { plan: 'free', country: 'PL', device: { os: 'android' } }),
  E(5, 'ben', 9, 'page_view', { country: 'PL', beta: true }),
  E(6, 'cat', 3, 'signup', { plan: 'team', country: 'UA', beta: false, coupon: null }),
  E(7, 'cat', 10, 'purchase', { plan: 'team', amount: 99, country: 'DE' }),
  E(8, 'dan', 3, 'page_view'),
  E(9, 'dan', 4, 'signup', { plan: 'pro', country: 'US', tags: ['a', 'b'] }),
  E(10, 'dan', 16, 'purchase', { amount: 100, country: 'US' }),
  E(11, 'eve', 9, 'signup', { plan: 'free', country: 'UA', n: '5' }),
  E(12, 'eve', 9, 'page_view', { n: 5 }),
]

const stores = [
  { name: 'embedded', server: false, skip: false as const },
  { name: 'PostgreSQL', server: true, skip: await skipUnless('postgres') },
]

for (const store of stores)
  describe(`stats filters and breakdown (${store.name})`, { skip: store.skip }, () => {
    let db: TestDatabase | undefined
    let t: TestApp
    const get = (url: string) => t.app.inject({ method: 'GET', url })
    const ok = (url: string): Promise<unknown> => getOk(t.app, url)
    const top = (segments: string) =>
      ok(`/stats/top-events?from=2026-05-01&to=2026-05-31&${segments}`)
    const s = (...filters: string[]) =>
      filters.map((f) => `segment=${encodeURIComponent(f)}`).join('&')

    before(async () => {
      db = store.server ? await createTestDatabase() : undefined
      t = await startTestApp({ databaseUrl: db?.url, queue: false })
      const res = await t.app.inject({ method: 'POST', url: '/events', payload: EVENTS })
      assert.equal(res.statusCode, 201, res.body)
      await t.deps.analytics!.catchUp()
    })
    after(async () => {
      await t?.close()
      await db?.drop()
    })

    test('DAU counts only the users with a matching event that day', async () => {
      assert.deepEqual(
        await ok(`/stats/dau?from=2026-05-01&to=2026-05-04&${s('properties.country:UA')}`),
        [
          { date: '2026-05-01', unique_users: 1 }, // ann (E1, E2)
          { date: '2026-05-02', unique_users: 0 }, // ben is PL
          { date: '2026-05-03', unique_users: 1 }, // cat (E6)
          { date: '2026-05-04', unique_users: 0 }, // dan is US
        ],
      )
    })

    test('eq is the default; in takes a list; filters on event_type and user_id', async () => {
      assert.deepEqual(await top(s('properties.plan:in:pro,team')), [
        { event_type: 'signup', count: 3, unique_users: 3 }, // E1 E6 E9
        { event_type: 'purchase', count: 2, unique_users: 2 }, // E2 E7
      ])
      assert.deepEqual(await top(s('event_type:purchase')), [
        { event_type: 'purchase', count: 4, unique_users: 3 },
      ]) // E2 E3 E7 E10
      assert.deepEqual(await top(s('event_type:ne:signup', 'user_id:ann')), [
        { event_type: 'purchase', count: 2, unique_users: 1 },
      ]) // E2 E3
      assert.deepEqual(await top(s('user_id:in:ben,cat')), [
        { event_type: 'signup', count: 2, unique_users: 2 }, // E4 E6
        { event_type: 'page_view', count: 1, unique_users: 1 }, // E5
        { event_type: 'purchase', count: 1, unique_users: 1 }, // E7
      ])
      assert.deepEqual(await top(s('user_id:gt:cat')), [
        { event_type: 'page_view', count: 2, unique_users: 2 }, // E8 dan, E12 eve
        { event_type: 'signup', count: 2, unique_users: 2 }, // E9 E11
        { event_type: 'purchase', count: 1, unique_users: 1 }, // E10
      ])
      assert.deepEqual(await top(s('properties.country:UA', 'event_type:purchase')), [
        { event_type: 'purchase', count: 2, unique_users: 1 },
      ])
    })

    test('values compare as the JSON type they have in the event', async () => {
      // numbers numerically, the string "200" as text ("200" > "100")
      assert.deepEqual(await top(s('properties.amount:gt:100')), [
        { event_type: 'purchase', count: 2, unique_users: 1 },
      ]) // E2 120.5, E3 "200"
      assert.deepEqual(await top(s('properties.amount:gte:100')), [
        { event_type: 'purchase', count: 3, unique_users: 2 },
      ]) // + E10 100
      assert.deepEqual(await top(s('properties.amount:lt:100')), [
        { event_type: 'purchase', count: 1, unique_users: 1 }, // E7 99
        { event_type: 'signup', count: 1, unique_users: 1 }, // E1 10 ("200" < "100" is false as text)
      ])
      assert.deepEqual(await top(s('properties.amount:lte:10')), [
        { event_type: 'signup', count: 1, unique_users: 1 },
      ]) // E1
      assert.deepEqual(await top(s('properties.amount:200')), [
        { event_type: 'purchase', count: 1, unique_users: 1 },
      ]) // E3, the string
      assert.deepEqual(await top(s('properties.amount:120.50')), [
        { event_type: 'purchase', count: 1, unique_users: 1 },
      ]) // E2, as a number
      assert.deepEqual(await top(s('properties.n:5')), [
        { event_type: 'page_view', count: 1, unique_users: 1 }, // E12, the number 5
        { event_type: 'signup', count: 1, unique_users: 1 }, // E11, the string "5"
      ])
      assert.deepEqual(await top(s('properties.beta:true')), [
        { event_type: 'page_view', count: 1, unique_users: 1 },
      ]) // E5
      assert.deepEqual(await top(s('properties.beta:false')), [
        { event_type: 'signup', count: 1, unique_users: 1 },
      ]) // E6
      assert.deepEqual(await top(s('properties.coupon:null')), [
        { event_type: 'signup', count: 1, unique_users: 1 },
      ]) // E6
    })

    test('exists, ne (which keeps events without the property) and nested paths', async () => {
      assert.deepEqual(await top(s('properties.coupon:exists')), [
        { event_type: 'signup', count: 1, unique_users: 1 },
      ]) // E6, null but there
      assert.deepEqual(await top(s('properties.device:exists')), [
        { event_type: 'signup', count: 2, unique_users: 2 },
      ]) // E1 E4
      assert.deepEqual(await top(s('properties.device.os:ios')), [
        { event_type: 'signup', count: 1, unique_users: 1 },
      ]) // E1
      assert.deepEqual(await top(s('properties.tags:exists')), [
        { event_type: 'signup', count: 1, unique_users: 1 },
      ]) // E9
      const total = (rows: unknown) =>
        (rows as Array<{ count: number }>).reduce((sum, r) => sum + r.count, 0)
      assert.equal(total(await top(s('properties.beta:ne:true'))), 11) // all but E5
      assert.equal(total(await top(s('properties.coupon:ne:null'))), 11) // all but E6
      assert.deepEqual(await top(s('properties.nowhere:x')), [])
      assert.deepEqual(await top(s('properties.device.os.version:exists')), [])
    })

    test('weekly retention with segment, cohort_segment and return_segment', async () => {
      const url = (q: string) => `/stats/retention?start_date=2026-05-01&windows=2&${q}`
      const weeks = (retained: number[], size: number) =>
        retained.map((r, i) => ({
          week: i + 1,
          week_start: ['2026-05-08', '2026-05-15'][i],
          retained_users: r,
          retention_rate: size === 0 ? 0 : Math.round((r * 1000) / size) / 10,
        }))
      // First seen: ann 05-01, ben 05-02, cat 05-03, dan 05-03; eve 05-09 is outside.
      assert.deepEqual(await ok(url('')), {
        start_date: '2026-05-01',
        cohort_size: 4,
        retention: weeks([3, 1], 4),
      }) // ann ben cat; dan
      // Signed up in the week (ann, ben, cat, dan) and came back to purchase: ann 05-09, cat 05-10; dan 05-16.
      assert.deepEqual(
        await ok(url('cohort_segment=event_type:signup&return_segment=event_type:purchase')),
        {
          start_date: '2026-05-01',
          cohort_size: 4,
          retention: weeks([2, 1], 4),
        },
      )
      // UA both ways: first UA event in the week: ann, cat; back with a UA event: ann (E3); cat's E7 is DE.
      assert.deepEqual(await ok(url(s('properties.country:UA'))), {
        start_date: '2026-05-01',
        cohort_size: 2,
        retention: weeks([1, 0], 2),
      })
      // Only the return filtered: all 4 in the cohort, a purchase afterwards: ann, cat; then dan.
      assert.deepEqual(await ok(url('return_segment=event_type:purchase')), {
        start_date: '2026-05-01',
        cohort_size: 4,
        retention: weeks([2, 1], 4),
      })
      // The first UA event of eve is on 05-09, so she is a daily cohort of one there; nobody returns on 05-10.
      assert.deepEqual(
        await ok(
          `/stats/retention?start_date=2026-05-09&period=day&windows=1&${s('properties.country:UA')}`,
        ),
        {
          start_date: '2026-05-09',
          period: 'day',
          cohort_size: 1,
          retention: [{ day: 1, date: '2026-05-10', retained_users: 0, retention_rate: 0 }],
        },
      )
    })

    describe('GET /stats/breakdown', () => {
      const breakdown = (q: string) => ok(`/stats/breakdown?from=2026-05-01&to=2026-05-31&${q}`)

      test('top values, the rest as other, the events without the property as not set', async () => {
        assert.deepEqual(await breakdown('by=properties.country&limit=2'), {
          by: 'properties.country',
          values: [
            { value: 'UA', count: 5, unique_users: 3 }, // E1 E2 E3 E6 E11: ann cat eve
            { value: 'PL', count: 2, unique_users: 1 }, // E4 E5: ben; ties US on both counts, and PL < US
          ],
          other: { values: 2, count: 3, unique_users: 2 }, // US (E9 E10 dan), DE (E7 cat)
          not_set: { count: 2 }, // E8 dan, E12 eve
        })
      })

      test('a value keeps its JSON type; event_type= narrows; by=event_type', async () => {
        assert.deepEqual(await breakdown('by=properties.n'), {
          by: 'properties.n',
          values: [
            { value: 5, count: 1, unique_users: 1 },
            { value: '5', count: 1, unique_users: 1 },
          ],
          other: { values: 0, count: 0, unique_users: 0 },
          not_set: { count: 10 },
        })
        assert.deepEqual(await breakdown('by=properties.plan&event_type=signup'), {
          by: 'properties.plan',
          values: [
            { value: 'free', count: 2, unique_users: 2 }, // E4 E11
            { value: 'pro', count: 2, unique_users: 2 }, // E1 E9
            { value: 'team', count: 1, unique_users: 1 }, // E6
          ],
          other: { values: 0, count: 0, unique_users: 0 },
          not_set: { count: 0 },
        })
        assert.deepEqual(await breakdown('by=event_type&limit=1'), {
          by: 'event_type',
          values: [{ value: 'signup', count: 5, unique_users: 5 }],
          other: { values: 2, count: 7, unique_users: 5 }, // purchase (ann cat dan), page_view (ben dan eve)
          not_set: { count: 0 },
        })
        assert.deepEqual(
          ((await breakdown('by=properties.device')) as { values: unknown[] }).values,
          [
            { value: { os: 'android' }, count: 1, unique_users: 1 },
            { value: { os: 'ios' }, count: 1, unique_users: 1 },
          ],
        )
      })
    })

    describe('bad filters are 422 naming the filter; nothing is pasted into SQL', () => {
      async function invalid(url: string, field: string, message: RegExp) {
        const res = await get(url)
        assert.equal(res.statusCode, 422, `${url}: ${res.body}`)
        const error = (res.json().errors as Array<{ field: string; message: string }>).find(
          (e) => e.field === field,
        )
        assert.ok(error && message.test(error.message), `${url}: ${res.body}`)
      }

      test('malformed filters', async () => {
        const dau = '/stats/dau?from=2026-05-01&to=2026-05-02&'
        await invalid(
          dau + s('country:UA'),
          'segment',
          /^"country:UA": the field must be event_type, user_id, properties.<path> or user.<trait>/,
        )
        await invalid(dau + s('properties.country'), 'segment', /expected field:value/)
        await invalid(dau + s('properties.a b:x'), 'segment', /property path/)
        await invalid(dau + s('properties.:x'), 'segment', /property path/)
        await invalid(dau + s("properties.x');DROP TABLE events;--:1"), 'segment', /property path/)
        await invalid(dau + s('event_type:exists'), 'segment', /exists applies to properties only/)
        await invalid(
          dau + s(...Array.from({ length: 11 }, () => 'event_type:a')),
          'segment',
          /at most 10 filters/,
        )
        await invalid(
          '/stats/retention?start_date=2026-05-01&cohort_segment=plan:pro',
          'cohort_segment',
          /the field must be/,
        )
        await invalid('/stats/breakdown?from=2026-05-01&to=2026-05-02', 'by', /is required/)
        await invalid(
          '/stats/breakdown?from=2026-05-01&to=2026-05-02&by=properties.a..b',
          'by',
          /property path/,
        )
      })

      test('values that look like SQL are matched literally', async () => {
        assert.deepEqual(await top(s("properties.country:UA' OR '1'='1")), [])
        assert.deepEqual(await top(s("event_type:x') OR TRUE --")), [])
        assert.deepEqual(await top(s('user_id:in:ann) OR (1=1')), [])
        // and the data is still all there
        const rows = (await top('')) as Array<{ count: number }>
        assert.equal(
          rows.reduce((sum, r) => sum + r.count, 0),
          12,
        )
      })
    })
  })
