import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { queueKeys } from '../../src/queue/redis-stream-queue.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { makeEvent, makeEvents, waitFor } from '../helpers/events.ts'
import { INGEST_MODES } from '../helpers/ingest-modes.ts'
import { TEST_REDIS_URL } from '../helpers/services.ts'

for (const mode of INGEST_MODES) {
  describe(`POST /events, ${mode.name}`, { skip: mode.skip }, () => {
    let db: TestDatabase | undefined
    let t: TestApp
    const post = (payload: unknown, headers: Record<string, string> = {}) =>
      t.app.inject({ method: 'POST', url: '/events', payload: payload as object, headers })
    // In queue mode the worker stores asynchronously; wait for the count we expect.
    const stored = (n: number) =>
      waitFor(
        'events stored',
        () => t.count(),
        (c) => c === n,
      )
    // Rows as the driver gives them: the assertions say what each must hold.
    // biome-ignore lint/suspicious/noExplicitAny: a row's columns are whatever the query selects
    type Row = Record<string, any>
    const sql = <R>(text: string, values: unknown[] = []) => t.deps.db.query<R>(text, values)
    /** the id of the last entry ever added to the queue's stream: every enqueue moves it */
    const lastEnqueued = async () => {
      const redis = new Redis(TEST_REDIS_URL)
      try {
        const info = (await redis.xinfo(
          'STREAM',
          queueKeys(t.env.REDIS_KEY_PREFIX!).stream,
        )) as unknown[]
        return info[info.indexOf('last-generated-id') + 1]
      } finally {
        redis.disconnect()
      }
    }

    before(async () => {
      db = mode.server ? await createTestDatabase() : undefined
      t = await startTestApp({
        databaseUrl: db?.url,
        queue: mode.queue,
        worker: true,
        env: { MAX_BATCH_SIZE: '1000' },
      })
    })
    after(async () => {
      await t?.close()
      await db?.drop()
    })

    test('a batch lands as rows, exactly as sent', async () => {
      const events = makeEvents(5, { user_id: 'alice' })
      events[0]!.occurred_at = '2026-11-01T00:30:00+02:00'
      const res = await post({ events })
      assert.equal(res.statusCode, mode.status)
      assert.deepEqual(res.json(), {
        total_received: 5,
        inserted: 5,
        duplicates: 0,
        message: mode.queue ? 'events accepted for processing' : 'events stored',
      })
      await stored(5)
      const { rows } = await sql<Row>(
        `SELECT event_id::text, occurred_at, user_id, event_type, properties FROM events WHERE event_id = $1`,
        [events[0]!.event_id],
      )
      assert.deepEqual(rows[0], {
        event_id: events[0]!.event_id,
        occurred_at: new Date('2026-10-31T22:30:00Z'),
        user_id: 'alice',
        event_type: 'page_view',
        properties: { page: '/home' },
      })
    })

    test('a re-sent batch adds nothing and counts every event as a duplicate', async () => {
      const events = makeEvents(20)
      const ids = events.map((e) => e.event_id)
      const countOf = async () =>
        (
          await sql<Row>('SELECT count(*)::int AS n FROM events WHERE event_id = ANY($1::uuid[])', [
            ids,
          ])
        ).rows[0]!.n
      assert.equal((await post(events)).statusCode, mode.status)
      await waitFor('the first send stored', countOf, (n) => n === 20)
      const total = await t.count()
      const res = await post(events)
      assert.equal(res.statusCode, mode.status)
      assert.deepEqual(
        { inserted: res.json().inserted, duplicates: res.json().duplicates },
        { inserted: 0, duplicates: 20 },
      )
      if (mode.queue) {
        // Nothing was enqueued: the backlog is empty right away.
        const status = (await t.app.inject({ method: 'GET', url: '/events/queue/status' })).json()
        assert.deepEqual([status.queued_events, status.shared.queued_events], [0, 0])
      }
      assert.equal(await t.count(), total)
    })

    test('repeats inside one request count as duplicates and the first version wins', async () => {
      const first = makeEvent({ event_type: 'first' })
      const again = { ...first, event_type: 'second', event_id: first.event_id.toUpperCase() }
      const res = await post([first, makeEvent(), again])
      assert.deepEqual(res.json(), { ...res.json(), total_received: 3, inserted: 2, duplicates: 1 })
      const rows = await waitFor(
        'the event stored',
        async () =>
          (await sql<Row>('SELECT event_type FROM events WHERE event_id = $1', [first.event_id]))
            .rows,
        (r) => r.length === 1,
      )
      assert.equal(rows[0]!.event_type, 'first')
    })

    test('8 concurrent senders of the same 1,000 events store exactly 1,000 rows', async () => {
      const start = await t.count()
      const events = makeEvents(1000)
      const responses = await Promise.all(Array.from({ length: 8 }, () => post(events)))
      for (const r of responses) assert.equal(r.statusCode, mode.status)
      const bodies = responses.map((r) => r.json())
      for (const b of bodies) assert.equal(b.inserted + b.duplicates, 1000)
      if (!mode.queue) {
        // Written before answering: the inserted counts add up to what was stored.
        assert.equal(
          bodies.reduce((s, b) => s + b.inserted, 0),
          1000,
        )
      }
      await stored(start + 1000)
      const { rows } = await sql<Row>(
        'SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS d FROM events WHERE event_id = ANY($1::uuid[])',
        [events.map((e) => e.event_id)],
      )
      assert.deepEqual(rows[0], { n: 1000, d: 1000 })
    })

    test('an invalid event rejects the whole request with 422 and stores nothing', async () => {
      const start = await t.count()
      const enqueuedBefore = mode.queue ? await lastEnqueued() : undefined
      const res = await post([
        makeEvent(),
        makeEvent({ user_id: '' }),
        makeEvent({ event_id: 'nope', event_type: '' }),
      ])
      assert.equal(res.statusCode, 422)
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
      const body = res.json()
      assert.equal(body.code, 'VALIDATION_ERROR')
      assert.equal(body.status, 422)
      assert.deepEqual(
        body.errors.map((e: { index: number; field: string }) => `${e.index}.${e.field}`).sort(),
        ['1.user_id', '2.event_id', '2.event_type'],
      )
      // Nothing went into the queue for the worker to store later: no need to wait and see.
      if (mode.queue) assert.equal(await lastEnqueued(), enqueuedBefore)
      assert.equal(await t.count(), start)
    })

    test('more than MAX_BATCH_SIZE events is 422 naming the limit', async () => {
      const res = await post(makeEvents(1001))
      assert.equal(res.statusCode, 422)
      assert.deepEqual(res.json().errors, [
        { field: 'events', message: 'must contain at most 1000 events, got 1001' },
      ])
    })

    test('malformed JSON is 400, a wrong content type 415, a body over the byte limit 413', async () => {
      const malformed = await t.app.inject({
        method: 'POST',
        url: '/events',
        payload: '[{"event_id":',
        headers: { 'content-type': 'application/json' },
      })
      assert.equal(malformed.statusCode, 400)
      assert.equal(malformed.json().code, 'MALFORMED_JSON')
      const text = await t.app.inject({
        method: 'POST',
        url: '/events',
        payload: 'hello',
        headers: { 'content-type': 'text/plain' },
      })
      assert.equal(text.statusCode, 415)
      assert.equal(text.json().code, 'UNSUPPORTED_MEDIA_TYPE')
      const huge = JSON.stringify([
        makeEvent({ properties: { blob: 'x'.repeat(t.config.limits.maxBodyBytes) } }),
      ])
      const large = await t.app.inject({
        method: 'POST',
        url: '/events',
        payload: huge,
        headers: { 'content-type': 'application/json' },
      })
      assert.equal(large.statusCode, 413)
      assert.equal(large.json().code, 'BODY_TOO_LARGE')
    })

    test('the request id is taken from the client or made, and echoed', async () => {
      const given = await post(makeEvents(1), { 'x-request-id': 'client-id-123' })
      assert.equal(given.headers['x-request-id'], 'client-id-123')
      const made = await post(makeEvents(1))
      assert.match(String(made.headers['x-request-id']), /^[0-9a-f-]{36}$/)
    })

    test('GET /health reports each dependency', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/health' })
      assert.equal(res.statusCode, 200)
      const body = res.json()
      assert.equal(body.status, 'healthy')
      assert.equal(body.dependencies.database.status, 'up')
      assert.equal(body.dependencies.database.engine, mode.server ? 'postgresql' : 'pglite')
      assert.equal(body.dependencies.redis?.status, mode.queue ? 'up' : undefined)
    })
  })
}
