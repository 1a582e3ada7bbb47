import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startTestApp, type TestApp } from '../helpers/app.ts'

// Daily cohorts on a small hand-checked data set (UTC days):
//   ann  first 03-01, then 03-02 and 03-04 (01:30+02:00 on 03-02 is still 03-01 in UTC)
//   bob  first 03-01, then 03-03
//   cid  first 02-28 (before the cohort day), active 03-01 and 03-02: not in the cohort
//   dee  first 03-02: a later cohort
const ev = (n: number, at: string, user: string) => ({
  event_id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  occurred_at: at,
  user_id: user,
  event_type: 'x',
})
const EVENTS = [
  ev(1, '2026-03-01T00:00:00Z', 'ann'),
  ev(2, '2026-03-02T01:30:00+02:00', 'ann'), // 03-01 23:30Z: still day 0
  ev(3, '2026-03-02T00:00:00Z', 'ann'),
  ev(4, '2026-03-04T23:59:59.999999Z', 'ann'),
  ev(5, '2026-03-01T12:00:00Z', 'bob'),
  ev(6, '2026-03-03T08:00:00-05:00', 'bob'), // 03-03 13:00Z
  ev(7, '2026-02-28T23:00:00Z', 'cid'),
  ev(8, '2026-03-01T10:00:00Z', 'cid'),
  ev(9, '2026-03-02T10:00:00Z', 'cid'),
  ev(10, '2026-03-02T10:00:00Z', 'dee'),
]

describe('GET /stats/retention?period=day (embedded)', () => {
  let t: TestApp
  before(async () => {
    t = await startTestApp({ queue: false })
    const res = await t.app.inject({ method: 'POST', url: '/events', payload: EVENTS })
    assert.equal(res.statusCode, 201)
    await t.deps.analytics!.catchUp()
  })
  after(() => t?.close())

  const get = async (url: string) => {
    const res = await t.app.inject(url)
    return { status: res.statusCode, body: res.json() }
  }

  test('the cohort is the users first seen on start_date; day k is start_date + k', async () => {
    assert.deepEqual(
      (await get('/stats/retention?start_date=2026-03-01&period=day&windows=4')).body,
      {
        start_date: '2026-03-01',
        period: 'day',
        cohort_size: 2,
        retention: [
          { day: 1, date: '2026-03-02', retained_users: 1, retention_rate: 50 },
          { day: 2, date: '2026-03-03', retained_users: 1, retention_rate: 50 },
          { day: 3, date: '2026-03-04', retained_users: 1, retention_rate: 50 },
          { day: 4, date: '2026-03-05', retained_users: 0, retention_rate: 0 },
        ],
      },
    )
  })

  test('an empty cohort, and the weekly default unchanged', async () => {
    assert.deepEqual(
      (await get('/stats/retention?start_date=2026-03-05&period=day&windows=1')).body,
      {
        start_date: '2026-03-05',
        period: 'day',
        cohort_size: 0,
        retention: [{ day: 1, date: '2026-03-06', retained_users: 0, retention_rate: 0 }],
      },
    )
    assert.deepEqual((await get('/stats/retention?start_date=2026-02-22&windows=1')).body, {
      start_date: '2026-02-22',
      cohort_size: 1,
      retention: [{ week: 1, week_start: '2026-03-01', retained_users: 1, retention_rate: 100 }],
    })
  })

  test('a bad period, and windows beyond 90 days or 52 weeks, are 422 naming the parameter', async () => {
    for (const [url, field] of [
      ['/stats/retention?start_date=2026-03-01&period=month', 'period'],
      ['/stats/retention?start_date=2026-03-01&period=day&windows=91', 'windows'],
      ['/stats/retention?start_date=2026-03-01&windows=53', 'windows'],
    ] as const) {
      const res = await get(url)
      assert.equal(res.status, 422, url)
      assert.deepEqual(
        res.body.errors.map((e: { field: string }) => e.field),
        [field],
        url,
      )
    }
    assert.equal(
      (await get('/stats/retention?start_date=2026-03-01&period=day&windows=90')).status,
      200,
    )
  })
})
