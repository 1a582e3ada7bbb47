import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { NormalizedEvent, ProjectEvent } from '../../src/events/event-schema.ts'
import { CopyBatch, copyBinary } from '../../src/store/copy-batch.ts'
import { decodeCopyRows } from '../../src/store/copy-rows.ts'
import { partitionKeysOf, partitionKeysOfCopy } from '../../src/store/event-partitions.ts'
import { legacyRows, pgMicros } from '../helpers/copy-rows.ts'
import { inProject } from '../helpers/events.ts'

// copyBinary sorts ids by a numeric prefix and writes PostgreSQL's binary COPY
// format by hand for speed: read back, it must hold exactly the first version
// of each (id, project), in that order, every value as PostgreSQL would have read it from text.
interface Row {
  id: string
  project: number
  micros: bigint
  user: string
  type: string
  json: string
}

function expected(events: readonly ProjectEvent[]): Row[] {
  const first = new Map<string, ProjectEvent>()
  for (const e of events) {
    const key = `${e.event_id}/${e.project_id}`
    if (!first.has(key)) first.set(key, e)
  }
  const byKey = (a: ProjectEvent, b: ProjectEvent) =>
    a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : a.project_id - b.project_id
  return [...first.values()].sort(byKey).map((e) => {
    return {
      id: e.event_id,
      project: e.project_id,
      micros: pgMicros(e.occurred_at),
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
    assert.equal(data.readInt16BE(at), 6)
    at += 2
    const hex = field().toString('hex')
    const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
    const projectField = field()
    assert.equal(projectField.length, 4, 'an int4 project')
    const project = projectField.readInt32BE(0)
    const micros = field().readBigInt64BE(0)
    const user = field().toString('utf8')
    const type = field().toString('utf8')
    const jsonb = field()
    assert.equal(jsonb[0], 1, 'jsonb version')
    rows.push({ id, project, micros, user, type, json: jsonb.subarray(1).toString('utf8') })
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
// 255 and 256 differ in their low and second bytes: rows must sort by the project's number.
const project = fc.constantFrom(1, 2, 255, 256, 65_536, 2_147_483_647)
const event = fc.record({
  event_id: eventId,
  occurred_at: occurredAt,
  user_id: text,
  event_type: text,
  properties: fc.dictionary(text, fc.oneof(text, fc.integer())),
})

describe('copyBinary', () => {
  test('reads back as the first version of each id, in id order, with every value and the project', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 60 }), project, (events, p) => {
        const want = expected(inProject(events, p))
        const plain = copyBinary(events, p)
        assert.deepEqual(decode(plain.data), want)
        assert.equal(plain.rows, want.length)
        assert.deepEqual(
          decode(
            copyBinary(
              events,
              p,
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
    assert.deepEqual(decode(copyBinary(events, 1).data), expected(inProject(events)))
  })

  test('times PostgreSQL refuses as text are refused in its words', () => {
    const at = (occurred_at: string) => () =>
      copyBinary(
        [
          {
            event_id: '00000000-0000-4000-8000-000000000001',
            occurred_at,
            user_id: 'u',
            event_type: 't',
            properties: {},
          },
        ],
        1,
      )
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
  const rowsOf = (events: readonly NormalizedEvent[], project = 1) => {
    const batch = new CopyBatch()
    batch.add(events, project)
    return batch.finish(false)
  }
  /** Entries (each one project's events) as the worker merges them. */
  const entriesOf = fc.array(fc.tuple(fc.array(event, { maxLength: 20 }), project), {
    maxLength: 6,
  })
  /** The entries' rows in one batch, and for each entry the rows addRows took and those it had. */
  const mergedOf = (entries: Array<[NormalizedEvent[], number]>) => {
    const merged = new CopyBatch()
    const added = entries.map(([events, p]) => {
      const { data, rows } = rowsOf(events, p)
      return [merged.addRows(data, rows), rows] as const
    })
    return { merged, added }
  }

  test('merged entries, of any projects, read back as the first version of each (id, project) over all of them, in that order', () => {
    fc.assert(
      fc.property(entriesOf, (entries) => {
        const { merged, added } = mergedOf(entries)
        for (const [took, had] of added) assert.equal(took, had)
        assert.deepEqual(
          decode(merged.finish().data),
          expected(entries.flatMap(([events, p]) => inProject(events, p))),
        )
      }),
      { numRuns: 300 },
    )
  })

  test("the tables a COPY stream needs, read off its rows, are its events' (project, UTC day) pairs", () => {
    const sorted = (keys: Array<{ project: number; day: number }>) =>
      keys.map((k) => `${k.project}/${new Date(k.day).toISOString()}`).sort()
    fc.assert(
      fc.property(entriesOf, (entries) => {
        const { merged } = mergedOf(entries)
        // finish() keeps the first version of each (id, project): its time decides.
        const first = new Map<string, ProjectEvent>()
        for (const e of entries.flatMap(([events, p]) => inProject(events, p)))
          if (!first.has(`${e.event_id}/${e.project_id}`))
            first.set(`${e.event_id}/${e.project_id}`, e)
        assert.deepEqual(
          sorted(partitionKeysOfCopy(merged.finish())),
          sorted(partitionKeysOf([...first.values()])),
        )
      }),
      { numRuns: 300 },
    )
  })

  test('decoded rows are the events they were made from, in their project', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), project, (events, p) => {
        const decoded = decodeCopyRows(rowsOf(events, p).data)
        assert.ok(decoded.every((e) => e.project_id === p))
        assert.deepEqual(expected(decoded), expected(inProject(events, p)))
      }),
      { numRuns: 300 },
    )
  })

  test('the same event_id in two projects is two rows: both survive finish()', () => {
    const e = fc.sample(event, { numRuns: 1, seed: 3 })[0]!
    const again = { ...e, user_id: `${e.user_id}-again` }
    const batch = new CopyBatch()
    batch.add([e], 2)
    batch.add([again], 1)
    batch.addRows(rowsOf([{ ...e, user_id: 'later' }], 2).data, 1)
    batch.add([{ ...again, user_id: 'later' }], 1)
    const { data, rows } = batch.finish()
    assert.equal(rows, 2)
    // In (id, project) order, each project's first version.
    assert.deepEqual(decode(data), expected([...inProject([again], 1), ...inProject([e], 2)]))
    assert.deepEqual(
      decode(data).map((r) => [r.id, r.project, r.user]),
      [
        [e.event_id, 1, again.user_id],
        [e.event_id, 2, e.user_id],
      ],
    )
  })

  test('rows queued before projects (five fields) are taken as the default project, and dedupe only there', () => {
    const [a, b] = fc.sample(
      event.filter((e) => !e.event_id.endsWith('ff')),
      { numRuns: 2, seed: 7 },
    )
    const x = { ...a!, event_id: '0000000a-0000-4000-8000-0000000000ff' }
    const y = { ...b!, event_id: '00000000-0000-4000-8000-0000000000ff' }
    const legacy = legacyRows([x, y])
    const batch = new CopyBatch()
    assert.equal(batch.addRows(legacy, 2), 2)
    assert.throws(() => new CopyBatch().addRows(legacy, 3), /hold 2 rows, not 3/)
    const xLater = { ...x, user_id: 'later', properties: { later: 1 } }
    // The same id in project 1: a duplicate, the legacy (first) version wins; in project 2 another event.
    batch.add([xLater], 1)
    batch.add([xLater], 2)
    const { data, rows } = batch.finish()
    assert.equal(rows, 3)
    assert.deepEqual(decode(data), expected([...inProject([y, x], 1), ...inProject([xLater], 2)]))
    // As the worker's rare path reads them: every legacy row in project 1.
    const decoded = decodeCopyRows(batch.finish(false).data)
    assert.deepEqual(
      decoded.map((e) => [e.event_id, e.project_id, e.user_id]),
      [
        [y.event_id, 1, y.user_id],
        [x.event_id, 1, x.user_id],
        [x.event_id, 2, 'later'],
      ],
    )
    // Merged with rows of the current layout, as a worker meets them across the upgrade.
    const merged = new CopyBatch()
    merged.addRows(rowsOf([xLater], 1).data, 1)
    merged.addRows(legacy, 2)
    assert.deepEqual(decode(merged.finish().data), expected(inProject([y, xLater], 1)))
  })

  test('corrupt rows are refused whole, leaving the batch as it was', () => {
    const events = fc.sample(event, { numRuns: 5, seed: 1 })
    const { data, rows } = rowsOf(events)
    const batch = new CopyBatch()
    batch.addRows(data, rows)
    const size = batch.size
    const legacy = legacyRows(events)
    for (const bad of [
      data.subarray(0, data.length - 1),
      Buffer.concat([data, Buffer.from([0, 5, 0, 0])]),
      Buffer.from('not rows at all'),
      legacy.subarray(0, legacy.length - 1),
      Buffer.concat([legacy, data]),
    ]) {
      assert.throws(() => batch.addRows(bad), /malformed COPY rows/)
      assert.throws(() => decodeCopyRows(bad), /malformed COPY rows/)
    }
    assert.throws(
      () => batch.addRows(data, rows + 1),
      new RegExp(`hold ${rows} rows, not ${rows + 1}`),
    )
    assert.equal(batch.size, size)
    assert.deepEqual(decode(batch.finish().data), expected(inProject(events)))
  })
})
