import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type ServerTestApp, startServerTestApp } from '../helpers/app.ts'
import { makeEvents, waitFor } from '../helpers/events.ts'
import { skipUnless } from '../helpers/services.ts'

describe('freshness: ingest → visible in /stats', {
  skip: await skipUnless('postgres', 'redis'),
}, () => {
  let t: ServerTestApp

  before(async () => {
    t = await startServerTestApp({
      queue: true,
      worker: true,
      env: { WORKER_BLOCK_MS: '50' },
    })
  })
  after(async () => {
    await t?.close()
  })

  test('events accepted through the queue show up in the stats within a bounded time, by themselves', async () => {
    for (let round = 1; round <= 3; round++) {
      const events = makeEvents(200, {
        occurred_at: '2026-11-20T08:00:00Z',
        event_type: `round-${round}`,
      })
      const res = await t.app.inject({ method: 'POST', url: '/events', payload: events })
      assert.equal(res.statusCode, 202)
      // The background sync alone must make them visible; nobody calls catchUp here.
      // The deadline catches a sync that never runs; how fast it runs is the bench's to measure.
      await waitFor(
        `round ${round} visible`,
        async () =>
          (
            await t.app.inject('/stats/top-events?from=2026-11-20&to=2026-11-20&limit=100')
          ).json() as Array<{ event_type: string; count: number }>,
        (rows) => rows.some((r) => r.event_type === `round-${round}` && r.count === 200),
      )
    }
  })
})
