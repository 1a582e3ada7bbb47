import assert from 'node:assert/strict'
import { after, before, describe, mock, test } from 'node:test'
import { Redis } from 'ioredis'
import { RedisRateLimitStore } from '../../src/http/rate-limit/redis-token-bucket.ts'
import {
  MemoryRateLimitStore,
  type RateLimitStore,
} from '../../src/http/rate-limit/token-bucket.ts'
import { deleteKeys, startTestApp, type TestApp, uniquePrefix } from '../helpers/app.ts'
import { type ServiceProcess, spawnService, untilHealthy } from '../helpers/child.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { makeEvents } from '../helpers/events.ts'
import { freePort, skipUnless, TEST_REDIS_URL } from '../helpers/services.ts'

describe('token bucket arithmetic', () => {
  test('a full bucket allows the burst, then refills one token per 1/rate', async () => {
    let now = 0
    const store = new MemoryRateLimitStore(() => now)
    const policy = { capacity: 3, refillPerMs: 1 / 1000 } // one token a second
    const takes = []
    for (let i = 0; i < 4; i++) takes.push(await store.take('k', policy))
    assert.deepEqual(
      takes.map((d) => [d.allowed, d.remaining, d.resetSeconds]),
      [
        [true, 2, 1],
        [true, 1, 1],
        [true, 0, 1],
        [false, 0, 1],
      ],
    )
    now = 999
    assert.equal((await store.take('k', policy)).allowed, false, 'not a whole token yet')
    now = 1_000
    assert.deepEqual(await store.take('k', policy), {
      allowed: true,
      limit: 3,
      remaining: 0,
      resetSeconds: 1,
    })
    now = 100_000
    assert.deepEqual(
      await store.take('k', policy),
      { allowed: true, limit: 3, remaining: 2, resetSeconds: 1 },
      'refills up to the burst, not beyond',
    )
    assert.equal((await store.take('other', policy)).remaining, 2, 'buckets are per key')
  })
})

const skipRedis = await skipUnless('redis')

describe('rate-limit stores agree (memory and Redis)', { skip: skipRedis }, () => {
  const prefix = uniquePrefix()
  const redis = new Redis(TEST_REDIS_URL)
  after(async () => {
    redis.disconnect()
    await deleteKeys(prefix)
  })

  test('the same requests get the same decisions', async () => {
    const stores: RateLimitStore[] = [
      new MemoryRateLimitStore(),
      new RedisRateLimitStore(redis, prefix),
    ]
    // Slow refill, so the few milliseconds between calls do not add a token.
    const policy = { capacity: 4, refillPerMs: 1 / 600_000 }
    const runs = await Promise.all(
      stores.map(async (s) => {
        const out = []
        for (let i = 0; i < 6; i++) out.push(await s.take('client', policy))
        return out
      }),
    )
    assert.deepEqual(runs[1], runs[0])
    assert.deepEqual(
      runs[0]!.map((d) => d.allowed),
      [true, true, true, true, false, false],
    )
    assert.equal(runs[0]![5]!.resetSeconds, 600)
  })
})

describe('rate limits over HTTP (embedded, per client IP)', () => {
  let t: TestApp
  before(async () => {
    // The clock stands still, as in the arithmetic test above: the headers below are
    // exact, and a second of a slow machine between requests would refill 1/20 of a
    // token and turn Retry-After 20 into 19. Timers are not mocked, only Date.
    mock.timers.enable({ apis: ['Date'], now: Date.now() })
    t = await startTestApp({
      queue: false,
      env: { RATE_LIMIT_REQUESTS: '3', RATE_LIMIT_PERIOD: '60' },
    })
  })
  after(async () => {
    await t?.close()
    mock.timers.reset()
  })

  test('every limited response carries both header sets; past the burst, 429 with Retry-After', async () => {
    const remaining = []
    for (let i = 0; i < 3; i++) {
      const res = await t.app.inject({ method: 'POST', url: '/events', payload: makeEvents(1) })
      assert.equal(res.statusCode, 201)
      for (const h of ['ratelimit-limit', 'x-ratelimit-limit']) assert.equal(res.headers[h], '3')
      assert.equal(res.headers['ratelimit-remaining'], res.headers['x-ratelimit-remaining'])
      assert.equal(res.headers['ratelimit-reset'], '20', 'seconds until a token is back: 60 s / 3')
      remaining.push(res.headers['ratelimit-remaining'])
    }
    assert.deepEqual(remaining, ['2', '1', '0'])
    const limited = await t.app.inject('/stats/dau?from=2026-11-01&to=2026-11-01')
    assert.equal(limited.statusCode, 429)
    assert.equal(limited.headers['retry-after'], '20')
    assert.equal(limited.headers['x-ratelimit-remaining'], '0')
    assert.equal(limited.json().code, 'RATE_LIMITED')
    const health = await t.app.inject('/health')
    assert.equal(health.statusCode, 200)
    assert.equal(health.headers['ratelimit-limit'], undefined, '/health is not limited')
  })
})

describe('rate limits shared by two API processes through Redis', {
  skip: await skipUnless('postgres', 'redis'),
}, () => {
  let db: TestDatabase
  const children: ServiceProcess[] = []
  const prefix = uniquePrefix()
  before(async () => {
    db = await createTestDatabase()
  })
  after(async () => {
    for (const c of children) c.child.kill('SIGKILL')
    await deleteKeys(prefix)
    await db?.drop()
  })

  test('one bucket per client across processes', async () => {
    const ports = [await freePort(), await freePort()]
    for (const port of ports) {
      children.push(
        spawnService('api', {
          DATABASE_URL: db.url,
          REDIS_URL: TEST_REDIS_URL,
          REDIS_KEY_PREFIX: prefix,
          PORT: String(port),
          LOG_LEVEL: 'warn',
          ANALYTICS_ENABLED: 'false',
          RATE_LIMIT_REQUESTS: '5',
          RATE_LIMIT_PERIOD: '600',
        }),
      )
    }
    for (const [i, port] of ports.entries()) {
      await untilHealthy(port, children[i])
    }
    const statuses = []
    for (let i = 0; i < 8; i++) {
      const res = await fetch(`http://127.0.0.1:${ports[i % 2]}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(makeEvents(1)),
      })
      statuses.push(res.status)
      await res.arrayBuffer()
    }
    assert.deepEqual(statuses, [202, 202, 202, 202, 202, 429, 429, 429])
  })
})
