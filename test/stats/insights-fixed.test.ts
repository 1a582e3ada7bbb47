import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { getOk, startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'

// Active users, stickiness and lifecycle on a few events worked out by hand.
// 2025-12-01 is a Monday.
let n = 0
const E = (user: string, day: string, type = 'open') => ({
  event_id: `1a000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
  occurred_at: `${day}T12:00:00Z`,
  user_id: user,
  event_type: type,
})
const EVENTS = [
  E('ann', '2025-10-21'), // before everything: ann's first open
  E('ann', '2025-11-02'),
  E('ben', '2025-11-25'),
  E('ben', '2025-12-01'),
  E('ann', '2025-12-02'),
  E('ann', '2025-12-02'),
  E('cat', '2025-12-02', 'buy'),
  E('cat', '2025-12-03'),
  E('ben', '2025-12-08'),
]

const stores = [
  { name: 'embedded', server: false, skip: false as const },
  { name: 'PostgreSQL', server: true, skip: await skipUnless('postgres') },
]

for (const store of stores)
  describe(`active users, stickiness and lifecycle on fixed data (${store.name})`, {
    skip: store.skip,
  }, () => {
    let db: TestDatabase | undefined
    let t: TestApp
    const ok = (url: string) => getOk(t.app, url)

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

    test('active users: windows reach back before from', async () => {
      assert.deepEqual(await ok('/stats/active-users?from=2025-12-01&to=2025-12-02'), [
        // 12-01: ben; 7 days 11-25..12-01: ben; 30 days 11-02..12-01: ann (11-02), ben
        { date: '2025-12-01', dau: 1, wau: 1, mau: 2 },
        // 12-02: ann, cat; 11-26..12-02: ben ann cat; 11-03..12-02: ann ben cat
        { date: '2025-12-02', dau: 2, wau: 3, mau: 3 },
      ])
      assert.deepEqual(
        await ok('/stats/active-users?from=2025-12-02&to=2025-12-02&segment=event_type:buy'),
        [{ date: '2025-12-02', dau: 1, wau: 1, mau: 1 }],
      )
    })

    test('stickiness: users per number of days, or Monday weeks, with the event', async () => {
      assert.deepEqual(
        await ok('/stats/stickiness?from=2025-11-30&to=2025-12-08&event_type=open'),
        {
          interval: 'day',
          intervals: 9,
          // ben 12-01, 12-08: 2 days; ann 12-02 (twice): 1; cat 12-03: 1
          counts: [1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => ({
            intervals: k,
            users: k === 1 ? 2 : k === 2 ? 1 : 0,
          })),
        },
      )
      assert.deepEqual(
        await ok('/stats/stickiness?from=2025-11-30&to=2025-12-08&event_type=open&interval=week'),
        {
          interval: 'week',
          intervals: 3, // weeks of 11-24 (only its Sunday), 12-01, 12-08 (only its Monday)
          counts: [
            { intervals: 1, users: 2 }, // ann, cat
            { intervals: 2, users: 1 }, // ben: 12-01 and 12-08
            { intervals: 3, users: 0 },
          ],
        },
      )
    })

    test('lifecycle: new, returning, resurrecting, dormant per month', async () => {
      assert.deepEqual(
        await ok('/stats/lifecycle?from=2025-11-16&to=2025-12-31&interval=month&event_type=open'),
        [
          // November: ann (first open in October: returning), ben new
          { start: '2025-11-01', new: 1, returning: 1, resurrecting: 0, dormant: 0 },
          // December: ann and ben returning, cat new (her buy is not an open)
          { start: '2025-12-01', new: 1, returning: 2, resurrecting: 0, dormant: 0 },
        ],
      )
      assert.deepEqual(
        await ok('/stats/lifecycle?from=2025-12-01&to=2025-12-08&interval=week&event_type=open'),
        [
          // week of 12-01: ben returning (11-25), ann resurrecting (11-02), cat new
          { start: '2025-12-01', new: 1, returning: 1, resurrecting: 1, dormant: 0 },
          // week of 12-08: ben returning; ann and cat dormant
          { start: '2025-12-08', new: 0, returning: 1, resurrecting: 0, dormant: -2 },
        ],
      )
    })

    test('a bad interval is a 422 naming it', async () => {
      const res = await t.app.inject({
        method: 'GET',
        url: '/stats/stickiness?from=2025-11-30&to=2025-12-08&interval=month',
      })
      assert.equal(res.statusCode, 422, res.body)
      assert.deepEqual(res.json().errors, [{ field: 'interval', message: 'must be day or week' }])
    })
  })
