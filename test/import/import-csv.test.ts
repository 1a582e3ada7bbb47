import assert from 'node:assert/strict'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { parse } from 'csv-parse/sync'
import { loadConfig } from '../../src/config.ts'
import { bulkWriter, openStorage, type Storage } from '../../src/deps.ts'
import { validateBatch } from '../../src/events/validate-batch.ts'
import { type ImportOptions, importCsv } from '../../src/import/import-csv.ts'
import { createLogger } from '../../src/logger.ts'
import type { SqlClient } from '../../src/store/sql-client.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'
import { HEADER, simpleCsv, tempDir, uuid, writeCsv } from './helpers.ts'

// The import itself, in process, against each store the way the CLI loads it:
// the embedded one through the API's insert, PostgreSQL through COPY.
const limits = { maxPropertiesBytes: 16384, maxFutureSkewMs: 86_400_000 }
const CRLF = '\r\n'

const implementations = [
  { name: 'embedded (PGlite)', server: false, skip: false as const },
  { name: 'PostgreSQL (COPY)', server: true, skip: await skipUnless('postgres') },
]

for (const impl of implementations) {
  describe(`CSV import: ${impl.name}`, { skip: impl.skip }, () => {
    let db: TestDatabase | undefined
    let dir: string
    let sql: SqlClient
    let storage: Storage
    let bulk: Awaited<ReturnType<typeof bulkWriter>>

    const run = (file: string, options: Partial<ImportOptions> = {}) =>
      importCsv(bulk.writer, {
        file,
        batchSize: 1000,
        skipInvalid: false,
        rejectsPath: `${file}.rejects.csv`,
        limits,
        ...options,
      })
    const stored = async (ids: string[]) => {
      const { rows } = await sql.query<Record<string, unknown>>(
        `SELECT event_id::text, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at, user_id, event_type, properties
         FROM events WHERE event_id = ANY($1::uuid[]) ORDER BY event_id`,
        [ids],
      )
      return rows
    }

    before(async () => {
      dir = tempDir('inproc')
      db = impl.server ? await createTestDatabase() : undefined
      const config = loadConfig(db ? { DATABASE_URL: db.url } : { DATA_DIR: join(dir, 'data') })
      const log = createLogger('silent')
      // The CLI's writer into the default project: COPY on PostgreSQL, the store's insert embedded.
      storage = await openStorage(config, log)
      sql = storage.db
      bulk = await bulkWriter(storage, 1)
    })
    after(async () => {
      await bulk?.close()
      await storage?.close()
      await db?.drop()
      rmSync(dir, { recursive: true, force: true })
    })

    test('rows of a deleted user (suppressed) are left out and counted as such, the others stored', async () => {
      const id = (n: number) => uuid(n, 0xd7)
      const file = writeCsv(
        dir,
        'suppressed.csv',
        simpleCsv([
          [id(1), '2026-11-04T00:00:00Z', 'gone', 'view', ''],
          [id(2), '2026-11-04T00:00:00Z', 'kept', 'view', ''],
          [id(3), '2026-11-05T00:00:00Z', 'gone', 'buy', ''],
        ]),
      )
      const summary = await run(file, { suppressed: new Set(['gone']) })
      assert.deepEqual(
        [summary.read, summary.inserted, summary.duplicates, summary.suppressed],
        [3, 1, 0, 2],
      )
      assert.deepEqual(
        (await stored([id(1), id(2), id(3)])).map((r) => r.user_id),
        ['kept'],
      )
    })

    test('reads every quirk of exported CSV: quotes, doubled quotes, line breaks in fields, empty properties, CRLF, BOM', async () => {
      const id = (n: number) => uuid(n, 0xa1)
      const file = writeCsv(
        dir,
        'quirks.csv',
        '\uFEFF' +
          [
            HEADER,
            // upper-case id and an offset: normalised as the API does
            `${id(1).toUpperCase()},2026-11-01T12:00:00+02:00,"alice, the ""first""",signup,"{""plan"":""pro"",""quote"":""say \\""hi\\"""",""comma"":""a,b""}"`,
            // a CRLF inside a quoted field; properties_json empty
            `${id(2)},2026-11-01T10:00:00Z,bob,"multi${CRLF}line",`,
            // pretty-printed JSON over three lines, quoted empty user-facing fields elsewhere
            `${id(3)},2026-11-01T10:00:00.123456Z,"carol","page_view","{${CRLF}  ""a"": [1, 2],${CRLF}  ""b"": null${CRLF}}"`,
            // properties_json given as a quoted empty string: also no properties
            `${id(4)},2026-11-01T10:00:00Z,"dave\nwith an LF",click,""`,
            '',
            // a blank line above is skipped; the last record has no line ending at all
            `${id(5)},2026-11-01T10:00:00Z,erin,click,"{}"`,
          ].join(CRLF),
      )
      const summary = await run(file)
      assert.deepEqual(
        { ...summary, seconds: 0, rows_per_second: 0 },
        {
          file,
          read: 5,
          inserted: 5,
          duplicates: 0,
          suppressed: 0,
          rejected: 0,
          seconds: 0,
          rows_per_second: 0,
        },
      )
      assert.deepEqual(await stored([1, 2, 3, 4, 5].map(id)), [
        {
          event_id: id(1),
          at: '2026-11-01T10:00:00.000000',
          user_id: 'alice, the "first"',
          event_type: 'signup',
          properties: { plan: 'pro', quote: 'say "hi"', comma: 'a,b' },
        },
        {
          event_id: id(2),
          at: '2026-11-01T10:00:00.000000',
          user_id: 'bob',
          event_type: `multi${CRLF}line`,
          properties: {},
        },
        {
          event_id: id(3),
          at: '2026-11-01T10:00:00.123456',
          user_id: 'carol',
          event_type: 'page_view',
          properties: { a: [1, 2], b: null },
        },
        {
          event_id: id(4),
          at: '2026-11-01T10:00:00.000000',
          user_id: 'dave\nwith an LF',
          event_type: 'click',
          properties: {},
        },
        {
          event_id: id(5),
          at: '2026-11-01T10:00:00.000000',
          user_id: 'erin',
          event_type: 'click',
          properties: {},
        },
      ])
    })

    test('columns may come in any order; text with backslashes and tabs is stored as written', async () => {
      const id = (n: number) => uuid(n, 0xa2)
      const file = writeCsv(
        dir,
        'order.csv',
        [
          'user_id,properties_json,event_type,occurred_at,event_id',
          `"back\\slash\ttab",,t,2026-11-02T00:00:00Z,${id(1)}`,
        ].join('\n'),
      )
      assert.equal((await run(file)).inserted, 1)
      assert.deepEqual((await stored([id(1)]))[0]!.user_id, 'back\\slash\ttab')
    })

    test('a file imported twice: the second run inserts nothing and counts every row a duplicate', async () => {
      const rows = Array.from({ length: 2500 }, (_, i) => [
        uuid(i, 0xa3),
        '2026-11-03T00:00:00Z',
        `user-${i % 7}`,
        'view',
        '',
      ])
      const file = writeCsv(dir, 'twice.csv', simpleCsv(rows, CRLF))
      const first = await run(file, { batchSize: 1000 })
      assert.deepEqual(
        [first.read, first.inserted, first.duplicates, first.rejected],
        [2500, 2500, 0, 0],
      )
      const second = await run(file, { batchSize: 1000 })
      assert.deepEqual(
        [second.read, second.inserted, second.duplicates, second.rejected],
        [2500, 0, 2500, 0],
      )
      assert.equal((await stored(rows.map((r) => r[0]!))).length, 2500)
    })

    test('the first version of an id wins, within the file and against what is stored', async () => {
      const id = (n: number) => uuid(n, 0xa4)
      const before = writeCsv(
        dir,
        'before.csv',
        simpleCsv([[id(1), '2026-11-04T00:00:00Z', 'u', 'stored-first', '']]),
      )
      await run(before)
      // Batches of 2: the repeats of id 2 fall in the same batch and in a later one.
      const file = writeCsv(
        dir,
        'repeats.csv',
        simpleCsv([
          [id(2), '2026-11-04T00:00:00Z', 'u', 'file-first', ''],
          [id(2), '2026-11-04T00:00:00Z', 'u', 'file-second', ''],
          [id(1), '2026-11-04T00:00:00Z', 'u', 'file-version', ''],
          [id(3), '2026-11-04T00:00:00Z', 'u', 'new', ''],
          [id(2), '2026-11-04T00:00:00Z', 'u', 'file-third', ''],
        ]),
      )
      const summary = await run(file, { batchSize: 2 })
      assert.deepEqual([summary.read, summary.inserted, summary.duplicates], [5, 2, 3])
      assert.deepEqual(
        (await stored([id(1), id(2), id(3)])).map((r) => r.event_type),
        ['stored-first', 'file-first', 'new'],
      )
    })

    test('bad rows by default: stops at the first with its physical line and field; its batch is not stored, earlier ones are', async () => {
      const id = (n: number) => uuid(n, 0xa5)
      const file = writeCsv(
        dir,
        'bad.csv',
        [
          HEADER,
          `${id(1)},2026-11-05T00:00:00Z,u,"two${CRLF}lines",`, // lines 2-3
          `${id(2)},2026-11-05T00:00:00Z,u,t,`, // line 4
          `${id(3)},2026-11-05T00:00:00Z,u,t,`, // line 5: batch 2 starts
          `${id(4)},2026-02-30T00:00:00Z,u,t,`, // line 6: no such day
          `${id(5)},2026-11-05T00:00:00Z,,t,{oops`, // line 7: never reached
        ].join(CRLF) + CRLF,
      )
      const summary = await run(file, { batchSize: 2 })
      assert.deepEqual(summary.stopped, {
        line: 6,
        field: 'occurred_at',
        message: 'is not a valid date-time',
      })
      assert.deepEqual([summary.read, summary.inserted, summary.rejected], [4, 2, 1])
      assert.deepEqual(
        (await stored([1, 2, 3, 4, 5].map(id))).map((r) => r.event_id),
        [id(1), id(2)],
      )
    })

    test('--skip-invalid: the good rows are stored, each bad one is in the rejects file with its fields, line and reasons', async () => {
      const id = (n: number) => uuid(n, 0xa6)
      const future = new Date(Date.now() + 3 * 86_400_000).toISOString()
      const bad: Array<[string, string]> = [
        [`${id(2)},2026-11-06T00:00:00Z,,t,`, 'user_id must NOT have fewer than 1 characters'],
        [`not-a-uuid,2026-11-06T00:00:00Z,u,t,"{""a"":1}"`, 'event_id must match format "uuid"'],
        [`${id(4)},${future},u,t,`, 'occurred_at is more than 86400 s in the future'],
        [`${id(5)},2026-11-06T00:00:00Z,u,t,"{""a"":"`, 'properties_json is not valid JSON'],
        [`${id(6)},2026-11-06T00:00:00Z,u,t,"[1,2]"`, 'properties_json must be object'],
        [`${id(7)},2026-11-06T00:00:00Z,u,"multi\nline"`, 'record has 4 fields, expected 5'],
        [
          `${id(8)},yesterday,,t,`,
          'occurred_at must match format "date-time"; user_id must NOT have fewer than 1 characters',
        ],
        [
          `${id(10)},2026-11-06T00:00:00Z,u,t,"{""big"":""${'x'.repeat(16_400)}""}"`,
          'properties_json must be at most 16384 bytes as JSON',
        ],
      ]
      const file = writeCsv(
        dir,
        'mixed.csv',
        `${[
          HEADER,
          `${id(1)},2026-11-06T00:00:00Z,u,t,`,
          ...bad.map(([row]) => row),
          `${id(9)},2026-11-06T00:00:00Z,u,t,"{""ok"":true}"`,
        ].join('\n')}\n`,
      )
      const rejectsPath = join(dir, 'chosen-rejects.csv')
      const summary = await run(file, { skipInvalid: true, rejectsPath, batchSize: 3 })
      assert.deepEqual(
        [
          summary.read,
          summary.inserted,
          summary.duplicates,
          summary.rejected,
          summary.rejects_file,
          summary.stopped,
        ],
        [10, 2, 0, 8, rejectsPath, undefined],
      )
      assert.deepEqual(
        (await stored([1, 2, 4, 5, 6, 7, 8, 9, 10].map(id))).map((r) => r.event_id),
        [id(1), id(9)],
      )

      const rejects = parse(readFileSync(rejectsPath), {
        columns: true,
        relax_column_count: true,
      }) as Array<Record<string, string>>
      assert.deepEqual(
        rejects.map((r) => r.line),
        ['3', '4', '5', '6', '7', '8', '10', '11'],
      )
      rejects.forEach((r, i) => {
        // JSON.parse's own words follow in brackets; the rest is exact.
        if (r.error!.startsWith('properties_json is not valid JSON ('))
          assert.equal(bad[i]![1], 'properties_json is not valid JSON')
        else assert.equal(r.error, bad[i]![1])
      })
      // The original fields, so the file can be fixed and imported again.
      assert.deepEqual(
        {
          event_id: rejects[1]!.event_id,
          occurred_at: rejects[1]!.occurred_at,
          user_id: rejects[1]!.user_id,
          event_type: rejects[1]!.event_type,
          properties_json: rejects[1]!.properties_json,
        },
        {
          event_id: 'not-a-uuid',
          occurred_at: '2026-11-06T00:00:00Z',
          user_id: 'u',
          event_type: 't',
          properties_json: '{"a":1}',
        },
      )
      assert.equal(rejects[5]!.event_type, 'multi\nline')
    })

    test('rows are held to exactly the API rules: the same errors as validateBatch gives for the same events', async () => {
      const id = (n: number) => uuid(n, 0xa7)
      const events = [
        {
          event_id: id(1),
          occurred_at: '2026-11-07T10:00:00Z',
          user_id: '',
          event_type: 'x'.repeat(129),
        },
        { event_id: id(2), occurred_at: '2026-11-07T25:00:00Z', user_id: 'u', event_type: 't' },
        {
          event_id: id(3),
          occurred_at: '2026-11-07T10:00:00Z',
          user_id: 'nul\u0000',
          event_type: 't',
          properties: { big: 'x'.repeat(16_400) },
        },
        {
          event_id: id(4),
          occurred_at: new Date(Date.now() + 2 * 86_400_000).toISOString(),
          user_id: 'u',
          event_type: 't',
        },
        // What the store cannot hold as sent (issue 13): year 0, and properties as raw JSON text.
        { event_id: id(5), occurred_at: '0000-06-15T10:00:00Z', user_id: 'u', event_type: 't' },
        {
          event_id: id(6),
          occurred_at: '2026-11-07T10:00:00Z',
          user_id: 'u',
          event_type: 't',
          json: `${'{"a":'.repeat(40)}1${'}'.repeat(40)}`,
        },
        {
          event_id: id(7),
          occurred_at: '2026-11-07T10:00:00Z',
          user_id: 'u',
          event_type: 't',
          json: '{"n":1e400}',
        },
        {
          event_id: id(8),
          occurred_at: '2026-11-07T10:00:00Z',
          user_id: 'u',
          event_type: 't',
          json: '{"id":12345678901234567891}',
        },
      ].map(({ json, ...e }: { json?: string; properties?: object } & Record<string, unknown>) =>
        json ? { ...e, properties: JSON.parse(json), json } : e,
      ) as Array<{
        event_id: string
        occurred_at: string
        user_id: string
        event_type: string
        properties?: object
        json?: string
      }>
      const api = events.map(({ json: _, ...e }) => {
        try {
          validateBatch([e], { ...limits, maxBatchSize: 1 })
          return ''
        } catch (err) {
          const errors = (err as { extra: { errors: Array<{ field: string; message: string }> } })
            .extra.errors
          return errors
            .map((x) => `${x.field === 'properties' ? 'properties_json' : x.field} ${x.message}`)
            .join('; ')
        }
      })
      const quote = (v: string) => `"${v.replaceAll('"', '""')}"`
      const file = writeCsv(
        dir,
        'parity.csv',
        simpleCsv(
          events.map((e) => [
            e.event_id,
            e.occurred_at,
            quote(e.user_id),
            e.event_type,
            e.properties ? quote(e.json ?? JSON.stringify(e.properties)) : '',
          ]),
        ),
      )
      const rejectsPath = join(dir, 'parity-rejects.csv')
      await run(file, { skipInvalid: true, rejectsPath })
      const rejects = parse(readFileSync(rejectsPath), { columns: true }) as Array<
        Record<string, string>
      >
      assert.ok(api.every((a) => a !== ''))
      assert.deepEqual(
        rejects.map((r) => r.error),
        api,
      )
    })

    test('a file that cannot be read stops the import and names the line: a bad header, broken quoting', async () => {
      const header = await run(
        writeCsv(dir, 'header.csv', 'event_id,occurred_at,user,event_type,properties_json\n'),
      )
      assert.equal(header.stopped?.line, 1)
      assert.match(header.stopped!.message, /missing user_id; unknown "user"/)
      const id = (n: number) => uuid(n, 0xa8)
      const quoting = await run(
        writeCsv(
          dir,
          'quoting.csv',
          simpleCsv([
            [id(1), '2026-11-08T00:00:00Z', 'u', '"a\nb"', ''],
            [id(2), '2026-11-08T00:00:00Z', 'u', 'a"b', ''],
          ]),
        ),
        { skipInvalid: true },
      )
      assert.equal(quoting.stopped?.line, 4)
      assert.match(quoting.stopped!.message, /malformed CSV/)
      assert.equal(quoting.inserted, 0, 'nothing from the batch it is in')
      const empty = await run(writeCsv(dir, 'empty.csv', ''))
      assert.deepEqual(empty.stopped, {
        line: 1,
        message: 'the file is empty: expected a header row',
      })
    })
  })
}
