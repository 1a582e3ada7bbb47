import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { getOk, startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'

// The three analytics endpoints on a small data set whose answers were worked
// out by hand (they are literals below, not computed by ./reference.ts).
//
// The UTC day of every event, and each user's first event ever:
//
//   zed    03-01 (E01, 01:00+02:00 is 23:00Z the day before), 03-03, 03-10   first 03-01 23:00Z
//   alice  03-02 ×3 (00:00Z, 08:15Z, 23:59:59.999999Z), 03-15 (E07, 00:00+02:00 is 22:00Z), 03-29 (last instant)
//                                                                             first 03-02 00:00Z
//   bob    03-08 (last instant), 03-09 ×2 (00:00Z first), 03-16                first 03-08 23:59:59.999999Z
//   carol  03-09 ×2 (E13 20:00-05:00 on 03-08 is 03-09 01:00Z), 03-10 (last instant), 03-11 (midnight)
//                                                                             first 03-09 01:00Z
//   dave   03-08 (E17 09:00+14:00 on 03-09 is 03-08 19:00Z), 04-06 (midnight)  first 03-08 19:00Z
//   erin   02-20, 02-28 (last instant), 03-02 ×2, 03-03 (E23 00:00+14:00 on 03-04 is 03-03 10:00Z)
//                                                                             first 02-20
//   frank  03-01 (E24 23:59:59.999999-12:00 on 02-28 is 03-01 11:59:59.999999Z) first 03-01
//   grace  03-01 (00:00Z)                                                     first 03-01 00:00Z
const EVENTS = [
  {
    event_id: '5e1a0000-0000-4000-8000-000000000001',
    occurred_at: '2026-03-02T01:00:00+02:00',
    user_id: 'zed',
    event_type: 'page_view',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000002',
    occurred_at: '2026-03-03T12:00:00Z',
    user_id: 'zed',
    event_type: 'click',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000003',
    occurred_at: '2026-03-10T12:00:00Z',
    user_id: 'zed',
    event_type: 'page_view',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000004',
    occurred_at: '2026-03-02T00:00:00Z',
    user_id: 'alice',
    event_type: 'signup',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000005',
    occurred_at: '2026-03-02T08:15:00Z',
    user_id: 'alice',
    event_type: 'page_view',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000006',
    occurred_at: '2026-03-02T23:59:59.999999Z',
    user_id: 'alice',
    event_type: 'page_view',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000007',
    occurred_at: '2026-03-16T00:00:00+02:00',
    user_id: 'alice',
    event_type: 'click',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000008',
    occurred_at: '2026-03-29T23:59:59.999999Z',
    user_id: 'alice',
    event_type: 'purchase',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000009',
    occurred_at: '2026-03-08T23:59:59.999999Z',
    user_id: 'bob',
    event_type: 'signup',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000010',
    occurred_at: '2026-03-09T00:00:00Z',
    user_id: 'bob',
    event_type: 'page_view',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000011',
    occurred_at: '2026-03-09T12:00:00Z',
    user_id: 'bob',
    event_type: 'search',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000012',
    occurred_at: '2026-03-16T10:00:00Z',
    user_id: 'bob',
    event_type: 'click',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000013',
    occurred_at: '2026-03-08T20:00:00-05:00',
    user_id: 'carol',
    event_type: 'signup',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000014',
    occurred_at: '2026-03-09T18:30:00-05:00',
    user_id: 'carol',
    event_type: 'page_view',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000015',
    occurred_at: '2026-03-10T23:59:59.999999Z',
    user_id: 'carol',
    event_type: 'checkout',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000016',
    occurred_at: '2026-03-11T00:00:00Z',
    user_id: 'carol',
    event_type: 'click',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000017',
    occurred_at: '2026-03-09T09:00:00+14:00',
    user_id: 'dave',
    event_type: 'signup',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000018',
    occurred_at: '2026-04-06T00:00:00Z',
    user_id: 'dave',
    event_type: 'purchase',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000019',
    occurred_at: '2026-02-20T12:00:00Z',
    user_id: 'erin',
    event_type: 'page_view',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000020',
    occurred_at: '2026-02-28T23:59:59.999999Z',
    user_id: 'erin',
    event_type: 'click',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000021',
    occurred_at: '2026-03-02T09:00:00Z',
    user_id: 'erin',
    event_type: 'search',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000022',
    occurred_at: '2026-03-02T09:05:00Z',
    user_id: 'erin',
    event_type: 'search',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000023',
    occurred_at: '2026-03-04T00:00:00+14:00',
    user_id: 'erin',
    event_type: 'search',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000024',
    occurred_at: '2026-02-28T23:59:59.999999-12:00',
    user_id: 'frank',
    event_type: 'page_view',
  },
  {
    event_id: '5e1a0000-0000-4000-8000-000000000025',
    occurred_at: '2026-03-01T00:00:00Z',
    user_id: 'grace',
    event_type: 'page_view',
  },
]

// A re-send of E05 with other content: a duplicate, so it must change nothing
// (it would otherwise add a user 'mallory' on the otherwise empty 2026-03-05).
const CHANGED_DUPLICATE = {
  event_id: '5E1A0000-0000-4000-8000-000000000005',
  occurred_at: '2026-03-05T12:00:00Z',
  user_id: 'mallory',
  event_type: 'signup',
}

// The same answers from the embedded store and from a PostgreSQL server.
const stores = [
  { name: 'embedded', server: false, skip: false as const },
  { name: 'PostgreSQL', server: true, skip: await skipUnless('postgres') },
]

for (const store of stores)
  describe(`GET /stats/* on a fixed data set (${store.name})`, { skip: store.skip }, () => {
    let db: TestDatabase | undefined
    let t: TestApp
    const get = (url: string) => t.app.inject({ method: 'GET', url })
    const ok = (url: string): Promise<unknown> => getOk(t.app, url)

    before(async () => {
      db = store.server ? await createTestDatabase() : undefined
      t = await startTestApp({ databaseUrl: db?.url, queue: false })
      const first = await t.app.inject({
        method: 'POST',
        url: '/events',
        payload: { events: EVENTS },
      })
      assert.equal(first.statusCode, 201, first.body)
      assert.equal(first.json().inserted, EVENTS.length)
      const again = await t.app.inject({
        method: 'POST',
        url: '/events',
        payload: [CHANGED_DUPLICATE],
      })
      assert.equal(again.statusCode, 201, again.body)
      assert.deepEqual(
        { inserted: again.json().inserted, duplicates: again.json().duplicates },
        { inserted: 0, duplicates: 1 },
      )
      await t.deps.analytics!.catchUp()
    })
    after(async () => {
      await t?.close()
      await db?.drop()
    })

    // First, so that a sync that resolved too early shows up as that, not as wrong figures below.
    test('after catchUp() every stored event is counted, and the changed duplicate is not', async () => {
      const rows = (await ok(
        '/stats/top-events?from=2026-01-01&to=2026-12-31&limit=1000',
      )) as Array<{ count: number }>
      assert.equal(
        rows.reduce((sum, r) => sum + r.count, 0),
        25,
        'catchUp() resolved before all 25 stored events were in the replica',
      )
      assert.deepEqual(rows, [
        { event_type: 'page_view', count: 9, unique_users: 7 }, // E01 E03 E05 E06 E10 E14 E19 E24 E25
        { event_type: 'click', count: 5, unique_users: 5 }, // E02 E07 E12 E16 E20
        { event_type: 'search', count: 4, unique_users: 2 }, // E11 E21 E22 E23
        { event_type: 'signup', count: 4, unique_users: 4 }, // E04 E09 E13 E17
        { event_type: 'purchase', count: 2, unique_users: 2 }, // E08 E18
        { event_type: 'checkout', count: 1, unique_users: 1 }, // E15
      ])
    })

    describe('GET /stats/dau', () => {
      test('one row per UTC day, ascending, empty days as zeros, each user once a day', async () => {
        assert.deepEqual(await ok('/stats/dau?from=2026-02-27&to=2026-03-12'), [
          { date: '2026-02-27', unique_users: 0 },
          { date: '2026-02-28', unique_users: 1 }, // erin at 23:59:59.999999Z
          { date: '2026-03-01', unique_users: 3 }, // zed (+02:00), frank (-12:00), grace (midnight)
          { date: '2026-03-02', unique_users: 2 }, // alice ×3, erin ×2
          { date: '2026-03-03', unique_users: 2 }, // zed, erin (+14:00 from 03-04)
          { date: '2026-03-04', unique_users: 0 },
          { date: '2026-03-05', unique_users: 0 }, // the changed duplicate is not counted
          { date: '2026-03-06', unique_users: 0 },
          { date: '2026-03-07', unique_users: 0 },
          { date: '2026-03-08', unique_users: 2 }, // bob (last instant), dave (+14:00 from 03-09)
          { date: '2026-03-09', unique_users: 2 }, // bob ×2, carol ×2 (one from -05:00 on 03-08)
          { date: '2026-03-10', unique_users: 2 }, // zed, carol (last instant)
          { date: '2026-03-11', unique_users: 1 }, // carol (midnight)
          { date: '2026-03-12', unique_users: 0 },
        ])
      })

      test('a one-day range', async () => {
        assert.deepEqual(await ok('/stats/dau?from=2026-03-09&to=2026-03-09'), [
          { date: '2026-03-09', unique_users: 2 },
        ])
        assert.deepEqual(await ok('/stats/dau?from=2026-03-04&to=2026-03-04'), [
          { date: '2026-03-04', unique_users: 0 },
        ])
      })

      test('a range with no events at all is all zeros', async () => {
        assert.deepEqual(await ok('/stats/dau?from=2026-05-01&to=2026-05-03'), [
          { date: '2026-05-01', unique_users: 0 },
          { date: '2026-05-02', unique_users: 0 },
          { date: '2026-05-03', unique_users: 0 },
        ])
      })

      test('the longest allowed range, 366 days inclusive, answers every day', async () => {
        const rows = (await ok('/stats/dau?from=2026-01-01&to=2027-01-01')) as Array<{
          date: string
          unique_users: number
        }>
        assert.equal(rows.length, 366)
        assert.equal(rows[0]!.date, '2026-01-01')
        assert.equal(rows[365]!.date, '2027-01-01')
        // The non-zero days: 02-20:1 02-28:1 03-01:3 03-02:2 03-03:2 03-08:2 03-09:2 03-10:2
        // 03-11:1 03-15:1 (alice) 03-16:1 (bob) 03-29:1 (alice) 04-06:1 (dave).
        assert.deepEqual(
          rows.filter((r) => r.unique_users > 0),
          [
            { date: '2026-02-20', unique_users: 1 },
            { date: '2026-02-28', unique_users: 1 },
            { date: '2026-03-01', unique_users: 3 },
            { date: '2026-03-02', unique_users: 2 },
            { date: '2026-03-03', unique_users: 2 },
            { date: '2026-03-08', unique_users: 2 },
            { date: '2026-03-09', unique_users: 2 },
            { date: '2026-03-10', unique_users: 2 },
            { date: '2026-03-11', unique_users: 1 },
            { date: '2026-03-15', unique_users: 1 },
            { date: '2026-03-16', unique_users: 1 },
            { date: '2026-03-29', unique_users: 1 },
            { date: '2026-04-06', unique_users: 1 },
          ],
        )
      })
    })

    describe('GET /stats/top-events', () => {
      // Over 2026-03-01..2026-03-10: page_view E01 E03 E05 E06 E10 E14 E24 E25 (zed alice bob carol
      // frank grace); signup E04 E09 E13 E17 (alice bob carol dave); search E11 E21 E22 E23 (bob erin);
      // checkout E15 (carol); click E02 (zed). Outside: E20 (02-28 23:59:59.999999Z), E16 (03-11 00:00Z).
      const ALL = [
        { event_type: 'page_view', count: 8, unique_users: 6 },
        { event_type: 'search', count: 4, unique_users: 2 }, // ties with signup: 'search' < 'signup'
        { event_type: 'signup', count: 4, unique_users: 4 },
        { event_type: 'checkout', count: 1, unique_users: 1 }, // ties with click: 'checkout' < 'click'
        { event_type: 'click', count: 1, unique_users: 1 },
      ]

      test('by count desc then event_type asc, with distinct users (default limit 10)', async () => {
        assert.deepEqual(await ok('/stats/top-events?from=2026-03-01&to=2026-03-10'), ALL)
        assert.deepEqual(await ok('/stats/top-events?from=2026-03-01&to=2026-03-10&limit=10'), ALL)
      })

      test('limit cuts the list, also between two tied types', async () => {
        assert.deepEqual(
          await ok('/stats/top-events?from=2026-03-01&to=2026-03-10&limit=2'),
          ALL.slice(0, 2),
        )
        assert.deepEqual(
          await ok('/stats/top-events?from=2026-03-01&to=2026-03-10&limit=4'),
          ALL.slice(0, 4),
        )
        assert.deepEqual(
          await ok('/stats/top-events?from=2026-03-01&to=2026-03-10&limit=1'),
          ALL.slice(0, 1),
        )
        assert.deepEqual(
          await ok('/stats/top-events?from=2026-03-01&to=2026-03-10&limit=1000'),
          ALL,
        )
      })

      test('another range: 03-11 (midnight) to 03-31', async () => {
        // click E16 (carol, 03-11 00:00Z), E07 (alice, 03-15 22:00Z), E12 (bob); purchase E08 (alice, 03-29 last instant)
        assert.deepEqual(await ok('/stats/top-events?from=2026-03-11&to=2026-03-31'), [
          { event_type: 'click', count: 3, unique_users: 3 },
          { event_type: 'purchase', count: 1, unique_users: 1 },
        ])
      })

      test('a range without events is an empty list', async () => {
        assert.deepEqual(await ok('/stats/top-events?from=2026-03-04&to=2026-03-07'), [])
      })
    })

    describe('GET /stats/retention', () => {
      test('cohort of 2026-03-02: first event ever in [03-02, 03-09), not merely active then', async () => {
        // Cohort: alice (03-02 00:00Z), dave (03-08 19:00Z), bob (03-08 23:59:59.999999Z) = 3.
        // Not: zed (first 03-01 23:00Z through +02:00, active 03-03), erin (first 02-20, active 03-02),
        // carol (03-09 01:00Z through -05:00), frank, grace (03-01).
        assert.deepEqual(await ok('/stats/retention?start_date=2026-03-02&windows=5'), {
          start_date: '2026-03-02',
          cohort_size: 3,
          retention: [
            // alice 03-15 22:00Z (+02:00 on 03-16), bob 03-09 00:00Z; not zed, not carol
            { week: 1, week_start: '2026-03-09', retained_users: 2, retention_rate: 66.7 },
            // bob 03-16
            { week: 2, week_start: '2026-03-16', retained_users: 1, retention_rate: 33.3 },
            // alice 03-29 23:59:59.999999Z
            { week: 3, week_start: '2026-03-23', retained_users: 1, retention_rate: 33.3 },
            { week: 4, week_start: '2026-03-30', retained_users: 0, retention_rate: 0 },
            // dave 04-06 00:00Z
            { week: 5, week_start: '2026-04-06', retained_users: 1, retention_rate: 33.3 },
          ],
        })
      })

      test('windows defaults to 3', async () => {
        assert.deepEqual(await ok('/stats/retention?start_date=2026-03-02'), {
          start_date: '2026-03-02',
          cohort_size: 3,
          retention: [
            { week: 1, week_start: '2026-03-09', retained_users: 2, retention_rate: 66.7 },
            { week: 2, week_start: '2026-03-16', retained_users: 1, retention_rate: 33.3 },
            { week: 3, week_start: '2026-03-23', retained_users: 1, retention_rate: 33.3 },
          ],
        })
      })

      test('cohort of 2026-03-01 (not a Monday): zed, frank, grace, alice', async () => {
        // Not bob (03-08 23:59:59.999999Z) nor dave (03-08 19:00Z): 03-08 is the first day after.
        assert.deepEqual(await ok('/stats/retention?start_date=2026-03-01&windows=2'), {
          start_date: '2026-03-01',
          cohort_size: 4,
          retention: [
            { week: 1, week_start: '2026-03-08', retained_users: 1, retention_rate: 25 }, // zed 03-10
            { week: 2, week_start: '2026-03-15', retained_users: 1, retention_rate: 25 }, // alice 03-15 22:00Z
          ],
        })
      })

      test('cohort of 2026-03-09: carol only, pushed into it by her -05:00 offset', async () => {
        assert.deepEqual(await ok('/stats/retention?start_date=2026-03-09&windows=1'), {
          start_date: '2026-03-09',
          cohort_size: 1,
          retention: [{ week: 1, week_start: '2026-03-16', retained_users: 0, retention_rate: 0 }],
        })
      })

      test('an empty cohort (bob is active that week, but not new): size 0, rates 0', async () => {
        assert.deepEqual(await ok('/stats/retention?start_date=2026-03-16&windows=2'), {
          start_date: '2026-03-16',
          cohort_size: 0,
          retention: [
            { week: 1, week_start: '2026-03-23', retained_users: 0, retention_rate: 0 },
            { week: 2, week_start: '2026-03-30', retained_users: 0, retention_rate: 0 },
          ],
        })
      })

      test('windows=52 gives 52 weeks', async () => {
        const body = (await ok('/stats/retention?start_date=2026-03-02&windows=52')) as {
          cohort_size: number
          retention: Array<{ week: number; week_start: string }>
        }
        assert.equal(body.cohort_size, 3)
        assert.deepEqual(
          body.retention.map((w) => w.week),
          Array.from({ length: 52 }, (_, i) => i + 1),
        )
        assert.equal(body.retention[51]!.week_start, '2027-03-01')
      })
    })

    describe('invalid parameters are 422 VALIDATION_ERROR naming the parameter', () => {
      const cases: Array<[url: string, fields: string[]]> = [
        // missing
        ['/stats/dau?to=2026-03-10', ['from']],
        ['/stats/dau?from=2026-03-01', ['to']],
        ['/stats/dau?from=&to=2026-03-10', ['from']],
        ['/stats/top-events?to=2026-03-10', ['from']],
        ['/stats/top-events?from=2026-03-01', ['to']],
        ['/stats/retention', ['start_date']],
        ['/stats/retention?windows=3', ['start_date']],
        // malformed dates
        ['/stats/dau?from=2026-02-30&to=2026-03-10', ['from']],
        ['/stats/dau?from=2026-02-29&to=2026-03-10', ['from']], // 2026 is not a leap year
        ['/stats/dau?from=abc&to=2026-03-10', ['from']],
        ['/stats/dau?from=2026-03-01&to=abc', ['to']],
        ['/stats/dau?from=2026-03-01&to=2026-13-01', ['to']],
        ['/stats/top-events?from=2026-02-30&to=2026-03-10', ['from']],
        ['/stats/top-events?from=2026-03-01&to=abc', ['to']],
        ['/stats/retention?start_date=2026-02-30', ['start_date']],
        ['/stats/retention?start_date=abc', ['start_date']],
        // limit out of range or not an integer
        ['/stats/top-events?from=2026-03-01&to=2026-03-10&limit=0', ['limit']],
        ['/stats/top-events?from=2026-03-01&to=2026-03-10&limit=1001', ['limit']],
        ['/stats/top-events?from=2026-03-01&to=2026-03-10&limit=-1', ['limit']],
        ['/stats/top-events?from=2026-03-01&to=2026-03-10&limit=abc', ['limit']],
        ['/stats/top-events?from=2026-03-01&to=2026-03-10&limit=2.5', ['limit']],
        // windows out of range or not an integer
        ['/stats/retention?start_date=2026-03-02&windows=0', ['windows']],
        ['/stats/retention?start_date=2026-03-02&windows=53', ['windows']],
        ['/stats/retention?start_date=2026-03-02&windows=abc', ['windows']],
      ]
      for (const [url, fields] of cases) {
        test(`${url} → ${fields.join(', ')}`, async () => {
          const res = await get(url)
          assert.equal(res.statusCode, 422, res.body)
          assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
          const body = res.json()
          assert.equal(body.status, 422)
          assert.equal(body.code, 'VALIDATION_ERROR')
          assert.deepEqual(
            [...new Set(body.errors.map((e: { field: string }) => e.field))].sort(),
            fields,
          )
          for (const e of body.errors) assert.equal(typeof e.message, 'string')
        })
      }

      // Errors about the pair (from, to): §4 does not say which of the two is named, so either is accepted.
      const rangeCases = [
        '/stats/dau?from=2026-03-10&to=2026-03-01', // from after to
        '/stats/top-events?from=2026-03-10&to=2026-03-09', // from after to, by one day
        '/stats/dau?from=2026-01-01&to=2027-01-02', // 367 days inclusive
        '/stats/top-events?from=2026-01-01&to=2027-01-02',
      ]
      for (const url of rangeCases) {
        test(`${url} → from or to`, async () => {
          const res = await get(url)
          assert.equal(res.statusCode, 422, res.body)
          const body = res.json()
          assert.equal(body.status, 422)
          assert.equal(body.code, 'VALIDATION_ERROR')
          assert.ok(body.errors.length >= 1)
          for (const e of body.errors)
            assert.ok(['from', 'to'].includes(e.field), `unexpected field ${e.field}`)
        })
      }
    })
  })
