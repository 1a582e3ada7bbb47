import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { FallbackRateLimitStore } from '../../src/http/rate-limit/fallback-store.ts'
import {
  type BucketPolicy,
  MemoryRateLimitStore,
  type RateLimitStore,
} from '../../src/http/rate-limit/token-bucket.ts'
import { createLogger } from '../../src/logger.ts'
import { type ServerTestApp, startServerTestApp } from '../helpers/app.ts'
import { freePort, skipUnless } from '../helpers/services.ts'

const POLICY: BucketPolicy = { capacity: 2, refillPerMs: 2 / 60_000 }

test('a failing primary is skipped for skipMs, its decisions taken by the in-process buckets, then tried again', async () => {
  let now = 0
  let down = true
  let calls = 0
  const shared = new MemoryRateLimitStore(() => now)
  const primary: RateLimitStore = {
    async take(key, policy) {
      calls++
      if (down) throw new Error('Command timed out')
      return shared.take(key, policy)
    },
  }
  let fallbacks = 0
  const store = new FallbackRateLimitStore(primary, createLogger('silent'), {
    skipMs: 5_000,
    now: () => now,
    onFallback: () => fallbacks++,
  })

  const allowed = []
  for (let i = 0; i < 3; i++) allowed.push((await store.take('ip:a', POLICY)).allowed)
  assert.deepEqual(allowed, [true, true, false], 'still limited while falling back')
  assert.equal(calls, 1, 'one failure opens the circuit: the next decisions do not wait for Redis')
  assert.equal(fallbacks, 3)

  down = false
  now = 4_999
  await store.take('ip:a', POLICY)
  assert.equal(calls, 1)
  now = 5_000
  assert.equal((await store.take('ip:a', POLICY)).allowed, true, 'the shared bucket decides again')
  assert.equal(calls, 2)
  assert.equal(fallbacks, 4)
})

describe('with Redis unreachable, keyed requests are still limited, by this process', {
  skip: await skipUnless('postgres'),
}, () => {
  let t: ServerTestApp

  before(async () => {
    // Nothing listens on that port: every Redis command fails.
    t = await startServerTestApp({
      queue: false,
      env: {
        REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
        RATE_LIMIT_REQUESTS: '3',
        RATE_LIMIT_PERIOD: '60',
      },
    })
  })
  after(async () => {
    await t?.close()
  })

  test('the burst is allowed, then 429, every decision counted as a fallback', async () => {
    const statuses = []
    for (let i = 0; i < 5; i++) {
      const res = await t.app.inject({ url: '/stats/range', remoteAddress: '10.1.1.1' })
      statuses.push(res.statusCode)
      assert.equal(res.headers['ratelimit-limit'], '3', 'the limit headers still come')
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429])
    const metrics = (await t.app.inject('/metrics')).body
    assert.match(metrics, /^ea_rate_limit_fallback_total 5$/m)
  })
})
