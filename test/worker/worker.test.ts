import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import type { NormalizedEvent } from '../../src/events/event-schema.ts'
import { validateBatch } from '../../src/events/validate-batch.ts'
import { queueKeys } from '../../src/queue/redis-stream-queue.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { legacyRows } from '../helpers/copy-rows.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { makeEvent, makeEvents, waitFor } from '../helpers/events.ts'
import { skipUnless, TEST_REDIS_URL } from '../helpers/services.ts'
import { TcpProxy } from '../helpers/tcp-proxy.ts'

const skip = await skipUnless('postgres', 'redis')
const LIMITS = { maxBatchSize: 1000, maxPropertiesBytes: 16384, maxFutureSkewMs: 86_400_000 }
const status = async (t: TestApp) =>
  (await t.app.inject({ method: 'GET', url: '/events/queue/status' })).json()

describe('worker: poison entries', { skip }, () => {
  let db: TestDatabase
  let t: TestApp
  const redis = new Redis(TEST_REDIS_URL)

  before(async () => {
    db = await createTestDatabase()
    t = await startTestApp({
      databaseUrl: db.url,
      queue: true,
      worker: true,
      env: { MAX_ATTEMPTS: '3', CLAIM_IDLE_MS: '50', WORKER_BLOCK_MS: '20' },
    })
  })
  after(async () => {
    redis.disconnect()
    await t?.close()
    await db?.drop()
  })

  const deadLetters = async () => {
    const rows = await redis.xrange(queueKeys(t.env.REDIS_KEY_PREFIX!).dlq, '-', '+')
    // A stream entry's fields come as [name, value, name, value, ...].
    return rows.map(([, f]) =>
      Object.fromEntries(f.flatMap((v, i) => (i % 2 === 0 ? [[v, f[i + 1]!]] : []))),
    )
  }
  const enqueueRaw = async (rid: string, payload: string, n: number) => {
    const { stream, counter } = queueKeys(t.env.REDIS_KEY_PREFIX!)
    await redis
      .multi()
      .incrby(counter, n)
      .xadd(stream, '*', 'n', String(n), 'rid', rid, 'events', payload)
      .exec()
  }

  test('an unreadable entry goes to the dead-letter stream after MAX_ATTEMPTS; an event PostgreSQL refuses goes alone, at once', async () => {
    // Two kinds of poison that the API would never enqueue: a payload that is not
    // JSON, and an event PostgreSQL refuses (an impossible timestamp) beside a
    // good one, placed between good entries so they share merged batches with them.
    const good = [makeEvents(10), makeEvents(10), makeEvents(10)]
    const start = await db.count()
    await t.app.inject({ method: 'POST', url: '/events', payload: good[0]! })
    await enqueueRaw('poison-1', '{not json', 1)
    const badEvent = { ...makeEvent(), occurred_at: 'not a time', properties: {} }
    await enqueueRaw('poison-2', JSON.stringify([badEvent, makeEvent()]), 2)
    await t.app.inject({ method: 'POST', url: '/events', payload: good[1]! })
    await t.app.inject({ method: 'POST', url: '/events', payload: good[2]! })

    // Done once the stream is empty: the poison is dead-lettered quickly (50 ms claims), and
    // on a slow machine a good entry posted last can still be waiting to be read by then.
    const final = await waitFor(
      'both poison entries dead-lettered and the stream empty',
      () => status(t),
      (s) => s.dead_lettered === 2 && s.shared.length === 0,
    )
    assert.deepEqual(
      [final.shared.length, final.shared.pending, final.shared.queued_events, final.queued_events],
      [0, 0, 0, 0],
    )
    assert.equal(final.shared.dead_lettered, 2)
    assert.equal(
      await db.count(),
      start + 31,
      'every good event is stored, the one beside the bad event too',
    )
    const dead = await deadLetters()
    assert.deepEqual(dead.map((d) => d.rid).sort(), ['poison-1', 'poison-2'])
    const [unreadable, refused] = [
      dead.find((d) => d.rid === 'poison-1')!,
      dead.find((d) => d.rid === 'poison-2')!,
    ]
    assert.equal(unreadable.deliveries, '3')
    assert.match(unreadable.error!, /JSON/)
    // An entry from before projects names none: its events are the default project's.
    assert.deepEqual(JSON.parse(refused.events!), [{ ...badEvent, project_id: 1 }])
    assert.equal(refused.p, '1')
    assert.equal(refused.n, '1')
    assert.match(
      refused.error!,
      /invalid input syntax for type timestamp with time zone: "not a time" \(SQLSTATE 22007\)/,
    )
  })

  test('in a large entry only the events the store refuses are set aside, each with its reason', async () => {
    const events: object[] = makeEvents(200)
    const poison = [
      { ...makeEvent(), occurred_at: '0000-06-15T10:00:00.000Z', properties: {} },
      { ...makeEvent(), user_id: 'nul\u0000', properties: {} },
      { ...makeEvent(), properties: { k: 'lone \ud800 \u0000' } },
    ]
    events.splice(3, 0, poison[0]!)
    events.splice(120, 0, poison[1]!)
    events.push(poison[2]!)
    const before = await status(t)
    const start = await db.count()
    await enqueueRaw('mixed', JSON.stringify(events), events.length)
    const final = await waitFor(
      'the entry settled',
      () => status(t),
      (s) => s.dead_lettered === before.dead_lettered + 3 && s.shared.length === 0,
    )
    assert.deepEqual(
      [final.shared.pending, final.shared.queued_events, final.queued_events],
      [0, 0, 0],
    )
    assert.equal(await db.count(), start + 200)
    const dead = (await deadLetters()).filter((d) => d.rid === 'mixed')
    assert.deepEqual(
      dead.map((d) => JSON.parse(d.events!)[0].event_id).sort(),
      poison.map((p) => p.event_id).sort(),
    )
    const reasons = Object.fromEntries(
      dead.map((d) => [JSON.parse(d.events!)[0].event_id, d.error]),
    )
    assert.match(
      reasons[poison[0]!.event_id]!,
      /date\/time field value out of range.*SQLSTATE 22008/,
    )
    assert.match(reasons[poison[1]!.event_id]!, /0x00.*SQLSTATE 22021/)
    assert.match(reasons[poison[2]!.event_id]!, /SQLSTATE 22P05|SQLSTATE 22P02/)
  })
  test('an entry of COPY rows holding an event PostgreSQL refuses: only that event is set aside', async () => {
    // The queue encodes what it is given; validation, bypassed here, would have refused the NUL.
    const events = validateBatch(makeEvents(50), LIMITS)
    const poison = { ...validateBatch([makeEvent()], LIMITS)[0]!, user_id: 'nul\u0000' }
    const before = await status(t)
    const start = await db.count()
    await t.deps.queue!.enqueue([...events.slice(0, 20), poison, ...events.slice(20)], {
      project: 1,
      requestId: 'rows-poison',
    })
    await waitFor(
      'the entry settled',
      () => status(t),
      (s) => s.dead_lettered === before.dead_lettered + 1 && s.shared.length === 0,
    )
    assert.equal(await db.count(), start + 50)
    const [dead] = (await deadLetters()).filter((d) => d.rid === 'rows-poison')
    // Set aside as the store keeps it: in its project.
    assert.deepEqual(JSON.parse(dead!.events!), [{ ...poison, project_id: 1 }])
    assert.equal(dead!.p, '1')
    assert.match(dead!.error!, /0x00.*SQLSTATE 22021/)
  })

  // Entries a version before projects left in the queue across the upgrade:
  // five-field COPY rows and no project field. Their events are the default project's.
  const enqueueLegacyRows = async (rid: string, events: readonly NormalizedEvent[]) => {
    const { stream, counter } = queueKeys(t.env.REDIS_KEY_PREFIX!)
    await redis
      .multi()
      .incrby(counter, events.length)
      .xadd(stream, '*', 'n', String(events.length), 'rid', rid, 'rows', legacyRows(events))
      .exec()
  }
  const projectsOf = async (ids: string[]) =>
    (
      await db.pool.query<{ project_id: number; n: number }>(
        'SELECT project_id, count(*)::int AS n FROM events WHERE event_id = ANY($1::uuid[]) GROUP BY project_id',
        [ids],
      )
    ).rows

  test('an entry of COPY rows queued before projects is stored in the default project', async () => {
    const events = validateBatch(makeEvents(30), LIMITS)
    await enqueueLegacyRows('legacy-rows', events)
    await waitFor(
      'the entry stored',
      () => projectsOf(events.map((e) => e.event_id)),
      (rows) => rows.length > 0 && rows[0]!.n === 30,
    )
    assert.deepEqual(await projectsOf(events.map((e) => e.event_id)), [{ project_id: 1, n: 30 }])
    await waitFor(
      'the queue drained',
      () => status(t),
      (s) => s.shared.length === 0,
    )
  })

  test('an entry of COPY rows queued before projects holding an event PostgreSQL refuses: only that event is set aside', async () => {
    const events = validateBatch(makeEvents(20), LIMITS)
    const poison = { ...validateBatch([makeEvent()], LIMITS)[0]!, user_id: 'nul\u0000' }
    const before = await status(t)
    await enqueueLegacyRows('legacy-poison', [...events.slice(0, 10), poison, ...events.slice(10)])
    await waitFor(
      'the entry settled',
      () => status(t),
      (s) => s.shared.dead_lettered === before.shared.dead_lettered + 1 && s.shared.length === 0,
    )
    assert.deepEqual(await projectsOf(events.map((e) => e.event_id)), [{ project_id: 1, n: 20 }])
    const dead = (await deadLetters()).filter((d) => d.rid === 'legacy-poison')
    assert.equal(dead.length, 1)
    assert.deepEqual(JSON.parse(dead[0]!.events!), [{ ...poison, project_id: 1 }])
    assert.match(dead[0]!.error!, /0x00.*SQLSTATE 22021/)
  })
})

