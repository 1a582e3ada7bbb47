import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ConfigError, loadConfig } from '../src/config.ts'

const base = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x' }

describe('loadConfig', () => {
  test('defaults follow DESIGN.md; the queue is on when Redis is configured', () => {
    const direct = loadConfig(base)
    assert.equal(direct.port, 8000)
    assert.equal(direct.useQueue, false)
    assert.equal(direct.limits.maxBatchSize, 1000)
    assert.equal(direct.limits.maxPropertiesBytes, 16384)
    assert.equal(direct.limits.maxFutureSkewMs, 86_400_000)
    assert.equal(loadConfig({ ...base, REDIS_URL: 'redis://127.0.0.1:6379' }).useQueue, true)
    assert.equal(
      loadConfig({ ...base, REDIS_URL: 'redis://127.0.0.1:6379', USE_QUEUE: 'false' }).useQueue,
      false,
    )
  })

  test('a bad value stops start-up with a message naming the variable', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ PORT: 'eighty' }, /PORT/],
      [{ MAX_BATCH_SIZE: '0' }, /MAX_BATCH_SIZE/],
      [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL/],
      [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
      [{ USE_QUEUE: 'true' }, /USE_QUEUE=true needs REDIS_URL/],
    ]
    for (const [env, message] of cases) {
      assert.throws(
        () => loadConfig({ ...base, ...env }),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
        JSON.stringify(env),
      )
    }
  })
})
