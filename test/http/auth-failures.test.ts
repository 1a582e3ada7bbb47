import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'

// Wrong keys cost a database lookup each: past AUTH_FAILURE_LIMIT per client
// address per AUTH_FAILURE_PERIOD they are refused with 429, without one.
describe('unknown keys are limited per client address', {
  skip: await skipUnless('postgres'),
}, () => {
  let db: TestDatabase
  let t: TestApp
  let good: string
  let lookups = 0

  before(async () => {
    db = await createTestDatabase()
    t = await startTestApp({
      databaseUrl: db.url,
      queue: false,
      env: { AUTH_FAILURE_LIMIT: '3', AUTH_FAILURE_PERIOD: '60' },
    })
    good = (await t.deps.apiKeys.create('read', '', 1)).key
    const findActive = t.deps.apiKeys.findActive.bind(t.deps.apiKeys)
    t.deps.apiKeys.findActive = (digest) => {
      lookups++
      return findActive(digest)
    }
  })
  after(async () => {
    await t?.close()
    await db?.drop()
  })

  const get = (key: string, remoteAddress = '10.0.0.1') =>
    t.app.inject({ url: '/stats/range', headers: { 'x-api-key': key }, remoteAddress })

  test('three wrong keys are 401; the fourth and later are 429 with Retry-After, the later ones without a lookup', async () => {
    assert.equal((await get(good)).statusCode, 200, 'a good key, now cached')
    for (let i = 0; i < 3; i++) assert.equal((await get(`wrong-${i}`)).statusCode, 401)

    const refused = await get('wrong-3')
    assert.equal(refused.statusCode, 429)
    assert.equal(refused.headers['retry-after'], '20', 'one failure back every 60 s / 3')
    assert.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8')
    const { request_id: _id, ...body } = refused.json()
    assert.deepEqual(body, {
      type: 'about:blank',
      title: 'Too Many Requests',
      status: 429,
      code: 'TOO_MANY_AUTH_FAILURES',
      detail: 'too many unknown API keys from this address; retry in 20 s',
      instance: '/stats/range',
    })

    const before = lookups
    for (let i = 4; i < 40; i++) {
      const res = await get(`wrong-${i}`)
      assert.equal(res.statusCode, 429)
      assert.ok(Number(res.headers['retry-after']) >= 1)
    }
    assert.equal(lookups, before, 'no lookup while the address is refused')

    assert.equal(
      (await get(good)).statusCode,
      200,
      'a key known to be good still passes from that address',
    )
    assert.equal(
      (await get('wrong-x', '10.0.0.2')).statusCode,
      401,
      'another address has its own allowance',
    )
    const missing = await t.app.inject({ url: '/stats/range', remoteAddress: '10.0.0.3' })
    assert.equal(missing.statusCode, 401, 'no key at all costs no lookup and is not counted')

    const metrics = (await t.app.inject('/metrics')).body
    assert.match(metrics, /^ea_auth_failures_total\{outcome="unknown_key"\} 5$/m)
    assert.match(metrics, /^ea_auth_failures_total\{outcome="blocked"\} 36$/m)
  })
})
