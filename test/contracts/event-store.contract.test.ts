import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { loadConfig } from '../../src/config.ts'
import { validateBatch } from '../../src/events/validate-batch.ts'
import { createLogger } from '../../src/logger.ts'
import { PostgresChangeFeed } from '../../src/store/change-feed.ts'
import { copyBinary } from '../../src/store/copy-batch.ts'
import type { CopyEventStore } from '../../src/store/event-store.ts'
import { openStore } from '../../src/store/open-store.ts'
import { PostgresEventStore } from '../../src/store/postgres-event-store.ts'
import type { SqlClient } from '../../src/store/sql-client.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { inProject, makeEvent, makeEvents } from '../helpers/events.ts'
import { skipUnless } from '../helpers/services.ts'

// One suite, every implementation: the embedded store must behave exactly as
// the PostgreSQL one, since the pipeline and the sync do not know which they have.
const limits = { maxBatchSize: 10_000, maxPropertiesBytes: 16384, maxFutureSkewMs: 86_400_000 }
/** Validated, in the default project unless named. */
const normalize = (events: ReturnType<typeof makeEvents>, project = 1) =>
  inProject(validateBatch(events, limits), project)

const implementations = [
  { name: 'embedded (PGlite)', server: false, skip: false as const },
  { name: 'PostgreSQL', server: true, skip: await skipUnless('postgres') },
]

