import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { PGlite } from '@electric-sql/pglite'
import fc from 'fast-check'
import pg from 'pg'
import { ValidationError } from '../../src/errors.ts'
import type { NormalizedEvent } from '../../src/events/event-schema.ts'
import { validateBatch } from '../../src/events/validate-batch.ts'
import { createLogger } from '../../src/logger.ts'
import { migrate } from '../../src/store/migrate.ts'
import { PostgresBulkLoader, PostgresEventStore } from '../../src/store/postgres-event-store.ts'
import { pgliteClient, poolClient, type SqlClient } from '../../src/store/sql-client.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { inProject } from '../helpers/events.ts'
import { skipUnless } from '../helpers/services.ts'

// A 2xx must mean the events will be stored: whatever validateBatch accepts,
// PostgreSQL (queue and direct writes, the import's COPY) and PGlite must store,
// exactly as normalised. The inputs aim at what the stores refuse or alter.
const limits = { maxBatchSize: 4, maxPropertiesBytes: 16_384, maxFutureSkewMs: 86_400_000 }
const NOW = Date.parse('2026-11-28T00:00:00Z')

const tricky = fc.constantFrom(
  '\u0000',
  '\ud800',
  '\udbff',
  '\udc00',
  '\udfff',
  '😀',
  '\\',
  '\\u0000',
  '\\ud800',
  '"',
  "'",
  '{',
  '}',
  ',',
  'NULL',
  'null',
  ' ',
  '\t',
  '\n',
  '\r',
  '\u2028',
  '\ufeff',
  '\uffff',
  '\u0001',
  '\u007f',
  '\u0085',
  'é',
  'ß',
  '\u{10ffff}',
)
const char = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: tricky },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
)
const text = (minLength: number, maxLength: number) =>
  fc.string({ unit: char, minLength, maxLength })

const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'))
const year = fc
  .oneof(
    fc.integer({ min: 0, max: 2026 }),
    fc.integer({ min: 0, max: 9999 }),
    fc.constantFrom(0, 1, 99, 100, 1899, 1900, 1969, 1970, 2000, 2026, 9999),
  )
  .map((y) => String(y).padStart(4, '0'))
const shapedTime = fc
  .tuple(
    year,
    two(13),
    two(32),
    fc.constantFrom('T', 't', ' '),
    two(24),
    two(60),
    two(60),
    fc.constantFrom('', '.5', '.123', '.999', '.999999', '.9999999', '.000000001'),
    fc.constantFrom(
      'Z',
      'z',
      '+00:00',
      '-00:00',
      '+14:00',
      '-14:00',
      '+23:59',
      '-23:59',
      '+01:30',
      '-01:00',
    ),
  )
  .map(([y, mo, d, t, h, mi, s, f, z]) => `${y}-${mo}-${d}${t}${h}:${mi}:${s}${f}${z}`)
// Mostly in the past, where times are accepted: the future is refused after a day.
const isoTime = fc
  .date({
    noInvalidDate: true,
    min: new Date('0000-01-01T00:00:00Z'),
    max: new Date(NOW + 2 * 86_400_000),
  })
  .map((d) => d.toISOString())

const number = fc
  .oneof(
    fc.double(),
    { weight: 2, arbitrary: fc.integer() },
    { weight: 2, arbitrary: fc.double({ min: -1e6, max: 1e6 }) },
    fc.constantFrom(
      2 ** 53,
      2 ** 53 - 1,
      -(2 ** 53),
      2 ** 53 + 2,
      1e308,
      -1e308,
      5e-324,
      -0,
      0.1,
      Infinity,
      -Infinity,
    ),
  )
  .filter((n) => !Number.isNaN(n)) // JSON cannot spell NaN
const leaf = fc.oneof(text(0, 6), number, fc.boolean(), fc.constant(null))
const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('tree'), { maxLength: 3 }),
    fc.dictionary(text(0, 4), tie('tree'), { maxKeys: 3 }),
  ),
}))
// Chains around the depth limit, which random trees rarely reach.
const nested = fc.tuple(fc.integer({ min: 28, max: 36 }), leaf).map(([levels, value]) => {
  let v: unknown = value
  for (let i = 1; i < levels; i++) v = i % 3 ? { k: v } : [v]
  return { deep: v }
})
const properties = fc.oneof(fc.dictionary(text(0, 6), tree, { maxKeys: 4 }), nested)

