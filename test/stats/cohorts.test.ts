import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { activity } from '../helpers/activity.ts'
import { getOk, startTestApp, type TestApp } from '../helpers/app.ts'
import { addDays, referenceRetention } from './reference.ts'

// The two read endpoints the dashboard opens with, checked against the oracle
// and against /stats/retention (embedded: no servers needed).
const EVENTS = activity('2026-01-05', 45)

describe('GET /stats/range and /stats/cohorts (embedded)', () => {
  let t: TestApp
  const ok = (url: string) => getOk(t.app, url)

  before(async () => {
    t = await startTestApp({ queue: false })
    const empty = await ok('/stats/range')
    assert.deepEqual(empty, { first_day: null, last_day: null })
    for (let i = 0; i < EVENTS.length; i += 1000) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/events',
        payload: EVENTS.slice(i, i + 1000),
      })
      assert.equal(res.statusCode, 201, res.body)
    }
    await t.deps.analytics!.catchUp()
  })
  after(async () => {
    await t?.close()
  })

  test('/stats/range names the first and last UTC day with events', async () => {
    const days = EVENTS.map((e) => e.occurred_at.slice(0, 10)).sort()
    assert.deepEqual(await ok('/stats/range'), { first_day: days[0], last_day: days.at(-1) })
    assert.equal(
      (await t.app.inject({ method: 'GET', url: '/stats/range?from=2026-01-01' })).statusCode,
      422,
    )
  })

  test('/stats/cohorts is one cohort per week of the range, each equal to /stats/retention and the oracle', async () => {
    for (const [from, to] of [
      ['2026-01-05', '2026-02-15'],
      ['2026-01-08', '2026-01-30'],
      ['2026-01-20', '2026-01-20'],
    ] as const) {
      const body = await ok(`/stats/cohorts?from=${from}&to=${to}`)
      const weeks = Math.floor((Date.parse(to) - Date.parse(from)) / (7 * 86_400_000)) + 1
      assert.equal(body.cohorts.length, weeks)
      assert.deepEqual({ from: body.from, to: body.to }, { from, to })
      for (const [c, cohort] of body.cohorts.entries()) {
        const start = addDays(from, 7 * c)
        const windows = weeks - 1 - c
        assert.equal(cohort.retention.length, windows)
        const expected = referenceRetention(EVENTS, start, Math.max(1, windows))
        assert.deepEqual(
          cohort,
          { ...expected, retention: expected.retention.slice(0, windows) },
          `cohort ${start}`,
        )
        if (windows > 0)
          assert.deepEqual(
            cohort,
            await ok(`/stats/retention?start_date=${start}&windows=${windows}`),
          )
      }
    }
    const sizes = (await ok('/stats/cohorts?from=2026-01-05&to=2026-02-15')).cohorts.map(
      (c: { cohort_size: number }) => c.cohort_size,
    )
    assert.ok(
      sizes.filter((s: number) => s > 0).length >= 4,
      `a data set with several cohorts: ${sizes}`,
    )
    assert.equal(
      (await t.app.inject({ method: 'GET', url: '/stats/cohorts?from=2026-02-01&to=2026-01-01' }))
        .statusCode,
      422,
    )
  })
})
