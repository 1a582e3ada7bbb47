import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { queueKeys } from '../../src/queue/redis-stream-queue.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { makeEvents } from '../helpers/events.ts'
import { skipUnless, TEST_REDIS_URL } from '../helpers/services.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

// The client's X-Request-Id goes into headers, problem bodies, every log line
// and the queue entry: only a short token is taken, anything else is replaced.
describe('X-Request-Id', { skip: await skipUnless('postgres', 'redis') }, () => {
  let db: TestDatabase
  let t: TestApp
  let redis: Redis

  before(async () => {
    db = await createTestDatabase()
    t = await startTestApp({ databaseUrl: db.url, queue: true })
    redis = new Redis(TEST_REDIS_URL)
  })
  after(async () => {
    redis?.disconnect()
    await t?.close()
    await db?.drop()
  })

  const post = (requestId: string) =>
    t.app.inject({
      method: 'POST',
      url: '/events',
      headers: { 'x-request-id': requestId },
      payload: makeEvents(1),
    })

  test('a short token of [A-Za-z0-9._:-] is kept, in the header and the queue entry', async () => {
    const given = `${'a'.repeat(100)}.B_9:z-${'x'.repeat(21)}`
    assert.equal(given.length, 128)
    const res = await post(given)
    assert.equal(res.statusCode, 202, res.body)
    assert.equal(res.headers['x-request-id'], given)
    const entries = await redis.xrange(queueKeys(t.env.REDIS_KEY_PREFIX!).stream, '-', '+')
    assert.equal(Object.fromEntries(chunks(entries.at(-1)![1])).rid, given)
  })

  test('anything else (too long, spaces, quotes, <, empty) is replaced with a fresh id everywhere', async () => {
    for (const given of [
      'a'.repeat(129),
      'x'.repeat(10_240),
      'two words',
      'say "hi"',
      '<script>',
      "it's",
      '',
    ]) {
      const res = await post(given)
      assert.equal(res.statusCode, 202, res.body)
      const id = res.headers['x-request-id'] as string
      assert.match(id, UUID, given.slice(0, 20))
      const entries = await redis.xrange(queueKeys(t.env.REDIS_KEY_PREFIX!).stream, '-', '+')
      assert.equal(Object.fromEntries(chunks(entries.at(-1)![1])).rid, id)
    }
    const bad = await t.app.inject({
      method: 'GET',
      url: '/stats/dau',
      headers: { 'x-request-id': '<b>' },
    })
    assert.equal(bad.statusCode, 422)
    assert.match(bad.json().request_id, UUID)
    assert.equal(bad.json().request_id, bad.headers['x-request-id'])
    const missing = await t.app.inject({
      method: 'GET',
      url: '/nowhere',
      headers: { 'x-request-id': 'a b' },
    })
    assert.equal(missing.statusCode, 404)
    assert.match(missing.json().request_id, UUID)
  })
})

function chunks(flat: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!])
  return out
}
