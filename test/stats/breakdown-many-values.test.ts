import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { getOk, startTestApp, type TestApp } from '../helpers/app.ts'
import { makeEvent } from '../helpers/events.ts'

// A path with more values than MAX_ROLLUP_VALUES is broken down from its
// (value, user) rows: users are counted only for the values that can reach
// the top, and a value seen once has one user. These cases sit on that cut:
// a tie in count at the limit that unique users decide, and values seen once.
describe('breakdown of a path with many values (embedded, MAX_ROLLUP_VALUES=2)', () => {
  let t: TestApp
  const at = (user: string, page?: string) =>
    makeEvent({
      user_id: user,
      event_type: 'view',
      occurred_at: '2026-05-02T10:00:00Z',
      properties: page === undefined ? {} : { page },
    })

  before(async () => {
    t = await startTestApp({ queue: false, env: { MAX_ROLLUP_VALUES: '2' } })
    const events = [
      ...['u1', 'u2', 'u3'].map((u) => at(u, 'a')), // 3 events, 3 users
      ...['u4', 'u4', 'u4'].map((u) => at(u, 'b')), // 3 events, 1 user
      ...['u5', 'u5', 'u6'].map((u) => at(u, 'c')), // 3 events, 2 users
      ...['u7', 'u8', 'u9', 'u10', 'u4'].map((u, i) => at(u, `once-${i}`)), // seen once each
      at('u1'),
      at('u2'),
    ]
    const res = await t.app.inject({ method: 'POST', url: '/events', payload: events })
    assert.equal(res.statusCode, 201, res.body)
    await t.deps.analytics!.catchUp()
  })
  after(() => t?.close())

  test('the path lost its rollups, so the answer comes from its rows', () => {
    const paths = t.deps.analytics!.replica.paths
    const id = paths.get('$."page"')
    assert.ok(id !== undefined && !paths.rolledUp(id))
  })

  test('a tie in count is decided by unique users; other counts its users once', async () => {
    const body = await getOk(
      t.app,
      '/stats/breakdown?from=2026-05-01&to=2026-05-31&by=properties.page&limit=2',
    )
    assert.deepEqual(body, {
      by: 'properties.page',
      values: [
        { value: 'a', count: 3, unique_users: 3 },
        { value: 'c', count: 3, unique_users: 2 },
      ],
      // b (u4 three times) and the five seen once (u7 u8 u9 u10, and u4 again): u4 counted once.
      other: { values: 6, count: 8, unique_users: 5 },
      not_set: { count: 2 },
    })
  })

  test('values seen once fill the top when the limit reaches them', async () => {
    const body = (await getOk(
      t.app,
      '/stats/breakdown?from=2026-05-01&to=2026-05-31&by=properties.page&limit=5',
    )) as { values: Array<{ value: string }>; other: unknown }
    assert.deepEqual(
      body.values.map((v) => v.value),
      ['a', 'c', 'b', 'once-0', 'once-1'],
    )
    assert.deepEqual(body.other, { values: 3, count: 3, unique_users: 3 })
  })
})
