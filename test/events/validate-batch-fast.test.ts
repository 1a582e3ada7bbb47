import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { matchesEventSchema, plainlyValid } from '../../src/events/validate-batch.ts'

// validateBatch skips the schema check for events plainlyValid passes; that is
// only sound if every such event passes the schema too. Events here sit on
// every edge the schema has: ids of the wrong length, case or characters,
// times near the RFC 3339 shape, lengths around the limits in characters
// that take one or two UTF-16 units, unknown fields, properties of other types.
const hexChar = fc.constantFrom(...'0123456789abcdefABCDEF', 'g', 'G', '-', ' ', 'é')
const eventId = fc.oneof(
  fc.uuid(),
  fc.uuid().map((u) => u.toUpperCase()),
  fc.array(hexChar, { minLength: 30, maxLength: 40 }).map((cs) => cs.join('')),
  fc.tuple(fc.uuid(), fc.nat(35), hexChar).map(([u, i, c]) => u.slice(0, i) + c + u.slice(i + 1)),
  fc.constant(`urn:uuid:${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`),
  fc.integer(),
)
const occurredAt = fc.oneof(
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom(
    '2026-11-01T00:00:00Z',
    '2026-11-01 00:00:00+01:00',
    '2026-11-01T00:00:00',
    '2026-13-45T99:99:99Z',
    'now',
    '',
  ),
  fc.integer(),
)
const unit = fc.constantFrom('a', '😀', 'é', '\u0000', '\ud800')
const text = (max: number) =>
  fc.oneof(
    fc
      .integer({ min: 0, max: max + 2 })
      .chain((n) => fc.string({ unit, minLength: n, maxLength: n })),
    fc.integer({ min: max - 2, max: max + 2 }).map((n) => 'x'.repeat(Math.max(0, n))),
    fc
      .integer({ min: Math.floor(max / 2) - 1, max: max + 1 })
      .map((n) => '😀'.repeat(Math.max(0, n))),
    fc.constant(''),
    fc.integer(),
  )
const properties = fc.oneof(
  fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }),
  fc.constant(null),
  fc.array(fc.integer()),
  fc.string(),
  fc.integer(),
)
const event = fc.record(
  {
    event_id: eventId,
    occurred_at: occurredAt,
    user_id: text(256),
    event_type: text(128),
    properties,
    extra: fc.string(),
  },
  { requiredKeys: [] },
)

// A valid event with up to two fields replaced by edge values, or dropped.
const valid = fc.record({
  event_id: fc.uuid(),
  occurred_at: fc
    .date({ noInvalidDate: true, min: new Date('2000-01-01'), max: new Date('2030-01-01') })
    .map((d) => d.toISOString()),
  user_id: fc.string({ minLength: 1, maxLength: 20 }),
  event_type: fc.string({ minLength: 1, maxLength: 20 }),
  properties: fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }),
})
const nearlyValid = fc
  .tuple(
    valid,
    event,
    fc.subarray(['event_id', 'occurred_at', 'user_id', 'event_type', 'properties', 'extra'], {
      maxLength: 2,
    }),
    fc.boolean(),
  )
  .map(([base, edges, fields, drop]) => {
    const out: Record<string, unknown> = { ...base }
    for (const f of fields) {
      if (drop) delete out[f]
      else if (f in edges) out[f] = (edges as Record<string, unknown>)[f]
    }
    return out
  })

describe('plainlyValid', () => {
  test('passes only events the schema passes', () => {
    let passed = 0
    fc.assert(
      fc.property(fc.oneof(nearlyValid, nearlyValid, event, fc.anything()), (raw) => {
        if (!plainlyValid(raw)) return
        passed++
        assert.equal(matchesEventSchema(raw), true, JSON.stringify(raw))
      }),
      { numRuns: 20_000 },
    )
    // The property says little unless the check passes a fair share of events.
    assert.ok(passed > 500, `only ${passed} events passed the fast check`)
  })

  test('passes the usual valid event', () => {
    assert.equal(
      plainlyValid({
        event_id: '0F8FAD5B-D9CB-469F-A165-70867728950E',
        occurred_at: '2026-11-01T00:00:00.000Z',
        user_id: 'u',
        event_type: 't',
        properties: { a: 1 },
      }),
      true,
    )
    assert.equal(
      plainlyValid({
        event_id: '0f8fad5b-d9cb-469f-a165-70867728950e',
        occurred_at: '2026-11-01T00:00:00+01:00',
        user_id: 'x'.repeat(256),
        event_type: 't',
      }),
      true,
    )
  })
})
