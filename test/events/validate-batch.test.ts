import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type FieldError, ValidationError } from '../../src/errors.ts'
import { validateBatch } from '../../src/events/validate-batch.ts'
import { makeEvent, makeEvents } from '../helpers/events.ts'

const limits = { maxBatchSize: 10, maxPropertiesBytes: 64, maxFutureSkewMs: 86_400_000 }
const NOW = Date.parse('2026-11-28T00:00:00Z')

function errorsOf(body: unknown): FieldError[] {
  try {
    validateBatch(body, limits, NOW)
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected a ValidationError, got ${String(err)}`)
    assert.equal(err.statusCode, 422)
    return err.extra.errors ?? []
  }
  assert.fail('expected the batch to be rejected')
}

describe('validateBatch', () => {
  test('accepts a bare array and {"events": [...]} alike', () => {
    const events = makeEvents(3)
    assert.equal(validateBatch(events, limits, NOW).length, 3)
    assert.equal(validateBatch({ events }, limits, NOW).length, 3)
  })

  test('normalises: lower-case event_id, UTC occurred_at keeping microseconds, properties defaulted', () => {
    const [e] = validateBatch(
      [
        {
          event_id: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
          occurred_at: '2026-01-01T01:30:00.123456+02:00',
          user_id: 'u',
          event_type: 't',
        },
      ],
      limits,
      NOW,
    )
    assert.deepEqual(e, {
      event_id: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      occurred_at: '2025-12-31T23:30:00.123456Z',
      user_id: 'u',
      event_type: 't',
      properties: {},
    })
  })

  test('event_id must be a UUID', () => {
    assert.deepEqual(errorsOf([makeEvent({ event_id: 'not-a-uuid' })]), [
      { index: 0, field: 'event_id', message: 'must match format "uuid"' },
    ])
  })

  test('occurred_at must be an RFC 3339 date-time with a zone', () => {
    for (const bad of [
      '2026-11-01',
      '2026-11-01T12:00:00',
      'yesterday',
      '2026-13-01T00:00:00Z',
      '2026-02-30T00:00:00Z',
    ]) {
      const errors = errorsOf([makeEvent({ occurred_at: bad })])
      assert.deepEqual(
        errors.map((e) => [e.index, e.field]),
        [[0, 'occurred_at']],
        bad,
      )
    }
  })

  test('occurred_at may not be more than MAX_FUTURE_SKEW ahead', () => {
    assert.equal(
      validateBatch([makeEvent({ occurred_at: '2026-11-28T23:59:59Z' })], limits, NOW).length,
      1,
    )
    assert.deepEqual(errorsOf([makeEvent({ occurred_at: '2026-11-29T00:00:01Z' })]), [
      { index: 0, field: 'occurred_at', message: 'is more than 86400 s in the future' },
    ])
  })

  test('user_id is a string of 1..256 characters', () => {
    assert.equal(validateBatch([makeEvent({ user_id: 'x'.repeat(256) })], limits, NOW).length, 1)
    assert.equal(errorsOf([makeEvent({ user_id: '' })])[0]!.field, 'user_id')
    assert.equal(errorsOf([makeEvent({ user_id: 'x'.repeat(257) })])[0]!.field, 'user_id')
    assert.equal(
      errorsOf([makeEvent({ user_id: 42 as unknown as string })])[0]!.message,
      'must be string',
    )
  })

  test('event_type is a string of 1..128 characters', () => {
    assert.equal(errorsOf([makeEvent({ event_type: '' })])[0]!.field, 'event_type')
    assert.equal(errorsOf([makeEvent({ event_type: 'x'.repeat(129) })])[0]!.field, 'event_type')
  })

  test('properties must be an object of at most MAX_PROPERTIES_BYTES serialised', () => {
    assert.equal(
      errorsOf([makeEvent({ properties: [1, 2] as unknown as Record<string, unknown> })])[0]!.field,
      'properties',
    )
    assert.deepEqual(errorsOf([makeEvent({ properties: { text: 'x'.repeat(64) } })]), [
      { index: 0, field: 'properties', message: 'must be at most 64 bytes as JSON' },
    ])
  })

  test('NUL characters, which PostgreSQL cannot store, are refused', () => {
    assert.equal(errorsOf([makeEvent({ user_id: 'a\u0000b' })])[0]!.field, 'user_id')
    assert.equal(errorsOf([makeEvent({ properties: { k: 'a\u0000' } })])[0]!.field, 'properties')
  })

  test('ids PostgreSQL cannot store (urn:uuid: prefix) and lone surrogates are refused', () => {
    assert.equal(
      errorsOf([makeEvent({ event_id: 'urn:uuid:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' })])[0]!
        .field,
      'event_id',
    )
    assert.equal(errorsOf([makeEvent({ user_id: 'a\ud800' })])[0]!.field, 'user_id')
    assert.equal(errorsOf([makeEvent({ properties: { k: '\udfff' } })])[0]!.field, 'properties')
    assert.equal(
      validateBatch(
        [makeEvent({ user_id: 'emoji 😀', properties: { k: 'text \\ud800 as text', e: '😀' } })],
        limits,
        NOW,
      ).length,
      1,
    )
  })

  test('a time outside 0001 to 9999 UTC, which PostgreSQL cannot store, is refused', () => {
    const message = 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z'
    assert.deepEqual(errorsOf([makeEvent(), makeEvent({ occurred_at: '0000-06-15T10:00:00Z' })]), [
      { index: 1, field: 'occurred_at', message },
    ])
    assert.equal(
      validateBatch([makeEvent({ occurred_at: '0001-01-01T00:00:00Z' })], limits, NOW)[0]!
        .occurred_at,
      '0001-01-01T00:00:00.000Z',
    )
  })

  test('the text \\u0000 is not a NUL character', () => {
    assert.equal(
      validateBatch(
        [makeEvent({ user_id: '\\u0000', properties: { k: '\\u0000', '\\\\\\u0000': 1 } })],
        limits,
        NOW,
      ).length,
      1,
    )
    assert.equal(errorsOf([makeEvent({ properties: { k: '\\\u0000' } })])[0]!.field, 'properties')
  })

  test('properties deeper than 32 levels, non-finite numbers and integers past 2^53 are refused', () => {
    const nest = (levels: number) => {
      let value: Record<string, unknown> = {}
      for (let i = 1; i < levels; i++)
        value = (levels - i) % 2 ? { a: value } : ([value] as unknown as Record<string, unknown>)
      return value
    }
    const depth = 'must nest at most 32 levels of objects and arrays'
    assert.deepEqual(errorsOf([makeEvent({ properties: nest(33) })]), [
      { index: 0, field: 'properties', message: depth },
    ])
    // Deep enough to overflow any recursive walk.
    assert.deepEqual(
      errorsOf([
        makeEvent({
          properties: JSON.parse(`${'{"a":['.repeat(200_000)}1${']}'.repeat(200_000)}`),
        }),
      ]),
      [{ index: 0, field: 'properties', message: depth }],
    )
    assert.equal(
      validateBatch(
        [makeEvent({ properties: nest(32) })],
        { ...limits, maxPropertiesBytes: 16384 },
        NOW,
      ).length,
      1,
    )
    const range = 'holds a number beyond the range of a double (such as 1e400)'
    assert.deepEqual(
      errorsOf([
        makeEvent({ properties: JSON.parse('{"a":[1e400]}') }),
        makeEvent({ properties: { b: -Infinity } }),
      ]),
      [
        { index: 0, field: 'properties', message: range },
        { index: 1, field: 'properties', message: range },
      ],
    )
    const big = 'holds a number beyond ±9007199254740991 (2^53 - 1); send larger numbers as strings'
    assert.deepEqual(
      errorsOf([makeEvent({ properties: JSON.parse('{"id":12345678901234567890}') })]),
      [{ index: 0, field: 'properties', message: big }],
    )
    assert.deepEqual(errorsOf([makeEvent({ properties: { x: { y: -(2 ** 53) } } })]), [
      { index: 0, field: 'properties', message: big },
    ])
    assert.equal(
      validateBatch(
        [makeEvent({ properties: { n: 2 ** 53 - 1, f: 0.1, e: -1e-300 } })],
        limits,
        NOW,
      ).length,
      1,
    )
  })

  test('required fields are named when missing', () => {
    const { user_id: _, ...noUser } = makeEvent()
    assert.deepEqual(errorsOf([noUser]), [{ index: 0, field: 'user_id', message: 'is required' }])
  })

  test('unknown fields are rejected, in events and in the body', () => {
    assert.deepEqual(errorsOf([{ ...makeEvent(), extra: 1 }]), [
      { index: 0, field: 'extra', message: 'unknown field' },
    ])
    assert.deepEqual(errorsOf({ events: makeEvents(1), extra: 1 }), [
      { field: 'extra', message: 'unknown field' },
    ])
  })

  test('an event that is not an object is named by its index', () => {
    assert.deepEqual(
      errorsOf([makeEvent(), 'nope']).map((e) => [e.index, e.field]),
      [[1, 'event']],
    )
  })

  test('every bad field of every event is reported, each with its index', () => {
    const errors = errorsOf([
      makeEvent(),
      makeEvent({ user_id: '', event_type: '' }),
      makeEvent({ event_id: 'x' }),
    ])
    assert.deepEqual(errors.map((e) => [e.index, e.field]).sort(), [
      [1, 'event_type'],
      [1, 'user_id'],
      [2, 'event_id'],
    ])
  })

  test('an empty batch and one over MAX_BATCH_SIZE are rejected naming the limit', () => {
    assert.deepEqual(errorsOf([]), [{ field: 'events', message: 'must contain at least 1 event' }])
    assert.deepEqual(errorsOf(makeEvents(11)), [
      { field: 'events', message: 'must contain at most 10 events, got 11' },
    ])
  })

  test('a body that is neither an array nor {"events": [...]} is rejected', () => {
    for (const body of [null, 'text', 5, { events: 'x' }, {}]) {
      assert.equal(errorsOf(body)[0]!.field, 'events', JSON.stringify(body))
    }
  })
})
