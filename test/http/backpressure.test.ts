import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { makeEvents } from '../helpers/events.ts'
import { skipUnless, TEST_REDIS_URL } from '../helpers/services.ts'
import { TcpProxy } from '../helpers/tcp-proxy.ts'

const skip = await skipUnless('postgres', 'redis')

describe('back-pressure: the queue is bounded and never accepts what it cannot keep', {
  skip,
}, () => {
  let db: TestDatabase
  let t: TestApp
  let proxy: TcpProxy

  before(async () => {
    db = await createTestDatabase()
    const redis = new URL(TEST_REDIS_URL)
    proxy = new TcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) })
    // No worker: nothing drains the queue during the test.
    t = await startTestApp({
      databaseUrl: db.url,
      queue: true,
      worker: false,
      env: { QUEUE_MAX_LENGTH: '15', REDIS_URL: `redis://127.0.0.1:${await proxy.start()}` },
    })
  })
  after(async () => {
    await t?.close()
    await proxy?.close()
    await db?.drop()
  })

  test('past QUEUE_MAX_LENGTH events the API answers 503 with Retry-After and keeps what it had', async () => {
    const first = await t.app.inject({ method: 'POST', url: '/events', payload: makeEvents(10) })
    assert.equal(first.statusCode, 202)
    const refused = await t.app.inject({ method: 'POST', url: '/events', payload: makeEvents(10) })
    assert.equal(refused.statusCode, 503)
    assert.equal(refused.headers['retry-after'], '5')
    assert.equal(refused.json().code, 'QUEUE_FULL')
    const status = (await t.app.inject({ method: 'GET', url: '/events/queue/status' })).json()
    assert.deepEqual(
      [status.shared.length, status.shared.queued_events, status.queued_events],
      [1, 10, 10],
    )
    const fits = await t.app.inject({ method: 'POST', url: '/events', payload: makeEvents(5) })
    assert.equal(fits.statusCode, 202)
  })

  test('with Redis unreachable the API answers 503, never a 2xx it cannot honour', async () => {
    proxy.interrupt()
    try {
      const res = await t.app.inject({ method: 'POST', url: '/events', payload: makeEvents(1) })
      assert.equal(res.statusCode, 503)
      assert.equal(res.json().code, 'DEPENDENCY_UNAVAILABLE')
      assert.ok(res.headers['retry-after'])
      const health = await t.app.inject({ method: 'GET', url: '/health' })
      assert.equal(health.statusCode, 503)
      assert.equal(health.json().dependencies.redis.status, 'down')
    } finally {
      proxy.restore()
    }
  })
})
