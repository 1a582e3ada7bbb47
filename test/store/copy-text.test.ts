import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { NormalizedEvent } from '../../src/events/event-schema.ts'
import { copyText } from '../../src/store/copy-text.ts'

// copyText sorts ids by a numeric prefix and writes bytes by hand for speed;
// it must give exactly the text of the plain way: first version of each id,
// ids in text order, COPY escapes.
function reference(events: readonly NormalizedEvent[]): string {
  const first = new Map<string, NormalizedEvent>()
  for (const e of events) if (!first.has(e.event_id)) first.set(e.event_id, e)
  const esc = (v: string) => v.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!)
  return [...first.keys()].sort().map((id) => {
    const e = first.get(id)!
    return `${id}\t${e.occurred_at}\t${esc(e.user_id)}\t${esc(e.event_type)}\t${esc(JSON.stringify(e.properties))}\n`
  }).join('')
}

const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n })
// Few prefixes and few ids, so that shared prefixes and repeated ids are common.
const eventId = fc.tuple(fc.constantFrom('00000000', '0000000a', 'ffffffff', '7fffffff', 'a0000000'), fc.constantFrom('0', '1', 'a'), hex(3))
  .map(([prefix, a, b]) => `${prefix}-0000-4000-8000-000000000${a}${b}`.slice(0, 36))
const text = fc.string({ unit: fc.oneof(fc.constantFrom('\\', '\t', '\n', '\r', 'é', '😀', ','), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), maxLength: 12 })
const event = fc.record({
  event_id: eventId,
  occurred_at: fc.constantFrom('2026-11-01T00:00:00.000Z', '2026-11-01T00:00:00.123456Z'),
  user_id: text,
  event_type: text,
  properties: fc.dictionary(text, fc.oneof(text, fc.integer())),
})

describe('copyText', () => {
  test('the same bytes as the plain way, with and without the serialised properties handed in', () => {
    fc.assert(fc.property(fc.array(event, { maxLength: 60 }), (events) => {
      const expected = reference(events)
      assert.equal(copyText(events).data.toString('utf8'), expected)
      assert.equal(copyText(events, events.map((e) => JSON.stringify(e.properties))).data.toString('utf8'), expected)
      assert.equal(copyText(events).rows, new Set(events.map((e) => e.event_id)).size)
    }), { numRuns: 500 })
  })

  test('grows its buffer for rows far larger than usual', () => {
    const big = { event_id: '00000000-0000-4000-8000-000000000001', occurred_at: '2026-11-01T00:00:00.000Z', user_id: 'u', event_type: 't', properties: { x: 'é'.repeat(5000) } }
    assert.equal(copyText([big, { ...big, event_id: '00000000-0000-4000-8000-000000000000' }]).data.toString('utf8'), reference([big, { ...big, event_id: '00000000-0000-4000-8000-000000000000' }]))
  })
})
