import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { getOk, startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'

// /stats/trends on a few events worked out by hand. 2026-11-30 is a Monday,
// 2026-11-29 a Sunday.
let n = 0
const E = (user: string, at: string, type: string, properties?: Record<string, unknown>) => ({
  event_id: `7e000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
  occurred_at: at,
  user_id: user,
  event_type: type,
  ...(properties ? { properties } : {}),
})
const EVENTS = [
  E('ann', '2026-11-22T10:00:00Z', 'buy', { amount: 5 }), // the week before: previous period
  E('ann', '2026-11-29T23:59:59.999Z', 'buy', { amount: 10 }), // Sunday: week of 11-23
  E('ann', '2026-11-30T00:00:00Z', 'buy', { amount: 20 }), // Monday: week of 11-30, and November
  E('ben', '2026-11-30T12:00:00Z', 'buy', { amount: 'x' }), // not a number: no amount
  E('ben', '2026-12-01T00:00:00Z', 'buy'), // December
  E('ben', '2026-12-01T01:00:00Z', 'view'),
  E('cat', '2026-12-03T09:00:00Z', 'buy', { amount: 2.5 }),
]

const stores = [
  { name: 'embedded', server: false, skip: false as const },
  { name: 'PostgreSQL', server: true, skip: await skipUnless('postgres') },
]

for (const store of stores)
  describe(`GET /stats/trends on fixed data (${store.name})`, { skip: store.skip }, () => {
    let db: TestDatabase | undefined
    let t: TestApp
    const trends = (q: string) => getOk(t.app, `/stats/trends?${q}`)

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

    test('weeks start on Monday; the first week is cut to the range', async () => {
      assert.deepEqual(await trends('from=2026-11-29&to=2026-12-06&interval=week&event_type=buy'), {
        interval: 'week',
        from: '2026-11-29',
        to: '2026-12-06',
        series: [
          {
            event_type: 'buy',
            measure: 'count',
            points: [
              { start: '2026-11-23', value: 1 }, // only Sunday 11-29 is in the range
              { start: '2026-11-30', value: 4 },
            ],
          },
        ],
      })
    })

    test('months, empty intervals, and a numeric property', async () => {
      const series = (measure: string) =>
        `series=${encodeURIComponent(JSON.stringify({ event_type: 'buy', measure }))}`
      const answer = await trends(
        `from=2026-10-15&to=2026-12-31&interval=month&${series('sum:properties.amount')}&${series('avg:properties.amount')}&${series('max:properties.amount')}&${series('unique_users')}`,
      )
      const values = answer.series.map((s: { points: Array<{ value: unknown }> }) =>
        s.points.map((p) => p.value),
      )
      assert.deepEqual(values, [
        [0, 35, 2.5], // October: nothing; November 5 + 10 + 20 ("x" is no number); December 2.5
        [null, 35 / 3, 2.5],
        [null, 20, 2.5],
        [0, 2, 2], // November ann and ben (his amount is no number, but he bought); December ben and cat
      ])
      assert.deepEqual(
        answer.series[0].points.map((p: { start: string }) => p.start),
        ['2026-10-01', '2026-11-01', '2026-12-01'],
      )
    })

    test('compare=previous: point i against the same stretch, the range’s length earlier', async () => {
      const answer = await trends(
        'from=2026-11-29&to=2026-12-05&interval=day&event_type=buy&measure=unique_users&compare=previous',
      )
      const [s] = answer.series
      assert.deepEqual(
        s.points.map((p: { value: number }) => p.value),
        [1, 2, 1, 0, 1, 0, 0], // 11-29 ann; 11-30 ann ben; 12-01 ben; 12-03 cat
      )
      assert.deepEqual(s.previous[0], { start: '2026-11-22', value: 1 }) // ann, 7 days before 11-29
      assert.deepEqual(
        s.previous.slice(1).map((p: { value: number }) => p.value),
        [0, 0, 0, 0, 0, 0],
      )
    })

    test('per_user: events per active user, median and p90', async () => {
      const answer = await trends('from=2026-11-29&to=2026-12-05&interval=week&measure=per_user')
      assert.deepEqual(answer.series[0].points, [
        { start: '2026-11-23', value: 1, median: 1, p90: 1 }, // ann 1
        // ann 1, ben 3, cat 1: sorted 1 1 3; median 1; p90 at 1.8 → 1 + (3 − 1) × 0.8
        { start: '2026-11-30', value: 5 / 3, median: 1, p90: 1 + 2 * (1.8 - 1) },
      ])
    })

    test('bad series are 422s naming the series and member', async () => {
      const res = await t.app.inject({
        method: 'GET',
        url: `/stats/trends?from=2026-11-29&to=2026-12-05&series=${encodeURIComponent('{"measure":"median","x":1}')}&series=nope&event_type=buy`,
      })
      assert.equal(res.statusCode, 422, res.body)
      assert.deepEqual(res.json().errors, [
        { field: 'series[0].x', message: 'unknown member' },
        {
          field: 'series[0].measure',
          message:
            'must be count, unique_users, per_user, or sum|avg|min|max:properties.<path> (a numeric property)',
        },
        { field: 'series[1]', message: 'must be a JSON object' },
        { field: 'event_type', message: 'give it inside each series= instead' },
      ])
    })
  })