for (const impl of implementations) {
  describe(`EventStore contract: ${impl.name}`, { skip: impl.skip }, () => {
    let db: TestDatabase | undefined
    let dataDir: string | undefined
    let sql: SqlClient
    let store: CopyEventStore

    before(async () => {
      db = impl.server ? await createTestDatabase() : undefined
      dataDir = impl.server ? undefined : mkdtempSync(join(tmpdir(), 'ea-contract-'))
      const config = loadConfig(db ? { DATABASE_URL: db.url } : { DATA_DIR: dataDir! })
      sql = await openStore(config, createLogger('silent'))
      store = new PostgresEventStore(sql)
    })
    after(async () => {
      await store?.close()
      await db?.drop()
      if (dataDir) rmSync(dataDir, { recursive: true, force: true })
    })

    test('insert stores new events once and says how many were new', async () => {
      const events = normalize(makeEvents(50))
      assert.equal(await store.insert(events), 50)
      assert.equal(await store.insert(events), 0)
      assert.equal(await store.insert([...events.slice(0, 10), ...normalize(makeEvents(5))]), 5)
    })

    test('the first stored version of an id wins, within a batch and across batches', async () => {
      const [first] = normalize([makeEvent({ event_type: 'first' })])
      const second = { ...first!, event_type: 'second' }
      assert.equal(await store.insert([first!, second]), 1)
      assert.equal(await store.insert([{ ...first!, event_type: 'third' }]), 0)
      const { rows } = await sql.query<{ event_type: string }>(
        'SELECT event_type FROM events WHERE event_id = $1',
        [first!.event_id],
      )
      assert.deepEqual(rows, [{ event_type: 'first' }])
    })

    test('concurrent inserts of overlapping batches store each id once, and their counts add up', async () => {
      const events = normalize(makeEvents(500))
      const counts = await Promise.all(
        [0, 100, 200, 300].map((from) => store.insert(events.slice(from, from + 200))),
      )
      assert.equal(
        counts.reduce((a, b) => a + b, 0),
        500,
      )
      assert.deepEqual(
        await store.existingIds(
          events.map((e) => e.event_id),
          1,
        ),
        new Set(events.map((e) => e.event_id)),
      )
    })

    // The queue's entries arrive as COPY rows: the same promises through insertCopy.
    test('insertCopy stores new events once, first version winning, and says how many were new', async () => {
      const events = normalize(makeEvents(40))
      assert.equal(await store.insertCopy(copyBinary(events.slice(0, 10), 1)), 10)
      // Ten stored, thirty new: a straight COPY would fail on the stored ones.
      assert.equal(await store.insertCopy(copyBinary(events, 1)), 30)
      assert.equal(await store.insertCopy(copyBinary(events, 1)), 0)
      const [first] = normalize([makeEvent({ event_type: 'first' })])
      assert.equal(
        await store.insertCopy(copyBinary([first!, { ...first!, event_type: 'second' }], 1)),
        1,
      )
      assert.equal(await store.insert([{ ...first!, event_type: 'third' }]), 0)
      assert.equal(await store.insertCopy(copyBinary(normalize(makeEvents(5)), 1)), 5)
      const { rows } = await sql.query<{ event_type: string }>(
        'SELECT event_type FROM events WHERE event_id = $1',
        [first!.event_id],
      )
      assert.deepEqual(rows, [{ event_type: 'first' }])
      assert.deepEqual(
        await store.existingIds(
          events.map((e) => e.event_id),
          1,
        ),
        new Set(events.map((e) => e.event_id)),
      )
    })

    test('concurrent insertCopy and insert of overlapping batches store each id once, and their counts add up', async () => {
      const events = normalize(makeEvents(500))
      const counts = await Promise.all(
        [0, 100, 200, 300].map((from, i) => {
          const part = events.slice(from, from + 200)
          return i % 2 === 0 ? store.insertCopy(copyBinary(part, 1)) : store.insert(part)
        }),
      )
      assert.equal(
        counts.reduce((a, b) => a + b, 0),
        500,
      )
    })

    test('existingIds finds exactly the stored ones', async () => {
      const stored = normalize(makeEvents(3))
      await store.insert(stored)
      const fresh = normalize(makeEvents(2))
      const found = await store.existingIds(
        [...stored, ...fresh].map((e) => e.event_id),
        1,
      )
      assert.deepEqual(found, new Set(stored.map((e) => e.event_id)))
      assert.deepEqual(await store.existingIds([], 1), new Set())
    })

    test('the same event_id in two projects is two events; a resend within a project is still one', async () => {
      const events = normalize(makeEvents(4))
      const elsewhere = events.map((e) => ({ ...e, project_id: 2, event_type: 'elsewhere' }))
      assert.equal(await store.insert(events.slice(0, 2)), 2)
      assert.equal(await store.insert([...events, ...elsewhere.slice(0, 2)]), 4)
      assert.equal(await store.insertCopy(copyBinary(elsewhere, 2)), 2)
      assert.equal(await store.insertCopy(copyBinary(elsewhere, 2)), 0)
      assert.equal(await store.insert(elsewhere), 0)
      const ids = events.map((e) => e.event_id)
      assert.deepEqual(await store.existingIds(ids, 1), new Set(ids))
      assert.deepEqual(await store.existingIds(ids, 2), new Set(ids))
      assert.deepEqual(await store.existingIds(ids, 3), new Set())
      const { rows } = await sql.query<{ project_id: number; event_type: string }>(
        'SELECT project_id, event_type FROM events WHERE event_id = $1 ORDER BY project_id',
        [events[0]!.event_id],
      )
      assert.deepEqual(rows, [
        { project_id: 1, event_type: events[0]!.event_type },
        { project_id: 2, event_type: 'elsewhere' },
      ])
    })

    test("one batch of two projects' events keeps both versions of a shared id", async () => {
      const [e] = normalize([makeEvent()])
      const other = { ...e!, project_id: 2, user_id: 'other' }
      assert.equal(await store.insert([e!, other, { ...other, user_id: 'again' }]), 2)
      const { rows } = await sql.query<{ project_id: number; user_id: string }>(
        'SELECT project_id, user_id FROM events WHERE event_id = $1 ORDER BY project_id',
        [e!.event_id],
      )
      assert.deepEqual(rows, [
        { project_id: 1, user_id: e!.user_id },
        { project_id: 2, user_id: 'other' },
      ])
    })

    test('properties and timestamps round-trip exactly, microseconds included', async () => {
      const [e] = normalize([
        makeEvent({
          occurred_at: '2026-03-01T23:59:59.999999-05:00',
          properties: { a: { b: [1, 'x"y', null] }, n: 1.5 },
        }),
      ])
      await store.insert([e!])
      const { rows } = await sql.query<{ at: string; properties: unknown }>(
        `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at, properties FROM events WHERE event_id = $1`,
        [e!.event_id],
      )
      assert.deepEqual(rows, [
        { at: '2026-03-02T04:59:59.999999', properties: { a: { b: [1, 'x"y', null] }, n: 1.5 } },
      ])
    })

    test('the change feed reads every committed row of its project in cursor order, and knows the store it reads', async () => {
      const feed = new PostgresChangeFeed(sql, 1)
      const all = await feed.readAfter({ xact: 0n, seq: 0n }, 100_000)
      const count = async (project: number) =>
        (
          await sql.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM events WHERE project_id = $1',
            [project],
          )
        ).rows[0]!.n
      assert.equal(all.length, await count(1))
      const elsewhere = await new PostgresChangeFeed(sql, 2).readAfter(
        { xact: 0n, seq: 0n },
        100_000,
      )
      assert.ok((await count(2)) > 0, 'the tests above stored events in project 2')
      assert.equal(elsewhere.length, await count(2))
      const keys = all.map(([x, s]) => [BigInt(x), BigInt(s)] as const)
      for (let i = 1; i < keys.length; i++) {
        const [a, b] = [keys[i - 1]!, keys[i]!]
        assert.ok(a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]), 'strictly increasing (xact, seq)')
      }
      const [x, s] = all[10]!
      assert.deepEqual(
        await feed.readAfter({ xact: BigInt(x), seq: BigInt(s) }, 5),
        all.slice(11, 16),
      )
      const source = await feed.source()
      assert.match(source.id, /^[0-9a-f-]{36}$/)
      assert.ok(source.nextXact > keys[keys.length - 1]![0])
    })

    test('ping answers', async () => {
      await store.ping()
    })
  })
}
