import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { basic, COMPAT_MODES, type CompatApp, startCompatApp } from './compat-app.ts'

// @segment/analytics-node 2.x waits `X-RateLimit-Reset - Date.now()` after a
// 429: the header must be the reset's epoch milliseconds on Segment's paths,
// or the client retries at once and gives the batch up.

const embedded = COMPAT_MODES.find((m) => !m.server)!
const PERIOD_S = 3600

describe('rate limit headers on Segment paths', () => {
  let c: CompatApp
  before(async () => {
    c = await startCompatApp(embedded, {
      RATE_LIMIT_REQUESTS: '1',
      RATE_LIMIT_BURST: '1',
      RATE_LIMIT_PERIOD: String(PERIOD_S),
    })
  })
  after(() => c?.close())

  test('X-RateLimit-Reset is epoch ms on Segment paths, seconds elsewhere; Retry-After is seconds', async () => {
    const message = (n: number) => ({ event: 'limited', userId: `rl-${n}` })
    const first = await c.post('/v1/track', message(1), basic(c.writeKey))
    assert.equal(first.statusCode, 200, first.body)
    const before = Date.now()
    const limited = await c.post('/v1/track', message(2), basic(c.writeKey))
    const after = Date.now()
    assert.equal(limited.statusCode, 429, limited.body)
    assert.equal(limited.json().code, 'RATE_LIMITED')
    const retryAfter = Number(limited.headers['retry-after'])
    assert.ok(retryAfter >= 1 && retryAfter <= PERIOD_S, `Retry-After ${retryAfter}`)
    const reset = Number(limited.headers['x-ratelimit-reset'])
    assert.ok(
      reset >= before + retryAfter * 1000 - 1000 && reset <= after + retryAfter * 1000,
      `X-RateLimit-Reset ${reset} is the reset's epoch ms (${before}..${after} + ${retryAfter} s)`,
    )

    const own = await c.post('/events', { events: [] }, { 'x-api-key': c.writeKey })
    assert.equal(own.statusCode, 429, own.body)
    assert.ok(Number(own.headers['x-ratelimit-reset']) <= PERIOD_S, 'seconds on our own API')
  })
})
