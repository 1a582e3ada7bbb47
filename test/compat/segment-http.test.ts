import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { ApiKeyStore } from '../../src/auth/api-keys.ts'
import { eventIdOf } from '../../src/compat/event-id.ts'
import {
  basic,
  COMPAT_MODES,
  type CompatApp,
  problem,
  startCompatApp,
  waitUsers,
} from './compat-app.ts'

// Segment's HTTP Tracking API as Segment's and RudderStack's clients speak it,
// against the real app: embedded (stored before the answer) and with the queue.

const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`
const TYPES = ['batch', 'track', 'page', 'screen', 'identify', 'group', 'alias'] as const

/** The answer without the receive time, which the clock tests look at. */
function answer(res: { statusCode: number; body: string }) {
  assert.equal(res.statusCode, 200, res.body)
  const { received_at, ...rest } = JSON.parse(res.body)
  assert.match(received_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  return rest
}

for (const mode of COMPAT_MODES) {
  describe(`Segment HTTP API: ${mode.name}`, { skip: mode.skip }, () => {
    let c: CompatApp
    before(async () => {
      c = await startCompatApp(mode)
    })
    after(() => c?.close())

    test('every path, with and without a trailing slash, takes its call', async () => {
      let n = 100
      const expectedEvents: Array<{ event_id: string; event_type: string; user_id: string }> = []
      const expectedIdentities: string[] = []
      for (const type of TYPES) {
        for (const slash of ['', '/']) {
          const id = uuid(++n)
          const user = `paths-${type}${slash ? '-slash' : ''}`
          const message: Record<string, unknown> = {
            messageId: id,
            userId: user,
            timestamp: '2026-11-01T12:00:00.000Z',
            ...(type === 'track' || type === 'batch' ? { event: 'Signed Up' } : {}),
            ...(type === 'page' || type === 'screen' ? { name: 'Home', category: 'Docs' } : {}),
            ...(type === 'group' ? { groupId: 'acme' } : {}),
            ...(type === 'alias' ? { previousId: `anon-${n}` } : {}),
          }
          const body = type === 'batch' ? { batch: [{ ...message, type: 'track' }] } : message
          const res = await c.post(`/v1/${type}${slash}`, body, basic(c.writeKey))
          const isEvent = !['identify', 'group', 'alias'].includes(type)
          assert.deepEqual(
            answer(res),
            {
              success: true,
              received: 1,
              events: isEvent ? 1 : 0,
              duplicates: 0,
              identities: isEvent ? 0 : 1,
              rejected: 0,
            },
            `/v1/${type}${slash}`,
          )
          if (isEvent)
            expectedEvents.push({
              event_id: id,
              user_id: user,
              event_type:
                type === 'page' ? 'page_view' : type === 'screen' ? 'screen_view' : 'Signed Up',
            })
          else expectedIdentities.push(`${type}:${user}`)
        }
      }
      const stored = await waitUsers(c, 'paths-', expectedEvents.length)
      assert.deepEqual(
        stored.map(({ event_id, user_id, event_type }) => ({ event_id, user_id, event_type })),
        expectedEvents.sort((a, b) => a.event_id.localeCompare(b.event_id)),
      )
      const page = stored.find((e) => e.user_id === 'paths-page')!
      assert.deepEqual(page.properties, { name: 'Home', category: 'Docs' })
      const screen = stored.find((e) => e.user_id === 'paths-screen')!
      assert.deepEqual(screen.properties, { name: 'Home', category: 'Docs' })
      const identities = (await c.identities()).filter((r) =>
        String(r.user_id).startsWith('paths-'),
      )
      assert.deepEqual(
        identities.map((r) => `${r.kind === 'identify' ? 'identify' : r.kind}:${r.user_id}`).sort(),
        expectedIdentities.sort(),
      )
    })

    test("the key as HTTP Basic, as writeKey in the body, or as this service's own headers", async () => {
      const message = (n: number) => ({
        type: 'track',
        event: 'k',
        userId: `keys-${n}`,
        messageId: uuid(200 + n),
      })
      const cases: Array<[string, object, Record<string, string>]> = [
        ['Basic (analytics-node 3.x, RudderStack)', { batch: [message(1)] }, basic(c.writeKey)],
        [
          'Basic with the key as password',
          { batch: [message(2)] },
          { authorization: `Basic ${Buffer.from(`:${c.writeKey}`).toString('base64')}` },
        ],
        [
          'writeKey in the batch (analytics-node 2.x: no header)',
          { batch: [message(3)], writeKey: c.writeKey },
          {},
        ],
        ['writeKey in a single call', { ...message(4), writeKey: c.writeKey }, {}],
        ['Bearer', { batch: [message(5)] }, { authorization: `Bearer ${c.writeKey}` }],
        ['X-API-Key', { batch: [message(6)] }, { 'x-api-key': c.writeKey }],
      ]
      for (const [name, body, headers] of cases) {
        const url = 'batch' in body ? '/v1/batch' : '/v1/track'
        const res = await c.post(url, body, headers)
        assert.equal(res.statusCode, 200, `${name}: ${res.body}`)
        assert.equal(res.headers['x-ratelimit-limit'], '1000000000', name)
      }
      const stored = await waitUsers(c, 'keys-', cases.length)
      assert.deepEqual(
        stored.map((e) => e.user_id).sort(),
        cases.map((_, i) => `keys-${i + 1}`),
      )
    })

    test('an unknown or revoked key, or none, is 401 and nothing is kept', async () => {
      const revoked = (await new ApiKeyStore(c.t.deps.db).create('write', 'old', 1)).key
      await new ApiKeyStore(c.t.deps.db).revoke(revoked.slice(0, 12))
      const body = (n: number) => ({
        batch: [
          { type: 'track', event: 'no', userId: `refused-${n}`, messageId: uuid(300 + n) },
          { type: 'identify', userId: `refused-${n}`, traits: { a: 1 } },
          { type: 'track', userId: `refused-${n}` }, // invalid: would be a warning
        ],
      })
      const cases: Array<[object, Record<string, string>]> = [
        [body(1), {}],
        [body(2), basic('ea_not-a-key')],
        [{ ...body(3), writeKey: 'ea_not-a-key' }, {}],
        [body(4), basic(revoked)],
        [{ ...body(5), writeKey: revoked }, {}],
      ]
      const warningsBefore = (await c.read('/events/warnings?limit=1000')).warnings.length
      for (const [payload, headers] of cases) {
        const res = await c.post('/v1/batch', payload, headers)
        assert.equal(res.statusCode, 401, res.body)
        assert.equal(res.json().code, 'UNAUTHORIZED')
        assert.equal(res.headers['www-authenticate'], 'Bearer realm="event-analytics"')
      }
      // A request after them is stored: had any of them been taken, it would be too by now.
      await c.post('/v1/track', { event: 'marker', userId: 'refused-marker' }, basic(c.writeKey))
      await waitUsers(c, 'refused-marker', 1)
      assert.equal((await c.events()).filter((e) => e.user_id.startsWith('refused-')).length, 1)
      assert.equal(
        (await c.identities()).filter((r) => String(r.user_id).startsWith('refused-')).length,
        0,
      )
      assert.equal((await c.read('/events/warnings?limit=1000')).warnings.length, warningsBefore)
    })

    test('bodies are judged by content: gzip with or without its header, form and text/plain labels', async () => {
      const batch = (n: number) => ({
        batch: [{ type: 'track', event: 'enc', userId: `enc-${n}`, messageId: uuid(400 + n) }],
        sentAt: new Date().toISOString(),
      })
      const cases: Array<[string, Buffer | string, Record<string, string>]> = [
        [
          'gzip, Content-Encoding: gzip',
          gzipSync(JSON.stringify(batch(1))),
          { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        ],
        // RudderStack's Node SDK 3.x: gzip, labelled a form.
        [
          'gzip labelled a form',
          gzipSync(JSON.stringify(batch(2))),
          { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' },
        ],
        ['gzip with no header at all', gzipSync(JSON.stringify(batch(3))), {}],
        [
          'JSON labelled text/plain (a beacon)',
          JSON.stringify(batch(4)),
          { 'content-type': 'text/plain;charset=UTF-8' },
        ],
        ['JSON with no Content-Type', Buffer.from(JSON.stringify(batch(5))), {}],
        [
          'JSON labelled gzip',
          JSON.stringify(batch(6)),
          { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        ],
      ]
      for (const [name, payload, headers] of cases) {
        const res = await c.post('/v1/batch', payload, { ...headers, ...basic(c.writeKey) })
        assert.equal(res.statusCode, 200, `${name}: ${res.body}`)
      }
      assert.equal((await waitUsers(c, 'enc-', cases.length)).length, cases.length)
    })

    test("a message within Segment's 32 KB is stored, though its properties pass the service's own 16 KiB", async () => {
      const pad = 'x'.repeat(30 * 1024)
      const res = await c.post(
        '/v1/track',
        { event: 'roomy', userId: 'roomy-1', properties: { pad } },
        basic(c.writeKey),
      )
      assert.equal(res.statusCode, 200, res.body)
      assert.equal(res.json().rejected, 0)
      const [stored] = await waitUsers(c, 'roomy-', 1)
      assert.equal(stored!.properties.pad, pad)
    })

    test("past Segment's limits the request is 400 with the reason, and nothing is kept", async () => {
      const key = basic(c.writeKey)
      const big = {
        type: 'track',
        event: 'big',
        userId: 'limits-1',
        properties: { pad: 'x'.repeat(33 * 1024) },
      }
      const bigBytes = Buffer.byteLength(JSON.stringify(big))
      let res = await c.post(
        '/v1/batch',
        { batch: [{ type: 'track', event: 'ok', userId: 'limits-0' }, big] },
        key,
      )
      assert.equal(res.statusCode, 400)
      assert.deepEqual(problem(res), {
        type: 'about:blank',
        title: 'Bad Request',
        status: 400,
        code: 'MESSAGE_TOO_LARGE',
        detail: `message 1 is ${bigBytes} bytes as JSON; a message may be at most 32768 (Segment's limit)`,
      })
      const many = {
        batch: Array.from({ length: 2501 }, (_, i) => ({
          type: 'track',
          event: 'm',
          userId: `limits-${i}`,
        })),
      }
      res = await c.post('/v1/batch', many, key)
      assert.deepEqual(problem(res), {
        type: 'about:blank',
        title: 'Bad Request',
        status: 400,
        code: 'TOO_MANY_MESSAGES',
        detail: 'the request holds 2501 messages; a request may hold at most 2500',
      })
      const tooMuch = {
        batch: Array.from({ length: 20 }, (_, i) => ({
          type: 'track',
          event: 'm',
          userId: `limits-${i}`,
          properties: { pad: 'y'.repeat(30 * 1024) },
        })),
      }
      res = await c.post('/v1/batch', JSON.stringify(tooMuch), key)
      assert.equal(res.statusCode, 400)
      assert.deepEqual(problem(res), {
        type: 'about:blank',
        title: 'Bad Request',
        status: 400,
        code: 'REQUEST_TOO_LARGE',
        detail: "the body is over 512000 bytes (Segment's limit is 500 KB a request)",
      })
      // The same after decompression: a small gzip that inflates past 500 KB.
      res = await c.post('/v1/batch', gzipSync(JSON.stringify(tooMuch)), {
        ...key,
        'content-encoding': 'gzip',
      })
      assert.deepEqual(problem(res), {
        type: 'about:blank',
        title: 'Bad Request',
        status: 400,
        code: 'REQUEST_TOO_LARGE',
        detail: 'the decoded body is over 512000 bytes (more than 512000 bytes)',
      })
      res = await c.post('/v1/batch', '{"batch": [', key)
      assert.equal(res.statusCode, 400)
      assert.equal(res.json().code, 'MALFORMED_BODY')
      res = await c.post('/v1/batch', { events: [] }, key)
      assert.deepEqual(problem(res), {
        type: 'about:blank',
        title: 'Bad Request',
        status: 400,
        code: 'NO_MESSAGES',
        detail: 'a /v1/batch body is {"batch": [messages]}',
      })
      res = await c.post('/v1/batch', '', key)
      assert.deepEqual(problem(res), {
        type: 'about:blank',
        title: 'Bad Request',
        status: 400,
        code: 'MALFORMED_BODY',
        detail: 'the body is empty',
      })
      await c.post('/v1/track', { event: 'marker', userId: 'limits-marker' }, key)
      await waitUsers(c, 'limits-marker', 1)
      assert.equal((await c.events()).filter((e) => e.user_id.startsWith('limits-')).length, 1)
      assert.equal(
        await c.metric('ea_compat_requests_refused_total', {
          source: 'segment',
          reason: 'message_too_large',
        }),
        1,
      )
      assert.equal(
        await c.metric('ea_compat_requests_refused_total', {
          source: 'segment',
          reason: 'too_large',
        }),
        2,
      )
      assert.equal(
        await c.metric('ea_compat_requests_refused_total', {
          source: 'segment',
          reason: 'too_many_messages',
        }),
        1,
      )
    })

    test('a batch with invalid messages stores the valid ones; each refused one is a warning with its reason, counted', async () => {
      const now = Date.now()
      const future = new Date(now + 2 * 86_400_000).toISOString()
      const batch = [
        { type: 'track', event: 'Mixed', userId: 'mixed-1', messageId: uuid(501) },
        { type: 'track', event: 'Mixed', messageId: uuid(502) }, // no user
        { type: 'bogus', userId: 'mixed-3', messageId: uuid(503) },
        {
          type: 'track',
          event: 'Mixed',
          userId: 'mixed-4',
          messageId: uuid(504),
          timestamp: 'last tuesday',
        },
        {
          type: 'track',
          event: 'Mixed',
          userId: 'mixed-5',
          messageId: uuid(505),
          timestamp: future,
        },
        { type: 'track', event: 'Mi\u0000xed', userId: 'mixed-6', messageId: uuid(506) },
        {
          type: 'track',
          event: 'Mixed',
          userId: 'mixed-7',
          messageId: uuid(507),
          properties: [1, 2],
        },
        { type: 'page', anonymousId: 'mixed-8', messageId: uuid(508), name: 'Pricing' },
        'not a message',
        { type: 'track', event: 'x'.repeat(129), userId: 'mixed-10', messageId: uuid(510) },
        { type: 'alias', userId: 'mixed-11', messageId: uuid(511) }, // no previousId
      ]
      const res = await c.post('/v1/batch', { batch }, basic(c.writeKey))
      assert.deepEqual(answer(res), {
        success: true,
        received: 11,
        events: 2,
        duplicates: 0,
        identities: 0,
        rejected: 9,
      })
      const stored = await waitUsers(c, 'mixed-', 2)
      assert.deepEqual(
        stored.map((e) => e.event_id),
        [uuid(501), uuid(508)],
      )
      const warnings = (await c.read('/events/warnings?limit=1000')).warnings.filter(
        (w: { request_id: string }) => w.request_id === res.headers['x-request-id'],
      )
      assert.deepEqual(
        warnings.map(({ index, reason, errors, source }: Record<string, unknown>) => ({
          index,
          reason,
          errors,
          source,
        })),
        [
          {
            index: 10,
            source: 'segment',
            reason: 'invalid_previous_id',
            errors: [{ field: 'previousId', message: 'an alias needs previousId' }],
          },
          {
            index: 9,
            source: 'segment',
            reason: 'invalid_event_type',
            errors: [{ field: 'event', message: 'must NOT have more than 128 characters' }],
          },
          {
            index: 8,
            source: 'segment',
            reason: 'not_an_object',
            errors: [{ field: 'message', message: 'must be a JSON object' }],
          },
          {
            index: 6,
            source: 'segment',
            reason: 'invalid_properties',
            errors: [{ field: 'properties', message: 'must be an object' }],
          },
          {
            index: 5,
            source: 'segment',
            reason: 'invalid_event_type',
            errors: [{ field: 'event', message: 'must be Unicode text without NUL characters' }],
          },
          {
            index: 4,
            source: 'segment',
            reason: 'invalid_occurred_at',
            errors: [{ field: 'timestamp', message: 'is more than 86400 s in the future' }],
          },
          {
            index: 3,
            source: 'segment',
            reason: 'invalid_occurred_at',
            errors: [{ field: 'timestamp', message: 'must match format "date-time"' }],
          },
          {
            index: 2,
            source: 'segment',
            reason: 'unknown_type',
            errors: [
              {
                field: 'type',
                message: 'must be one of track, page, screen, identify, group, alias',
              },
            ],
          },
          {
            index: 1,
            source: 'segment',
            reason: 'no_user',
            errors: [{ field: 'userId', message: 'userId or anonymousId is required' }],
          },
        ],
      )
      // Each refused message is kept as sent (the NUL made storable), with the id it mapped to.
      const byIndex = new Map(warnings.map((w: { index: number }) => [w.index, w]))
      assert.deepEqual((byIndex.get(1) as { message: unknown }).message, batch[1])
      assert.equal((byIndex.get(1) as { message_id: string }).message_id, uuid(502))
      assert.deepEqual(
        (byIndex.get(5) as { message: { event: string } }).message.event,
        'Mi\ufffdxed',
      )
      assert.equal((byIndex.get(8) as { message: unknown }).message, 'not a message')
      for (const [reason, count] of [
        ['no_user', 1],
        ['unknown_type', 1],
        ['invalid_occurred_at', 2],
        ['invalid_event_type', 2],
        ['invalid_properties', 1],
        ['not_an_object', 1],
        ['invalid_previous_id', 1],
      ] as const)
        assert.equal(
          await c.metric('ea_compat_messages_rejected_total', { source: 'segment', reason }),
          count,
          reason,
        )
      // Sent again, the same: nothing new stored, each warning once.
      const again = await c.post('/v1/batch', { batch }, basic(c.writeKey))
      assert.deepEqual(answer(again), {
        success: true,
        received: 11,
        events: 2,
        duplicates: 2,
        identities: 0,
        rejected: 9,
      })
      const all = (await c.read('/events/warnings?limit=1000')).warnings
      assert.equal(all.filter((w: { message_id: string }) => w.message_id === uuid(502)).length, 1)
    })

    test('messageId: a UUID is kept; any other id is a UUIDv5 of (project, id), one event however often it is sent', async () => {
      const key = basic(c.writeKey)
      const nodeNext = 'node-next-1761998400000-0b9f5c4e-6a1d-4f7e-9c2b-8e3d7a6f1c05'
      const batch = [
        {
          type: 'track',
          event: 'Ids',
          userId: 'ids-1',
          messageId: '0B9F5C4E-6A1D-4F7E-9C2B-000000000601',
        },
        { type: 'track', event: 'Ids', userId: 'ids-2', messageId: nodeNext },
        { type: 'track', event: 'Ids', userId: 'ids-3' }, // no id: from its content
      ]
      const first = await c.post('/v1/batch', { batch, sentAt: new Date().toISOString() }, key)
      assert.equal(answer(first).events, 3)
      const stored = await waitUsers(c, 'ids-', 3)
      assert.deepEqual(stored.map((e) => [e.user_id, e.event_id]).sort(), [
        ['ids-1', '0b9f5c4e-6a1d-4f7e-9c2b-000000000601'],
        ['ids-2', eventIdOf(1, nodeNext)],
        ['ids-3', stored.find((e) => e.user_id === 'ids-3')!.event_id],
      ])
      // Resent (a retry has a new sentAt), gzipped, one by one: still three events.
      const resent = await c.post(
        '/v1/batch',
        gzipSync(JSON.stringify({ batch, sentAt: new Date().toISOString() })),
        key,
      )
      assert.deepEqual(answer(resent), {
        success: true,
        received: 3,
        events: 3,
        duplicates: 3,
        identities: 0,
        rejected: 0,
      })
      // Segment's clients send a single call with its type too; the id from content counts it.
      for (const message of batch)
        assert.equal(
          answer(await c.post('/v1/track', message, key)).duplicates,
          1,
          JSON.stringify(message),
        )
      await c.post('/v1/track', { event: 'marker', userId: 'ids-marker' }, key)
      await waitUsers(c, 'ids-marker', 1)
      assert.equal((await c.events()).filter((e) => /^ids-\d$/.test(e.user_id)).length, 3)
    })

    test('the clock: received - (sentAt - timestamp or originalTimestamp), else the client time, else when received', async () => {
      const key = basic(c.writeKey)
      const sentAt = '2026-11-01T10:00:00.000Z'
      const res = await c.post(
        '/v1/batch',
        {
          sentAt,
          batch: [
            {
              type: 'track',
              event: 'Clock',
              userId: 'clock-1',
              messageId: uuid(701),
              // RudderStack's client stamps every call; a timestamp given by the caller is the event's.
              originalTimestamp: '2026-11-01T09:59:59.900Z',
              timestamp: '2026-11-01T09:59:55.000Z',
            },
            {
              type: 'track',
              event: 'Clock',
              userId: 'clock-2',
              messageId: uuid(702),
              timestamp: '2026-11-01T09:59:49.500+00:00',
            },
            // RudderStack: its own sentAt on each message wins over the batch's.
            {
              type: 'track',
              event: 'Clock',
              userId: 'clock-3',
              messageId: uuid(703),
              originalTimestamp: '2026-11-01T10:59:59.000Z',
              sentAt: '2026-11-01T11:00:00.000Z',
            },
            { type: 'track', event: 'Clock', userId: 'clock-4', messageId: uuid(704) },
          ],
        },
        key,
      )
      const received = Date.parse(res.json().received_at)
      const noSentAt = await c.post(
        '/v1/track',
        {
          event: 'Clock',
          userId: 'clock-5',
          messageId: uuid(705),
          timestamp: '2026-10-31T23:30:00+02:00',
        },
        key,
      )
      assert.equal(noSentAt.statusCode, 200)
      const stored = await waitUsers(c, 'clock-', 5)
      const at = (user: string) => stored.find((e) => e.user_id === user)!.occurred_at
      assert.equal(at('clock-1'), new Date(received - 5_000).toISOString())
      assert.equal(at('clock-2'), new Date(received - 10_500).toISOString())
      assert.equal(at('clock-3'), new Date(received - 1_000).toISOString())
      assert.equal(at('clock-4'), new Date(received).toISOString())
      assert.equal(at('clock-5'), '2026-10-31T21:30:00.000Z')
    })

    test('identify, group and alias are recorded for the merge, not counted as events', async () => {
      const key = basic(c.writeKey)
      const res = await c.post(
        '/v1/batch',
        {
          batch: [
            {
              type: 'identify',
              userId: 'who-1',
              anonymousId: 'anon-1',
              messageId: uuid(801),
              traits: { email: 'a@x.test', plan: 'pro' },
              timestamp: '2026-11-02T08:00:00.000Z',
            },
            // RudderStack copies identify's traits into context.traits; either is taken.
            {
              type: 'identify',
              anonymousId: 'anon-2',
              messageId: uuid(802),
              context: { traits: { name: 'B' } },
              timestamp: '2026-11-02T08:00:01.000Z',
            },
            {
              type: 'group',
              userId: 'who-1',
              groupId: 'acme',
              messageId: uuid(803),
              traits: { employees: 12 },
              timestamp: '2026-11-02T08:00:02.000Z',
            },
            {
              type: 'alias',
              userId: 'who-1',
              previousId: 'anon-2',
              messageId: uuid(804),
              timestamp: '2026-11-02T08:00:03.000Z',
            },
            {
              type: 'track',
              userId: 'who-1',
              event: 'Bought',
              messageId: uuid(805),
              timestamp: '2026-11-02T08:00:04.000Z',
            },
          ],
        },
        key,
      )
      assert.deepEqual(answer(res), {
        success: true,
        received: 5,
        events: 1,
        duplicates: 0,
        identities: 4,
        rejected: 0,
      })
      const recorded = (await c.identities()).filter((r) =>
        ['who-1', 'anon-2'].includes(String(r.user_id)),
      )
      const base = {
        source: 'segment',
        anonymous_id: null,
        previous_id: null,
        group_id: null,
        group_type: null,
        traits_once: {},
      }
      assert.deepEqual(recorded, [
        {
          ...base,
          message_id: uuid(801),
          kind: 'identify',
          user_id: 'who-1',
          anonymous_id: 'anon-1',
          traits: { email: 'a@x.test', plan: 'pro' },
          occurred_at: '2026-11-02T08:00:00.000Z',
        },
        {
          ...base,
          message_id: uuid(802),
          kind: 'identify',
          user_id: 'anon-2',
          traits: { name: 'B' },
          occurred_at: '2026-11-02T08:00:01.000Z',
        },
        {
          ...base,
          message_id: uuid(803),
          kind: 'group',
          user_id: 'who-1',
          group_id: 'acme',
          traits: { employees: 12 },
          occurred_at: '2026-11-02T08:00:02.000Z',
        },
        {
          ...base,
          message_id: uuid(804),
          kind: 'alias',
          user_id: 'who-1',
          previous_id: 'anon-2',
          traits: {},
          occurred_at: '2026-11-02T08:00:03.000Z',
        },
      ])
      await waitUsers(c, 'who-1', 1)
      await c.t.deps.analytics!.catchUp()
      const top = await c.read('/stats/top-events?from=2026-11-02&to=2026-11-02')
      assert.deepEqual(top, [{ event_type: 'Bought', count: 1, unique_users: 1 }])
      const dau = await c.read('/stats/dau?from=2026-11-02&to=2026-11-02')
      assert.deepEqual(dau, [{ date: '2026-11-02', unique_users: 1 }])
      // Sent again: recorded once.
      await c.post(
        '/v1/identify',
        {
          userId: 'who-1',
          anonymousId: 'anon-1',
          messageId: uuid(801),
          traits: { email: 'changed' },
        },
        key,
      )
      assert.equal((await c.identities()).filter((r) => r.message_id === uuid(801)).length, 1)
    })

    test('/stats after ingestion answer what was sent, context under properties.context', async () => {
      const key = basic(c.writeKey)
      const sent: Array<{ day: string; user: string; event: string }> = []
      const batch = []
      for (let i = 0; i < 60; i++) {
        const day = `2026-11-${String(10 + (i % 3)).padStart(2, '0')}`
        const user = `st-${i % 7}`
        const event = ['Viewed', 'Clicked', 'Bought'][i % 5 === 0 ? 2 : i % 2]!
        sent.push({ day, user, event })
        batch.push({
          type: 'track',
          event,
          userId: user,
          messageId: `rs-${i}`,
          originalTimestamp: `${day}T12:00:00.000Z`,
          context: { library: { name: 'analytics-node' }, locale: 'uk' },
          properties: { i },
        })
      }
      const res = await c.post('/v1/batch', gzipSync(JSON.stringify({ batch })), {
        ...key,
        'content-type': 'application/x-www-form-urlencoded',
        'content-encoding': 'gzip',
      })
      assert.equal(answer(res).events, 60)
      const stored = await waitUsers(c, 'st-', 60)
      assert.deepEqual(stored.find((e) => e.properties.i === 0)!.properties, {
        i: 0,
        context: { library: { name: 'analytics-node' }, locale: 'uk' },
      })
      await c.t.deps.analytics!.catchUp()
      const expectedTop = ['Viewed', 'Clicked', 'Bought']
        .map((event_type) => {
          const mine = sent.filter((s) => s.event === event_type)
          return {
            event_type,
            count: mine.length,
            unique_users: new Set(mine.map((s) => s.user)).size,
          }
        })
        .sort((a, b) => b.count - a.count || a.event_type.localeCompare(b.event_type))
      assert.deepEqual(await c.read('/stats/top-events?from=2026-11-10&to=2026-11-12'), expectedTop)
      assert.deepEqual(
        await c.read('/stats/dau?from=2026-11-10&to=2026-11-12'),
        ['2026-11-10', '2026-11-11', '2026-11-12'].map((date) => ({
          date,
          unique_users: new Set(sent.filter((s) => s.day === date).map((s) => s.user)).size,
        })),
      )
      const locale = await c.read(
        '/stats/breakdown?from=2026-11-10&to=2026-11-12&by=properties.context.locale',
      )
      assert.deepEqual(locale.values, [{ value: 'uk', count: 60, unique_users: 7 }])
    })
  })
}
