import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { gzipSync } from 'node:zlib'
import type { LightMyRequestResponse } from 'fastify'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { makeEvent, waitFor } from '../helpers/events.ts'
import { INGEST_MODES } from '../helpers/ingest-modes.ts'

// Issue 13: whatever is answered 2xx must be stored, so what the store cannot
// hold is a 422 naming the field, never a 202 that is lost later or a 500 that
// a client retries forever.

/** The event as JSON text with properties spelled as given (numbers JSON.stringify cannot write). */
const withRawProperties = (event: object, properties: string) =>
  `${JSON.stringify({ ...event, properties: undefined }).slice(0, -1)},"properties":${properties}}`

const deep = (levels: number): Record<string, unknown> => {
  let value: Record<string, unknown> = {}
  for (let i = 1; i < levels; i++) value = { a: value }
  return value
}

for (const mode of INGEST_MODES) {
  describe(`POST /events refuses what the store cannot hold, ${mode.name}`, {
    skip: mode.skip,
  }, () => {
    let db: TestDatabase | undefined
    let t: TestApp
    const post = (payload: unknown, headers: Record<string, string> = {}) =>
      t.app.inject({
        method: 'POST',
        url: '/events',
        payload:
          typeof payload === 'string' || Buffer.isBuffer(payload)
            ? payload
            : JSON.stringify(payload),
        headers: { 'content-type': 'application/json', ...headers },
      })
    const sql = async <R>(text: string, values: unknown[] = []) =>
      (await t.deps.db.query<R>(text, values)).rows
    const idsStored = async (ids: string[]) =>
      (
        await sql<{ n: number }>(
          'SELECT count(*)::int AS n FROM events WHERE event_id = ANY($1::uuid[])',
          [ids],
        )
      )[0]!.n

    /** The 422 body, exactly; and that nothing of the request was stored or queued. */
    async function assertRefused(
      res: LightMyRequestResponse,
      errors: unknown[],
      ids: string[],
      status = 422,
    ) {
      assert.equal(res.statusCode, status, res.body)
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
      if (status === 422) {
        assert.deepEqual(res.json(), {
          type: 'about:blank',
          title: 'Unprocessable Content',
          status: 422,
          code: 'VALIDATION_ERROR',
          detail: `${errors.length} invalid field(s)`,
          errors,
          instance: '/events',
          request_id: res.headers['x-request-id'],
        })
      }
      if (mode.queue) {
        // A refusal enqueues nothing, so there is nothing to wait for.
        const queue = (await t.app.inject({ method: 'GET', url: '/events/queue/status' })).json()
        assert.deepEqual(
          [
            queue.shared.length,
            queue.shared.pending,
            queue.shared.queued_events,
            queue.queued_events,
          ],
          [0, 0, 0, 0],
        )
      }
      assert.equal(await idsStored(ids), 0)
    }
    /** Accepted, and then really stored. */
    async function assertStored(res: LightMyRequestResponse, ids: string[]) {
      assert.equal(res.statusCode, mode.status, res.body)
      await waitFor(
        'the events stored',
        () => idsStored(ids),
        (n) => n === ids.length,
      )
    }

    before(async () => {
      db = mode.server ? await createTestDatabase() : undefined
      t = await startTestApp({ databaseUrl: db?.url, queue: mode.queue, worker: true })
    })
    after(async () => {
      await t?.close()
      await db?.drop()
    })

    test('a year-0 timestamp beside a valid event is 422 for that field, and the batch is not half-stored', async () => {
      const events = [makeEvent(), makeEvent({ occurred_at: '0000-06-15T10:00:00Z' })]
      await assertRefused(
        await post(events),
        [
          {
            index: 1,
            field: 'occurred_at',
            message: 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z',
          },
        ],
        events.map((e) => e.event_id),
      )
      // The fast path (toISOString's form) and an offset that crosses into year 0 too.
      const more = [
        makeEvent({ occurred_at: '0000-12-31T23:00:00.000Z' }),
        makeEvent({ occurred_at: '0001-01-01T00:30:00+01:00' }),
      ]
      await assertRefused(
        await post(more),
        [0, 1].map((index) => ({
          index,
          field: 'occurred_at',
          message: 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z',
        })),
        more.map((e) => e.event_id),
      )
    })

    test('years 1 to 99 are stored as sent, not as 1901 to 1999', async () => {
      const events = [
        makeEvent({ occurred_at: '0001-01-01T00:00:00Z' }),
        makeEvent({ occurred_at: '0050-06-15T10:00:00+01:00' }),
      ]
      await assertStored(
        await post(events),
        events.map((e) => e.event_id),
      )
      const rows = await sql<{ t: string }>(
        `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') AS t FROM events WHERE event_id = ANY($1::uuid[]) ORDER BY occurred_at`,
        [events.map((e) => e.event_id)],
      )
      assert.deepEqual(
        rows.map((r) => r.t),
        ['0001-01-01T00:00:00', '0050-06-15T09:00:00'],
      )
    })

    test('NUL characters and lone surrogates anywhere are 422 naming the field', async () => {
      const events = [
        makeEvent({ user_id: 'a\u0000b' }),
        makeEvent({ event_type: 'click\u0000' }),
        makeEvent({ properties: { 'k\u0000': 1 } }),
        makeEvent({ properties: { k: ['\u0000'] } }),
        makeEvent({ properties: { k: 'x\ud800' } }),
        makeEvent({ user_id: '\udc00' }),
      ]
      const message = 'must be Unicode text without NUL characters'
      await assertRefused(
        await post(events),
        [
          { index: 0, field: 'user_id', message },
          { index: 1, field: 'event_type', message },
          { index: 2, field: 'properties', message },
          { index: 3, field: 'properties', message },
          { index: 4, field: 'properties', message },
          { index: 5, field: 'user_id', message },
        ],
        events.map((e) => e.event_id),
      )
      const marked = [makeEvent({ user_id: '\ufeffa' }), makeEvent({ event_type: '\ufeffclick' })]
      const bom = 'must not begin with U+FEFF (a byte-order mark)'
      await assertRefused(
        await post(marked),
        [
          { index: 0, field: 'user_id', message: bom },
          { index: 1, field: 'event_type', message: bom },
        ],
        marked.map((e) => e.event_id),
      )
      // Inside a value it is kept: a\ufeffb is a user of its own.
      const inside = makeEvent({ user_id: 'a\ufeffb' })
      await assertStored(await post([inside]), [inside.event_id])
      // The six characters \u0000 are text like any other.
      const text = makeEvent({ properties: { k: '\\u0000' } })
      await assertStored(await post([text]), [text.event_id])
    })

    test('properties nested 10,000 deep are 422 naming the field; 32 levels are stored', async () => {
      // As text: JSON.stringify itself overflows on it.
      const tooDeep = makeEvent()
      const body = `[${JSON.stringify(makeEvent())},${withRawProperties(tooDeep, `${'{"a":'.repeat(9_999)}{}${'}'.repeat(9_999)}`)}]`
      await assertRefused(
        await post(body),
        [
          {
            index: 1,
            field: 'properties',
            message: 'must nest at most 32 levels of objects and arrays',
          },
        ],
        [tooDeep.event_id],
      )
      const deepest = makeEvent({ properties: deep(32) })
      const over = makeEvent({ properties: deep(33) })
      await assertRefused(
        await post([deepest, over]),
        [
          {
            index: 1,
            field: 'properties',
            message: 'must nest at most 32 levels of objects and arrays',
          },
        ],
        [deepest.event_id],
      )
      await assertStored(await post([deepest]), [deepest.event_id])
    })

    test('a body nested a million deep is answered, not a crash', async () => {
      const event = makeEvent()
      const body = `[${withRawProperties(event, `{"a":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`)}]`
      await assertRefused(
        await post(body),
        [
          {
            index: 0,
            field: 'properties',
            message: 'must nest at most 32 levels of objects and arrays',
          },
        ],
        [event.event_id],
      )
      const notAnEvent = await post(`[${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}]`)
      assert.equal(notAnEvent.statusCode, 422)
      assert.deepEqual(notAnEvent.json().errors, [
        { index: 0, field: 'event', message: 'must be object' },
      ])
    })

    test('1e400 and integers beyond 2^53 are 422 naming the field; 2^53 - 1 is stored exactly', async () => {
      const events = [makeEvent(), makeEvent(), makeEvent(), makeEvent()]
      const body = `[${JSON.stringify(events[0])},${events
        .slice(1)
        .map((e, i) => withRawProperties(e, `{"n":${['1e400', '-1e400', '9007199254740993'][i]}}`))
        .join(',')}]`
      const range = 'holds a number beyond the range of a double (such as 1e400)'
      await assertRefused(
        await post(body),
        [
          { index: 1, field: 'properties', message: range },
          { index: 2, field: 'properties', message: range },
          {
            index: 3,
            field: 'properties',
            message:
              'holds a number beyond ±9007199254740991 (2^53 - 1); send larger numbers as strings',
          },
        ],
        events.map((e) => e.event_id),
      )
      const exact = makeEvent()
      const ok = `[${withRawProperties(exact, '{"n":9007199254740991,"m":-9007199254740991}')}]`
      await assertStored(await post(ok), [exact.event_id])
      const [row] = await sql<{ p: string }>(
        'SELECT properties::text AS p FROM events WHERE event_id = $1',
        [exact.event_id],
      )
      assert.equal(row!.p, '{"m": -9007199254740991, "n": 9007199254740991}')
    })

    test('a gzip body is 415 naming Content-Encoding, not "not valid JSON"', async () => {
      const event = makeEvent()
      const res = await post(gzipSync(JSON.stringify([event])), { 'content-encoding': 'gzip' })
      await assertRefused(res, [], [event.event_id], 415)
      assert.deepEqual(res.json(), {
        type: 'about:blank',
        title: 'Unsupported Media Type',
        status: 415,
        code: 'UNSUPPORTED_CONTENT_ENCODING',
        detail: 'Content-Encoding gzip is not supported; send the body uncompressed',
        instance: '/events',
        request_id: res.headers['x-request-id'],
      })
      assert.equal(res.headers['accept-encoding'], 'identity')
      const identity = makeEvent()
      await assertStored(await post([identity], { 'content-encoding': 'identity' }), [
        identity.event_id,
      ])
    })
  })
}
