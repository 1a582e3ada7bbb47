import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { ApiKeyStore } from '../../src/auth/api-keys.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { type ServiceProcess, spawnService, untilHealthy } from '../helpers/child.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { makeEvents } from '../helpers/events.ts'
import { freePort, skipUnless } from '../helpers/services.ts'

describe('Idempotency-Key on POST /events (embedded)', () => {
  let t: TestApp
  const post = (payload: unknown, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url: '/events', payload: payload as object, headers })

  before(async () => {
    t = await startTestApp({ queue: false })
  })
  after(() => t?.close())

  test('the same key and body return the first answer again, without processing', async () => {
    const events = makeEvents(10)
    const first = await post(events, { 'idempotency-key': 'batch-1' })
    assert.equal(first.statusCode, 201)
    assert.deepEqual(first.json(), {
      total_received: 10,
      inserted: 10,
      duplicates: 0,
      message: 'events stored',
    })
    const again = await post(events, { 'idempotency-key': 'batch-1' })
    assert.equal(again.statusCode, 201)
    assert.equal(again.headers['idempotent-replayed'], 'true')
    // Processed again it would say 0 inserted, 10 duplicates: the first answer came back instead.
    assert.deepEqual(again.json(), first.json())
    assert.equal(await t.count(), 10)
  })

  test('the same key with another body is 422 naming the header', async () => {
    await post(makeEvents(1), { 'idempotency-key': 'batch-2' })
    const res = await post(makeEvents(1), { 'idempotency-key': 'batch-2' })
    assert.equal(res.statusCode, 422)
    assert.deepEqual(res.json().errors, [
      { field: 'Idempotency-Key', message: 'already used with a different request body' },
    ])
  })

  test('an invalid request is not remembered: fixing it under the same key works', async () => {
    const bad = await post([{ ...makeEvents(1)[0], user_id: '' }], { 'idempotency-key': 'batch-3' })
    assert.equal(bad.statusCode, 422)
    assert.equal((await post(makeEvents(2), { 'idempotency-key': 'batch-3' })).statusCode, 201)
  })

  test('a malformed key is 422', async () => {
    const res = await post(makeEvents(1), { 'idempotency-key': 'x'.repeat(256) })
    assert.equal(res.statusCode, 422)
    assert.equal(res.json().errors[0].field, 'Idempotency-Key')
  })

  test('keys are scoped per API key', async () => {
    const store = new ApiKeyStore(t.deps.db)
    const a = (await store.create('write', 'a', 1)).key
    const b = (await store.create('write', 'b', 1)).key
    const events = makeEvents(3)
    const first = await post(events, {
      'idempotency-key': 'shared-name',
      authorization: `Bearer ${a}`,
    })
    const other = await post(events, {
      'idempotency-key': 'shared-name',
      authorization: `Bearer ${b}`,
    })
    assert.equal(first.json().inserted, 3)
    assert.equal(
      other.headers['idempotent-replayed'],
      undefined,
      "another API key does not get the first one's answer",
    )
    assert.deepEqual(
      { inserted: other.json().inserted, duplicates: other.json().duplicates },
      { inserted: 0, duplicates: 3 },
    )
  })
})

describe('Idempotency-Key across two API processes', { skip: await skipUnless('postgres') }, () => {
  let db: TestDatabase
  const children: ServiceProcess[] = []
  before(async () => {
    db = await createTestDatabase()
  })
  after(async () => {
    for (const c of children) c.child.kill('SIGKILL')
    await db?.drop()
  })

  test('two requests with one key at the same moment: one is processed, the other gets its answer or a 409', async () => {
    const ports = [await freePort(), await freePort()]
    for (const port of ports) {
      children.push(
        spawnService('api', {
          DATABASE_URL: db.url,
          USE_QUEUE: 'false',
          PORT: String(port),
          LOG_LEVEL: 'warn',
          ANALYTICS_ENABLED: 'false',
          RATE_LIMIT_REQUESTS: '100000',
        }),
      )
    }
    for (const [i, port] of ports.entries()) {
      await untilHealthy(port, children[i])
    }
    for (let round = 0; round < 5; round++) {
      const body = JSON.stringify(makeEvents(500))
      const send = (port: number) =>
        fetch(`http://127.0.0.1:${port}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': `race-${round}` },
          body,
        }).then(async (r) => ({
          status: r.status,
          replayed: r.headers.get('idempotent-replayed'),
          body: await r.json(),
        }))
      const answers = await Promise.all(ports.map(send))
      const processed = answers.filter((a) => a.status === 201 && a.replayed === null)
      assert.equal(processed.length, 1, JSON.stringify(answers))
      for (const a of answers) {
        if (a.status === 201) assert.deepEqual(a.body, processed[0]!.body)
        else assert.equal(a.status, 409)
      }
      // Afterwards either process replays the first answer.
      const later = await send(ports[1]!)
      assert.equal(later.replayed, 'true')
      assert.deepEqual(later.body, processed[0]!.body)
    }
    assert.equal(await db.count(), 2_500)
  })
})
