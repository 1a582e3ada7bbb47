import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { occurredAt } from '../../src/compat/clock.ts'
import {
  CONTENT_NAMESPACE,
  contentEventId,
  eventIdOf,
  MESSAGE_ID_NAMESPACE,
  uuidV5,
} from '../../src/compat/event-id.ts'
import { storableJson } from '../../src/compat/json-text.ts'
import { parseSegment } from '../../src/stats/segment.ts'

describe('event ids of SDK messages', () => {
  test('uuidV5 is RFC 9562 version 5 (its DNS example)', () => {
    assert.equal(
      uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com'),
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    )
  })

  test('a UUID is kept (lower-case); anything else is a UUIDv5 of (project, id)', () => {
    assert.equal(
      eventIdOf(1, '0B9F5C4E-6A1D-4F7E-9C2B-8E3D7A6F1C05'),
      '0b9f5c4e-6a1d-4f7e-9c2b-8e3d7a6f1c05',
    )
    const id = 'node-next-1668208232027-743be593-7789-4b74-8078-cbcc8894c586'
    assert.equal(eventIdOf(1, id), uuidV5(MESSAGE_ID_NAMESPACE, `1:${id}`))
    assert.match(
      eventIdOf(1, id),
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    )
    assert.equal(eventIdOf(1, id), eventIdOf(1, id), 'stable')
    assert.notEqual(eventIdOf(2, id), eventIdOf(1, id), 'per project')
    // urn:uuid: and braces are not UUIDs as PostgreSQL stores them: mapped like any other id.
    assert.equal(eventIdOf(1, '{0b9f5c4e-6a1d-4f7e-9c2b-8e3d7a6f1c05}').length, 36)
  })

  test('without an id, the content decides, less the send time and the key', () => {
    const message = { type: 'track', event: 'x', userId: 'u', properties: { a: 1 } }
    const id = contentEventId(1, message)
    assert.equal(
      contentEventId(1, { ...message, sentAt: '2026-11-01T00:00:00Z', writeKey: 'k', offset: 3 }),
      id,
    )
    assert.notEqual(contentEventId(1, { ...message, properties: { a: 2 } }), id)
    assert.notEqual(contentEventId(2, message), id)
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-5/)
    assert.notEqual(CONTENT_NAMESPACE, MESSAGE_ID_NAMESPACE)
    // A member named __proto__ is content like any other.
    assert.notEqual(
      contentEventId(1, JSON.parse('{"event":"x","__proto__":{"a":1}}')),
      contentEventId(1, { event: 'x' }),
    )
  })
})

describe('occurredAt: the client clock, corrected as Segment and PostHog correct it', () => {
  const received = Date.parse('2026-11-01T12:00:00.000Z')

  test('with a send time: received - (sentAt - client time), microseconds kept', () => {
    assert.deepEqual(occurredAt('2026-11-01T09:59:55.000Z', '2026-11-01T10:00:00.000Z', received), {
      at: '2026-11-01T11:59:55.000Z',
    })
    // Offsets and fractions as sent; the client's microseconds survive the shift.
    assert.deepEqual(
      occurredAt('2026-11-01T11:59:50.123456+02:00', '2026-11-01T10:00:00Z', received),
      {
        at: '2026-11-01T11:59:50.123456Z',
      },
    )
    // PostHog's browser client: its send time as ?_= epoch milliseconds.
    assert.deepEqual(
      occurredAt('2026-11-01T09:59:59.500Z', String(Date.parse('2026-11-01T10:00:00Z')), received),
      {
        at: '2026-11-01T11:59:59.500Z',
      },
    )
  })

  test('without a usable send time, the client time as sent; without either, the time received', () => {
    assert.deepEqual(occurredAt('2026-10-01T00:00:00+01:00', undefined, received), {
      at: '2026-10-01T00:00:00+01:00',
    })
    assert.deepEqual(occurredAt('2026-10-01T00:00:00Z', 'yesterday', received), {
      at: '2026-10-01T00:00:00Z',
    })
    assert.deepEqual(occurredAt(undefined, '2026-11-01T10:00:00Z', received), {
      at: '2026-11-01T12:00:00.000Z',
    })
    assert.deepEqual(occurredAt(null, undefined, received), { at: '2026-11-01T12:00:00.000Z' })
    // PostHog's offset: milliseconds before the send.
    assert.deepEqual(occurredAt(undefined, undefined, received, 1500), {
      at: '2026-11-01T11:59:58.500Z',
    })
  })

  test('what cannot be a time is said so', () => {
    assert.deepEqual(occurredAt(1761998400000, undefined, received), {
      error: 'must be an RFC 3339 date-time string',
    })
    // A correction that lands outside what PostgreSQL stores.
    assert.deepEqual(occurredAt('0001-01-01T00:00:00Z', '2026-11-02T12:00:00Z', received), {
      error: 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z',
    })
  })
})

describe('filters name property keys as SDKs write them', () => {
  test('$current_url, $browser, utm_source, $feature/flag-name and context paths parse', () => {
    for (const [text, path] of [
      ['properties.$current_url:https://shop.test/', ['$current_url']],
      ['properties.$browser:Firefox', ['$browser']],
      ['properties.utm_source:newsletter', ['utm_source']],
      ['properties.$feature/new-checkout:true', ['$feature/new-checkout']],
      ['properties.context.page.url:x', ['context', 'page', 'url']],
      ['properties.$set.$initial_referrer:x', ['$set', '$initial_referrer']],
    ] as const) {
      const parsed = parseSegment(text)
      assert.ok(typeof parsed !== 'string', `${text}: ${parsed}`)
      assert.deepEqual(parsed.field, { kind: 'property', path })
    }
  })

  test('still no key that is only "$", starts with "/" or "$$", or holds quotes, spaces or dots', () => {
    for (const path of ['$', '/a', '$$a', 'a$b', 'a"b', 'a b', '$a.', `$${'k'.repeat(64)}`])
      assert.match(parseSegment(`properties.${path}:x`) as string, /property path/, path)
  })
})

describe('storableJson', () => {
  test('NUL and lone surrogates become U+FFFD; escaped backslashes before "u0000" are text', () => {
    assert.equal(
      storableJson({ a: 'x\u0000y', b: '\ud800', c: '\\u0000' }),
      '{"a":"x\\ufffdy","b":"\\ufffd","c":"\\\\u0000"}',
    )
    assert.equal(storableJson({ ok: '😀' }), '{"ok":"😀"}')
  })
})