const event = fc.record(
  {
    event_id: fc.uuid().map((id) => (id.charCodeAt(0) % 2 ? id.toUpperCase() : id)),
    occurred_at: fc.oneof(shapedTime, { weight: 3, arbitrary: isoTime }),
    user_id: text(1, 8),
    event_type: text(1, 8),
    properties,
  },
  { requiredKeys: ['event_id', 'occurred_at', 'user_id', 'event_type'] },
)

/**
 * What each store holds for these ids, in the form validation produced them.
 * Text is read as its UTF-8 bytes: PGlite's client drops a leading U+FEFF
 * when it decodes a value (the store holds it), which would hide what is stored.
 */
async function readBack(db: SqlClient, ids: string[]) {
  const { rows } = await db.query<{
    event_id: string
    t: string
    user_id: string
    event_type: string
    p: string
  }>(
    `SELECT event_id::text, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t,
       encode(convert_to(user_id, 'UTF8'), 'hex') AS user_id, encode(convert_to(event_type, 'UTF8'), 'hex') AS event_type, properties::text AS p
     FROM events WHERE event_id = ANY($1::uuid[]) ORDER BY event_id`,
    [ids],
  )
  return rows.map((r) => ({
    event_id: r.event_id,
    t: r.t,
    user_id: r.user_id,
    event_type: r.event_type,
    properties: JSON.parse(r.p),
  }))
}

// The properties as sent, where JSON.stringify would write Infinity as null
// (and so hide that the store got null): such a number must never match.
const asSent = (properties: object) =>
  JSON.parse(
    JSON.stringify(properties, (_, v) =>
      typeof v === 'number' && !Number.isFinite(v) ? `non-finite ${v}` : v,
    ),
  )

const expected = (events: readonly NormalizedEvent[]) =>
  [...events]
    .sort((a, b) => (a.event_id < b.event_id ? -1 : 1))
    .map((e) => ({
      event_id: e.event_id,
      // PostgreSQL writes microseconds always; validation keeps milliseconds at least.
      t: e.occurred_at.length === 24 ? `${e.occurred_at.slice(0, -1)}000Z` : e.occurred_at,
      user_id: Buffer.from(e.user_id).toString('hex'),
      event_type: Buffer.from(e.event_type).toString('hex'),
      properties: asSent(e.properties),
    }))

describe('whatever validateBatch accepts, PostgreSQL and PGlite store as normalised', {
  skip: await skipUnless('postgres'),
}, () => {
  let database: TestDatabase
  let server: SqlClient
  let embedded: PGlite
  let loader: PostgresBulkLoader

  before(async () => {
    database = await createTestDatabase()
    server = poolClient(new pg.Pool({ connectionString: database.url, max: 2 }))
    embedded = await PGlite.create()
    await migrate({ pglite: embedded }, createLogger('silent'))
    loader = await PostgresBulkLoader.connect(
      { url: database.url, queryTimeoutMs: 30_000 },
      1,
      createLogger('silent'),
    )
  })
  after(async () => {
    await loader?.close()
    await server?.end()
    await embedded?.close()
    await database?.drop()
  })

  test('adversarial strings, timestamps and properties', async () => {
    let accepted = 0
    let refused = 0
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 3 }), async (raw) => {
        const json: string[] = []
        let events: NormalizedEvent[]
        // Fresh ids on every run, shrinking included, in the case generated: a stored id keeps its first version.
        const batch = raw.map((e) => ({
          ...e,
          event_id: /[A-F]/.test(e.event_id) ? randomUUID().toUpperCase() : randomUUID(),
        }))
        try {
          events = validateBatch(batch, limits, NOW, json)
        } catch (err) {
          if (!(err instanceof ValidationError)) throw err
          refused++
          return
        }
        accepted++
        // The queue path stores what came back from the queue's JSON; embedded and direct writes the objects themselves.
        const ids = events.map((e) => e.event_id)
        await new PostgresEventStore(server).insert(JSON.parse(JSON.stringify(inProject(events))))
        await new PostgresEventStore(pgliteClient(embedded)).insert(inProject(events))
        assert.deepEqual(await readBack(server, ids), expected(events), 'PostgreSQL')
        assert.deepEqual(await readBack(pgliteClient(embedded), ids), expected(events), 'PGlite')
        // The CSV import's COPY, with ids of its own so that it writes rows too.
        const copies = events.map((e) => ({ ...e, event_id: randomUUID() }))
        await loader.insert(copies, json)
        assert.deepEqual(
          await readBack(
            server,
            copies.map((e) => e.event_id),
          ),
          expected(copies),
          'COPY',
        )
      }),
      { numRuns: 400 },
    )
    // Neither half may be vacuous.
    assert.ok(accepted >= 60 && refused >= 60, `accepted ${accepted}, refused ${refused}`)
  })
})
