import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { NormalizedEvent } from '../../src/events/event-schema.ts'
import { dedupeById } from '../../src/events/ingest-service.ts'

const event = (id: string, type: string): NormalizedEvent => ({
  event_id: id,
  occurred_at: '2026-01-01T00:00:00.000Z',
  user_id: 'u',
  event_type: type,
  properties: {},
})

test('dedupeById keeps the first version of each id, in order', () => {
  const out = dedupeById([
    event('a', '1'),
    event('b', '1'),
    event('a', '2'),
    event('c', '1'),
    event('b', '2'),
  ])
  assert.deepEqual(
    out.map((e) => `${e.event_id}${e.event_type}`),
    ['a1', 'b1', 'c1'],
  )
})

test('dedupeById: ids unique, none lost, first occurrence wins (any input)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e'), fc.nat(9))),
      (pairs) => {
        const input = pairs.map(([id, n]) => event(id, String(n)))
        const out = dedupeById(input)
        assert.deepEqual(
          out.map((e) => e.event_id),
          [...new Set(input.map((e) => e.event_id))],
        )
        for (const e of out)
          assert.equal(
            e,
            input.find((i) => i.event_id === e.event_id),
          )
      },
    ),
  )
})