describe('worker: PostgreSQL unreachable for a while', { skip }, () => {
  let db: TestDatabase
  let t: TestApp
  let proxy: TcpProxy

  before(async () => {
    db = await createTestDatabase()
    const target = new URL(db.url)
    proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) })
    const via = new URL(db.url)
    via.port = String(await proxy.start())
    t = await startTestApp({
      databaseUrl: via.toString(),
      queue: true,
      worker: true,
      env: {
        MAX_ATTEMPTS: '2',
        CLAIM_IDLE_MS: '100',
        WORKER_BLOCK_MS: '20',
        RETRY_MAX_DELAY_MS: '300',
      },
    })
  })
  after(async () => {
    await t?.close()
    await proxy?.close()
    await db?.drop()
  })

  test('the API keeps accepting, the worker backs off, and every event lands once it is back', async () => {
    proxy.interrupt()
    const batches = [makeEvents(100), makeEvents(100), makeEvents(100)]
    for (const b of batches) {
      const res = await t.app.inject({ method: 'POST', url: '/events', payload: b })
      assert.equal(res.statusCode, 202, 'the queue takes events while the store is away')
    }
    // The worker has taken entries, and retries them against the store that is away...
    await waitFor(
      'the worker holding entries',
      () => status(t),
      (s) => s.shared.pending > 0,
    )
    // ...for several backoff rounds, longer than MAX_ATTEMPTS × CLAIM_IDLE_MS: an
    // outage must not count against the entries. This is how long the outage
    // lasts, not a wait for something; a slow machine only makes it longer.
    await new Promise((r) => setTimeout(r, 1_500))
    assert.equal(await db.count(), 0)
    const during = await status(t)
    assert.equal(during.dead_lettered, 0)
    assert.equal(during.queued_events, 300)
    assert.equal(during.shared.queued_events, 300)
    const health = await t.app.inject({ method: 'GET', url: '/health' })
    assert.equal(health.statusCode, 503)
    assert.equal(health.json().dependencies.database.status, 'down')

    proxy.restore()
    await waitFor(
      'all events stored',
      () => db.count(),
      (n) => n === 300,
      15_000,
    )
    const afterwards = await waitFor(
      'the queue drained',
      () => status(t),
      (s) => s.queued_events === 0,
    )
    assert.deepEqual(
      [afterwards.shared.pending, afterwards.shared.queued_events, afterwards.dead_lettered],
      [0, 0, 0],
    )
  })
})
