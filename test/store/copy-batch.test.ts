import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { NormalizedEvent } from '../../src/events/event-schema.ts'
import { CopyBatch, copyBinary } from '../../src/store/copy-batch.ts'
import { decodeCopyRows } from '../../src/store/copy-rows.ts'

// copyBinary sorts ids by a numeric prefix and writes PostgreSQL's binary COPY
// format by hand for speed: read back, it must hold exactly the first version
// of each id, ids in order, every value as PostgreSQL would have read it from text.
interface Row {
  id: string
  micros: bigint
  user: string
  type: string
  json: string
}

const PG_EPOCH_MICROS = 946_684_800_000_000n

function expected(events: readonly NormalizedEvent[]): Row[] {
  const first = new Map<string, NormalizedEvent>()
  for (const e of events) if (!first.has(e.event_id)) first.set(e.event_id, e)
  return [...first.keys()].sort().map((id) => {
    const e = first.get(id)!
    const ms = Date.parse(`${e.occurred_at.slice(0, 23)}Z`)
    const extra = e.occurred_at.length === 27 ? BigInt(e.occurred_at.slice(23, 26)) : 0n
    return {
      id,
      micros: BigInt(ms) * 1000n + extra - PG_EPOCH_MICROS,
      user: e.user_id,
      type: e.event_type,
      json: JSON.stringify(e.properties),
    }
  })
}

function decode(data: Buffer): Row[] {
  assert.deepEqual(
    data.subarray(0, 19),
    Buffer.from('PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0', 'latin1'),
  )
  const rows: Row[] = []
  let at = 19
  const field = () => {
    const n = data.readInt32BE(at)
    at += 4
    at += n
    return data.subarray(at - n, at)
  }
  while (data.readInt16BE(at) !== -1) {
    assert.equal(data.readInt16BE(at), 5)
    at += 2
    const hex = field().toString('hex')
    const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
    const micros = field().readBigInt64BE(0)
    const user = field().toString('utf8')
    const type = field().toString('utf8')
    const jsonb = field()
    assert.equal(jsonb[0], 1, 'jsonb version')
    rows.push({ id, micros, user, type, json: jsonb.subarray(1).toString('utf8') })
  }
  assert.equal(at + 2, data.length, 'nothing after the trailer')
  return rows
}

const hex = (n: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n })
// Few prefixes and few ids, so that shared prefixes and repeated ids are common.
const eventId = fc
  .tuple(
    fc.constantFrom('00000000', '0000000a', 'ffffffff', '7fffffff', '80000000', 'a0000000'),
    fc.constantFrom('0', '1', 'f'),
    hex(2),
  )
  .map(([prefix, a, b]) => `${prefix}-0000-4000-8000-000000000${a}${b}`)
const text = fc.string({
  unit: fc.oneof(
    fc.constantFrom('\\', '\t', '\n', '\r', 'é', '😀', ','),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
  ),
  maxLength: 12,
})
// From year 1 to 9999, with milliseconds or microseconds: before 1715 and after 2284 the microseconds pass 2^53.
const occurredAt = fc
  .tuple(
    fc.date({
      min: new Date('0001-01-01T00:00:00Z'),
      max: new Date('9999-12-31T23:59:59.999Z'),
      noInvalidDate: true,
    }),
    fc.option(fc.integer({ min: 0, max: 999 })),
  )
  .map(
    ([d, micros]) =>
      `${d.toISOString().slice(0, 23)}${micros === null ? '' : String(micros).padStart(3, '0')}Z`,
  )
const event = fc.record({
  event_id: eventId,
  occurred_at: occurredAt,
  user_id: text,
  event_type: text,
  properties: fc.dictionary(text, fc.oneof(text, fc.integer())),
})

describe('copyBinary', () => {
  test('reads back as the first version of each id, in id order, with every value', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 60 }), (events) => {
        const want = expected(events)
        const plain = copyBinary(events)
        assert.deepEqual(decode(plain.data), want)
        assert.equal(plain.rows, want.length)
        assert.deepEqual(
          decode(
            copyBinary(
              events,
              events.map((e) => JSON.stringify(e.properties)),
            ).data,
          ),
          want,
        )
      }),
      { numRuns: 500 },
    )
  })

  test('grows its buffer for rows far larger than usual', () => {
    const big = {
      event_id: '00000000-0000-4000-8000-000000000001',
      occurred_at: '2026-11-01T00:00:00.000Z',
      user_id: 'u',
      event_type: 't',
      properties: { x: 'é'.repeat(50_000) },
    }
    const events = [big, { ...big, event_id: '00000000-0000-4000-8000-000000000000' }]
    assert.deepEqual(decode(copyBinary(events).data), expected(events))
  })

  test('times PostgreSQL refuses as text are refused in its words', () => {
    const at = (occurred_at: string) => () =>
      copyBinary([
        {
          event_id: '00000000-0000-4000-8000-000000000001',
          occurred_at,
          user_id: 'u',
          event_type: 't',
          properties: {},
        },
      ])
    assert.throws(
      at('0000-06-01T00:00:00.000Z'),
      /^Error: date\/time field value out of range: "0000-06-01T00:00:00.000Z"$/,
    )
    assert.throws(
      at('-000001-12-31T23:00:00.000Z'),
      /^Error: invalid input syntax for type timestamp with time zone: "-000001-12-31T23:00:00.000Z"$/,
    )
  })
})

// A queue entry holds one request's rows (finish(false)); the worker merges
// entries as bytes. Merged, they must be exactly what one batch of all the
// events would be; decoded (the worker's rare path), the same events.
describe('CopyBatch.addRows and decodeCopyRows', () => {
  const rowsOf = (events: readonly NormalizedEvent[]) => {
    const batch = new CopyBatch()
    batch.add(events)
    return batch.finish(false)
  }

  test('merged entries read back as the first version of each id over all of them, in id order', () => {
    fc.assert(
      fc.property(fc.array(fc.array(event, { maxLength: 20 }), { maxLength: 6 }), (entries) => {
        const merged = new CopyBatch()
        for (const entry of entries) {
          const { data, rows } = rowsOf(entry)
          assert.equal(merged.addRows(data, rows), rows)
        }
        assert.deepEqual(decode(merged.finish().data), expected(entries.flat()))
      }),
      { numRuns: 300 },
    )
  })

  test('decoded rows are the events they were made from', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), (events) => {
        assert.deepEqual(expected(decodeCopyRows(rowsOf(events).data)), expected(events))
      }),
      { numRuns: 300 },
    )
  })

  test('corrupt rows are refused whole, leaving the batch as it was', () => {
    const events = fc.sample(event, { numRuns: 5, seed: 1 })
    const { data, rows } = rowsOf(events)
    const batch = new CopyBatch()
    batch.addRows(data, rows)
    const size = batch.size
    for (const bad of [
      data.subarray(0, data.length - 1),
      Buffer.concat([data, Buffer.from([0, 5, 0, 0])]),
      Buffer.from('not rows at all'),
    ]) {
      assert.throws(() => batch.addRows(bad), /malformed COPY rows/)
      assert.throws(() => decodeCopyRows(bad), /malformed COPY rows/)
    }
    assert.throws(
      () => batch.addRows(data, rows + 1),
      new RegExp(`hold ${rows} rows, not ${rows + 1}`),
    )
    assert.equal(batch.size, size)
    assert.deepEqual(decode(batch.finish().data), expected(events))
  })
})
