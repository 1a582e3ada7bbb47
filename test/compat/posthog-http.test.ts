import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { gzipSync } from 'node:zlib'
import LZString from 'lz-string'
import { eventIdOf } from '../../src/compat/event-id.ts'
import { COMPAT_MODES, type CompatApp, problem, startCompatApp, waitUsers } from './compat-app.ts'

// PostHog's capture API as posthog-node and posthog-js send it, against the
// real app: embedded (stored before the answer) and with the queue.

const uuid = (n: number) => `01890000-0000-7000-8000-${String(n).padStart(12, '0')}`
const PATHS = ['/batch', '/capture', '/e', '/i/v0/e', '/track']
// Small, so the size limit is cheap to reach; the 413 names it.
const MAX_BODY_BYTES = 256 * 1024

function answer(res: { statusCode: number; body: string }) {
  assert.equal(res.statusCode, 200, res.body)
  const { received_at, ...rest } = JSON.parse(res.body)
  assert.match(received_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  return rest
}

for (const mode of COMPAT_MODES) {
  describe(`PostHog capture API: ${mode.name}`, { skip: mode.skip }, () => {
    let c: CompatApp
    before(async () => {
      c = await startCompatApp(mode, { MAX_BODY_BYTES: String(MAX_BODY_BYTES) })
    })
    after(() => c?.close())
    const event = (user: string, n: number, extra: Record<string, unknown> = {}) => ({
      event: '$pageview',
      distinct_id: user,
      uuid: uuid(n),
      timestamp: '2026-11-01T12:00:00.000Z',
      properties: { $current_url: 'https://shop.test/', $lib: 'posthog-node' },
      ...extra,
    })

    test('every path, with and without a trailing slash, answers {"status": 1}', async () => {
      let n = 0
      for (const path of PATHS) {
        for (const url of [path, `${path}/`]) {
          n++
          const body =
            n % 2
              ? { api_key: c.writeKey, batch: [event(`paths-${n}`, n)] }
              : { api_key: c.writeKey, ...event(`paths-${n}`, n) }
          assert.deepEqual(
            answer(await c.post(url, body, { 'content-type': 'application/json' })),
            {
              status: 1,
              received: 1,
              events: 1,
              duplicates: 0,
              identities: 0,
              rejected: 0,
            },
            url,
          )
        }
      }
      const stored = await waitUsers(c, 'paths-', 10)
      assert.deepEqual(
        stored.map((e) => e.event_id),
        Array.from({ length: 10 }, (_, i) => uuid(i + 1)),
      )
      assert.deepEqual(stored[0]!.properties, {
        $current_url: 'https://shop.test/',
        $lib: 'posthog-node',
      })
      assert.equal(stored[0]!.event_type, '$pageview')
    })

    test('the key as api_key, token or $token, in the body, its first message or its properties', async () => {
      const k = c.writeKey
      const cases: Array<[string, unknown, Record<string, string>?]> = [
        ['api_key beside the batch (posthog-node)', { api_key: k, batch: [event('keys-1', 101)] }],
        ['token beside the batch', { token: k, batch: [event('keys-2', 102)] }],
        ['$token in a single event', { $token: k, ...event('keys-3', 103) }],
        ['api_key in the first message', { batch: [{ ...event('keys-4', 104), api_key: k }] }],
        [
          'token in the properties of an array (posthog-js)',
          [{ ...event('keys-5', 105), properties: { token: k, $browser: 'Firefox' } }],
        ],
        ['$token in the properties', [{ ...event('keys-6', 106), properties: { $token: k } }]],
        ['Bearer', [event('keys-7', 107)], { authorization: `Bearer ${k}` }],
      ]
      for (const [name, body, headers] of cases) {
        const res = await c.post('/batch/', body as object, headers)
        assert.equal(res.statusCode, 200, `${name}: ${res.body}`)
      }
      const stored = await waitUsers(c, 'keys-', cases.length)
      // The key is not event data: posthog-js's properties.token is not kept.
      assert.deepEqual(stored.find((e) => e.user_id === 'keys-5')!.properties, {
        $browser: 'Firefox',
      })
      assert.deepEqual(stored.find((e) => e.user_id === 'keys-6')!.properties, {})
    })

    test('an unknown key in any place, or none, is 401 and nothing is kept', async () => {
      const bad = 'ea_not-a-key'
      const bodies: unknown[] = [
        { api_key: bad, batch: [event('refused-1', 201)] },
        { token: bad, ...event('refused-2', 202) },
        [{ ...event('refused-3', 203), properties: { token: bad } }],
        [event('refused-4', 204)],
        {
          api_key: bad,
          batch: [
            {
              event: '$identify',
              distinct_id: 'refused-5',
              properties: { $anon_distinct_id: 'x' },
            },
            { event: '' },
          ],
        },
      ]
      for (const body of bodies) {
        const res = await c.post('/e/', body as object)
        assert.equal(res.statusCode, 401, res.body)
        assert.equal(res.json().code, 'UNAUTHORIZED')
      }
      const gz = await c.post('/batch/', gzipSync(JSON.stringify(bodies[0])), {
        'content-encoding': 'gzip',
      })
      assert.equal(gz.statusCode, 401)
      await c.post('/e/', { api_key: c.writeKey, ...event('refused-marker', 299) })
      await waitUsers(c, 'refused-marker', 1)
      assert.equal((await c.events()).filter((e) => e.user_id.startsWith('refused-')).length, 1)
      assert.equal(
        (await c.identities()).filter((r) => String(r.user_id).startsWith('refused-')).length,
        0,
      )
      assert.equal(
        (await c.read('/events/warnings?limit=1000')).warnings.filter(
          (w: { source: string }) => w.source === 'posthog',
        ).length,
        0,
      )
    })

    test('bodies by content: gzip with or without a header, gzip-js, lz64, base64 and JSON forms, text/plain', async () => {
      const batch = (n: number) => [
        { ...event(`enc-${n}`, 300 + n), properties: { token: c.writeKey } },
      ]
      const json = (n: number) => JSON.stringify(batch(n))
      const form = 'application/x-www-form-urlencoded'
      const cases: Array<[string, string, Buffer | string, Record<string, string>]> = [
        [
          'posthog-node: gzip, Content-Encoding: gzip',
          '/batch/',
          gzipSync(
            JSON.stringify({
              api_key: c.writeKey,
              batch: batch(1),
              sent_at: new Date().toISOString(),
            }),
          ),
          { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        ],
        ['gzip, no header', '/batch/', gzipSync(json(2)), { 'content-type': 'application/json' }],
        [
          'posthog-js: gzip-js as text/plain',
          `/e/?compression=gzip-js&ip=1&_=${Date.now()}&ver=1.200.0`,
          gzipSync(json(3)),
          { 'content-type': 'text/plain' },
        ],
        [
          'lz64 form, compression in the query',
          '/e/?compression=lz64',
          `data=${encodeURIComponent(LZString.compressToBase64(json(4)))}`,
          { 'content-type': form },
        ],
        [
          'lz64 form, compression in the form',
          '/e/',
          `data=${encodeURIComponent(LZString.compressToBase64(json(5)))}&compression=lz64`,
          { 'content-type': form },
        ],
        [
          'lz64, bare',
          '/i/v0/e/?compression=lz64',
          LZString.compressToBase64(json(6)),
          { 'content-type': 'text/plain' },
        ],
        [
          'base64 form',
          '/e/',
          `data=${encodeURIComponent(Buffer.from(json(7)).toString('base64'))}`,
          { 'content-type': form },
        ],
        [
          'base64 form, + unescaped',
          '/e/',
          `data=${Buffer.from(json(8)).toString('base64')}`,
          { 'content-type': form },
        ],
        ['JSON form', '/capture/', `data=${encodeURIComponent(json(9))}`, { 'content-type': form }],
        [
          'a beacon: JSON as text/plain',
          '/e/',
          json(10),
          { 'content-type': 'text/plain;charset=UTF-8' },
        ],
        ['JSON, no Content-Type', '/track', Buffer.from(json(11)), {}],
      ]
      for (const [name, url, payload, headers] of cases) {
        const res = await c.post(url, payload, headers)
        assert.equal(res.statusCode, 200, `${name}: ${res.body}`)
        assert.equal(res.headers['access-control-allow-origin'], '*', name)
      }
      assert.equal((await waitUsers(c, 'enc-', cases.length)).length, cases.length)
    })

    test('past the limits the answer is 413 (posthog-node halves its batch), and nothing is kept', async () => {
      const many = {
        api_key: c.writeKey,
        batch: Array.from({ length: 2501 }, (_, i) => ({ event: 'e', distinct_id: `limits-${i}` })),
      }
      let res = await c.post('/batch/', many)
      assert.deepEqual(problem(res), {
        type: 'about:blank',
        title: 'Content Too Large',
        status: 413,
        code: 'TOO_MANY_MESSAGES',
        detail: 'the request holds 2501 messages; a request may hold at most 2500',
      })
      const big = {
        api_key: c.writeKey,
        batch: [
          { event: 'e', distinct_id: 'limits-x', properties: { pad: 'x'.repeat(MAX_BODY_BYTES) } },
        ],
      }
      res = await c.post('/batch/', big)
      assert.deepEqual(problem(res), {
        type: 'about:blank',
        title: 'Content Too Large',
        status: 413,
        code: 'REQUEST_TOO_LARGE',
        detail: `the body is over ${MAX_BODY_BYTES} bytes`,
      })
      res = await c.post('/batch/', gzipSync(JSON.stringify(big)), { 'content-encoding': 'gzip' })
      assert.deepEqual(problem(res), {
        type: 'about:blank',
        title: 'Content Too Large',
        status: 413,
        code: 'REQUEST_TOO_LARGE',
        detail: `the decoded body is over ${MAX_BODY_BYTES} bytes (more than ${MAX_BODY_BYTES} bytes)`,
      })
      res = await c.post('/batch/', { api_key: c.writeKey, events: [] })
      assert.deepEqual(problem(res), {
        type: 'about:blank',
        title: 'Bad Request',
        status: 400,
        code: 'NO_MESSAGES',
        detail: 'a capture body is a message {"event": ...}, {"batch": [messages]} or [messages]',
      })
      await c.post('/e/', { api_key: c.writeKey, ...event('limits-marker', 499) })
      await waitUsers(c, 'limits-marker', 1)
      assert.equal((await c.events()).filter((e) => e.user_id.startsWith('limits-')).length, 1)
      assert.equal(
        await c.metric('ea_compat_requests_refused_total', {
          source: 'posthog',
          reason: 'too_large',
        }),
        2,
      )
    })

    test('ids: uuid kept, another id a UUIDv5, none from content; distinct_id from the message or its properties', async () => {
      const res = await c.post('/batch/', {
        api_key: c.writeKey,
        batch: [
          { event: 'A', distinct_id: 'ids-1', uuid: uuid(601).toUpperCase() },
          { event: 'A', distinct_id: 'ids-2', uuid: 'custom-602' },
          { event: 'A', properties: { distinct_id: 'ids-3', plan: 'pro' } },
          { event: 'A', distinct_id: 42, properties: { ids: 4 } },
        ],
      })
      assert.deepEqual(answer(res), {
        status: 1,
        received: 4,
        events: 4,
        duplicates: 0,
        identities: 0,
        rejected: 0,
      })
      const stored = await waitUsers(c, 'ids-', 3)
      assert.deepEqual(
        stored.map((e) => [e.user_id, e.event_id]).filter(([u]) => u !== 'ids-3'),
        [
          ['ids-1', uuid(601)],
          ['ids-2', eventIdOf(1, 'custom-602')],
        ].sort((a, b) => a[1]!.localeCompare(b[1]!)),
      )
      assert.deepEqual(stored.find((e) => e.user_id === 'ids-3')!.properties, {
        distinct_id: 'ids-3',
        plan: 'pro',
      })
      await waitUsers(c, '42', 1)
      const again = await c.post(
        '/batch/',
        gzipSync(
          JSON.stringify({
            api_key: c.writeKey,
            batch: [{ event: 'A', properties: { distinct_id: 'ids-3', plan: 'pro' } }],
            sent_at: new Date().toISOString(),
          }),
        ),
      )
      assert.equal(answer(again).duplicates, 1)
    })

    test("the clock: sent_at, the browser client's ?_=, offset, or the time as sent", async () => {
      const k = c.writeKey
      let res = await c.post('/batch/', {
        api_key: k,
        sent_at: '2026-11-01T10:00:00.000Z',
        batch: [
          {
            event: 'T',
            distinct_id: 'clock-1',
            uuid: uuid(701),
            timestamp: '2026-11-01T09:59:58.000Z',
          },
          { event: 'T', distinct_id: 'clock-2', uuid: uuid(702) },
        ],
      })
      const r1 = Date.parse(res.json().received_at)
      res = await c.post(`/e/?_=${Date.parse('2026-11-01T10:00:00.000Z')}`, [
        {
          event: 'T',
          distinct_id: 'clock-3',
          uuid: uuid(703),
          timestamp: '2026-11-01T09:59:57.250Z',
          properties: { token: k },
        },
      ])
      const r2 = Date.parse(res.json().received_at)
      res = await c.post('/e/', [
        {
          event: 'T',
          distinct_id: 'clock-4',
          uuid: uuid(704),
          offset: 1500,
          properties: { token: k },
        },
      ])
      const r3 = Date.parse(res.json().received_at)
      await c.post('/capture/', {
        api_key: k,
        event: 'T',
        distinct_id: 'clock-5',
        uuid: uuid(705),
        timestamp: '2026-10-01T00:00:00.000+03:00',
      })
      const stored = await waitUsers(c, 'clock-', 5)
      const at = (user: string) => stored.find((e) => e.user_id === user)!.occurred_at
      assert.equal(at('clock-1'), new Date(r1 - 2_000).toISOString())
      assert.equal(at('clock-2'), new Date(r1).toISOString())
      assert.equal(at('clock-3'), new Date(r2 - 2_750).toISOString())
      assert.equal(at('clock-4'), new Date(r3 - 1_500).toISOString())
      assert.equal(at('clock-5'), '2026-09-30T21:00:00.000Z')
    })

    test('$identify, $create_alias, $groupidentify and $set are events and are recorded for the merge', async () => {
      const t = (s: number) => `2026-11-03T08:00:0${s}.000Z`
      const res = await c.post('/batch/', {
        api_key: c.writeKey,
        batch: [
          {
            event: '$identify',
            distinct_id: 'who-1',
            uuid: uuid(801),
            timestamp: t(0),
            properties: {
              $anon_distinct_id: 'anon-1',
              $set: { email: 'a@x.test' },
              $set_once: { first_seen: '2026-11-03' },
            },
          },
          {
            event: '$create_alias',
            distinct_id: 'who-1',
            uuid: uuid(802),
            timestamp: t(1),
            properties: { distinct_id: 'who-1', alias: 'anon-2' },
          },
          {
            event: '$groupidentify',
            distinct_id: 'who-1',
            uuid: uuid(803),
            timestamp: t(2),
            properties: {
              $group_type: 'company',
              $group_key: 'acme',
              $group_set: { employees: 12 },
            },
          },
          {
            event: '$set',
            distinct_id: 'who-1',
            uuid: uuid(804),
            timestamp: t(3),
            properties: { $set: { plan: 'pro' } },
          },
          {
            event: 'Bought',
            distinct_id: 'who-1',
            uuid: uuid(805),
            timestamp: t(4),
            properties: { $set_once: { first_purchase: 'shoes' } },
          },
          { event: 'Viewed', distinct_id: 'who-1', uuid: uuid(806), timestamp: t(5) },
        ],
      })
      assert.deepEqual(answer(res), {
        status: 1,
        received: 6,
        events: 6,
        duplicates: 0,
        identities: 5,
        rejected: 0,
      })
      const base = {
        source: 'posthog',
        anonymous_id: null,
        previous_id: null,
        group_id: null,
        group_type: null,
        traits: {},
        traits_once: {},
      }
      assert.deepEqual(
        (await c.identities()).filter((r) => r.user_id === 'who-1' && r.source === 'posthog'),
        [
          {
            ...base,
            message_id: uuid(801),
            kind: 'identify',
            user_id: 'who-1',
            anonymous_id: 'anon-1',
            traits: { email: 'a@x.test' },
            traits_once: { first_seen: '2026-11-03' },
            occurred_at: t(0),
          },
          {
            ...base,
            message_id: uuid(802),
            kind: 'alias',
            user_id: 'who-1',
            previous_id: 'anon-2',
            occurred_at: t(1),
          },
          {
            ...base,
            message_id: uuid(803),
            kind: 'group',
            user_id: 'who-1',
            group_type: 'company',
            group_id: 'acme',
            traits: { employees: 12 },
            occurred_at: t(2),
          },
          {
            ...base,
            message_id: uuid(804),
            kind: 'set',
            user_id: 'who-1',
            traits: { plan: 'pro' },
            occurred_at: t(3),
          },
          {
            ...base,
            message_id: uuid(805),
            kind: 'set',
            user_id: 'who-1',
            traits_once: { first_purchase: 'shoes' },
            occurred_at: t(4),
          },
        ],
      )
      await waitUsers(c, 'who-1', 6)
      await c.t.deps.analytics!.catchUp()
      assert.deepEqual(await c.read('/stats/top-events?from=2026-11-03&to=2026-11-03'), [
        { event_type: '$create_alias', count: 1, unique_users: 1 },
        { event_type: '$groupidentify', count: 1, unique_users: 1 },
        { event_type: '$identify', count: 1, unique_users: 1 },
        { event_type: '$set', count: 1, unique_users: 1 },
        { event_type: 'Bought', count: 1, unique_users: 1 },
        { event_type: 'Viewed', count: 1, unique_users: 1 },
      ])
    })

    test('refused messages are warnings with their reasons, counted; the rest is stored', async () => {
      const res = await c.post('/batch/', {
        api_key: c.writeKey,
        batch: [
          { event: 'ok', distinct_id: 'mixed-1', uuid: uuid(901) },
          { event: 'ok', uuid: uuid(902) },
          { distinct_id: 'mixed-3', uuid: uuid(903) },
          { event: 'ok', distinct_id: 'mixed-4', uuid: uuid(904), api_key: 'ea_another-key' },
          { event: 'ok', distinct_id: 'mixed-5', uuid: uuid(905), properties: 'nope' },
          { event: 'ok', distinct_id: 'mixed-6', uuid: uuid(906), properties: { n: 2 ** 60 } },
          { event: '$create_alias', distinct_id: 'mixed-7', uuid: uuid(907), properties: {} },
        ],
      })
      assert.deepEqual(answer(res), {
        status: 1,
        received: 7,
        events: 1,
        duplicates: 0,
        identities: 0,
        rejected: 6,
      })
      assert.deepEqual(
        (await waitUsers(c, 'mixed-', 1)).map((e) => e.event_id),
        [uuid(901)],
      )
      const warnings = (await c.read('/events/warnings')).warnings.filter(
        (w: { request_id: string }) => w.request_id === res.headers['x-request-id'],
      )
      assert.deepEqual(
        warnings.map(({ index, reason, errors, message_id }: Record<string, unknown>) => ({
          index,
          reason,
          errors,
          message_id,
        })),
        [
          {
            index: 6,
            message_id: uuid(907),
            reason: 'invalid_previous_id',
            errors: [{ field: 'properties.alias', message: 'is required' }],
          },
          {
            index: 5,
            message_id: uuid(906),
            reason: 'invalid_properties',
            errors: [
              {
                field: 'properties',
                message:
                  'holds a number beyond ±9007199254740991 (2^53 - 1); send larger numbers as strings',
              },
            ],
          },
          {
            index: 4,
            message_id: uuid(905),
            reason: 'invalid_properties',
            errors: [{ field: 'properties', message: 'must be an object' }],
          },
          {
            index: 3,
            message_id: uuid(904),
            reason: 'other_key',
            errors: [{ field: 'token', message: 'names another project key than its request' }],
          },
          {
            index: 2,
            message_id: uuid(903),
            reason: 'invalid_event_type',
            errors: [{ field: 'event', message: 'is required' }],
          },
          {
            index: 1,
            message_id: uuid(902),
            reason: 'no_user',
            errors: [{ field: 'distinct_id', message: 'is required' }],
          },
        ],
      )
      for (const [reason, count] of [
        ['no_user', 1],
        ['invalid_event_type', 1],
        ['other_key', 1],
        ['invalid_properties', 2],
        ['invalid_previous_id', 1],
      ] as const)
        assert.equal(
          await c.metric('ea_compat_messages_rejected_total', { source: 'posthog', reason }),
          count,
          reason,
        )
    })

    test('properties as SDKs write them are filtered and broken down by ($current_url, $browser, $feature/…)', async () => {
      const batch = []
      const browsers = ['Firefox', 'Chrome', 'Chrome', 'Safari']
      for (let i = 0; i < 12; i++)
        batch.push({
          event: '$pageview',
          distinct_id: `flt-${i % 4}`,
          uuid: uuid(1000 + i),
          timestamp: `2026-11-05T1${i % 10}:00:00.000Z`,
          properties: {
            $current_url: `https://shop.test/${i % 3 === 0 ? 'pricing' : 'home'}`,
            $browser: browsers[i % 4],
            '$feature/new-checkout': i % 2 === 0,
            utm_source: 'mail',
          },
        })
      assert.equal(answer(await c.post('/batch/', { api_key: c.writeKey, batch })).events, 12)
      await waitUsers(c, 'flt-', 12)
      await c.t.deps.analytics!.catchUp()
      const range = 'from=2026-11-05&to=2026-11-05'
      const byUrl = await c.read(`/stats/breakdown?${range}&by=properties.$current_url`)
      assert.deepEqual(byUrl.values, [
        { value: 'https://shop.test/home', count: 8, unique_users: 4 },
        // i = 0, 3, 6, 9: users 0, 3, 2, 1
        { value: 'https://shop.test/pricing', count: 4, unique_users: 4 },
      ])
      assert.deepEqual(await c.read(`/stats/dau?${range}&segment=properties.$browser:Chrome`), [
        { date: '2026-11-05', unique_users: 2 },
      ])
      assert.deepEqual(
        await c.read(`/stats/top-events?${range}&segment=properties.$feature/new-checkout:true`),
        [{ event_type: '$pageview', count: 6, unique_users: 2 }],
      )
      assert.deepEqual(
        await c.read(
          `/stats/top-events?${range}&segment=properties.utm_source:mail&segment=properties.$browser:in:Safari,Firefox`,
        ),
        [{ event_type: '$pageview', count: 6, unique_users: 2 }],
      )
    })
  })
}
