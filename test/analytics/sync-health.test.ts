import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type ServerTestApp, startServerTestApp } from '../helpers/app.ts'
import { waitFor } from '../helpers/events.ts'
import { skipUnless } from '../helpers/services.ts'

interface Health {
  status: string
  sync?: {
    status: string
    consecutive_failures: number
    last_error: string | null
    reasons: string[]
    lag: unknown
  }
}

describe('a failing analytics sync is visible', { skip: await skipUnless('postgres') }, () => {
  let t: ServerTestApp

  before(async () => {
    t = await startServerTestApp({
      queue: false,
      env: { SYNC_DEGRADED_FAILURES: '2', SYNC_INTERVAL_MS: '10' },
    })
  })
  after(async () => {
    await t?.close()
  })

  const health = async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health' })
    assert.equal(res.statusCode, 200)
    return res.json() as Health
  }

  test('/health says degraded with the error while every chunk fails, healthy again once it recovers; /metrics counts the failures', async () => {
    assert.equal((await health()).status, 'healthy')
    await t.db.pool.query(
      `INSERT INTO events (event_id, occurred_at, user_id, event_type) SELECT gen_random_uuid(), now(), 'u', 'x' FROM generate_series(1, 10)`,
    )
    // The store still answers pings, but the sync's read of it fails every time.
    await t.db.pool.query('ALTER TABLE events RENAME COLUMN event_type TO kind')
    const degraded = await waitFor('degraded', health, (h) => h.status === 'degraded')
    assert.ok(degraded.sync!.consecutive_failures >= 2)
    // In words only: /health is open, and the error itself is in the log.
    assert.equal(degraded.sync!.last_error, 'the sync failed; the log has the error')
    assert.match(degraded.sync!.reasons.join(), /failed in a row/)
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' })
    const failures = Number(/^ea_analytics_sync_failures_total (\d+)$/m.exec(metrics.body)?.[1])
    assert.ok(failures >= 2, metrics.body)

    await t.db.pool.query('ALTER TABLE events RENAME COLUMN kind TO event_type')
    const recovered = await waitFor('healthy again', health, (h) => h.status === 'healthy', 30_000)
    assert.equal(recovered.sync!.status, 'ok')
    assert.equal(recovered.sync!.consecutive_failures, 0)
    await waitFor(
      'the rows synced',
      () => t.deps.analytics!.lag(),
      (l) => l.synced_rows === 10,
    )
  })
})
