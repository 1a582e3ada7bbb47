import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { NormalizedEvent } from '../../src/events/event-schema.ts'
import { validateBatch } from '../../src/events/validate-batch.ts'
import { createLogger } from '../../src/logger.ts'
import { PostgresBulkLoader, PostgresEventStore } from '../../src/store/postgres-event-store.ts'
import { poolClient } from '../../src/store/sql-client.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { inProject, makeEvent, makeEvents } from '../helpers/events.ts'
import { skipUnless } from '../helpers/services.ts'

// The COPY path of the import must keep the store's promises exactly: each id
// once, the first stored version wins, counts that add up, next to other writers.
const limits = { maxBatchSize: 100_000, maxPropertiesBytes: 16384, maxFutureSkewMs: 86_400_000 }
const normalize = (events: ReturnType<typeof makeEvents>) => validateBatch(events, limits)

describe('PostgresBulkLoader (COPY) keeps the event store contract', {
  skip: await skipUnless('postgres'),
}, () => {
  let db: TestDatabase
  let loader: PostgresBulkLoader
  let store: PostgresEventStore

  before(async () => {
    db = await createTestDatabase()
    loader = await PostgresBulkLoader.connect(
      { url: db.url, queryTimeoutMs: 30_000 },
      1,
      createLogger('silent'),
    )
    store = new PostgresEventStore(poolClient(db.pool))
  })
  after(async () => {
    await loader?.close()
    await db?.drop()
  })

  const typeOf = async (id: string, project = 1) =>
    (
      await db.pool.query<{ event_type: string }>(
        'SELECT event_type FROM events WHERE event_id = $1 AND project_id = $2',
        [id, project],
      )
    ).rows[0]?.event_type

  test('new rows, then rows partly stored, then new rows again: exact counts, first version wins', async () => {
    const first = normalize(makeEvents(300))
    assert.equal(await loader.insert(first), 300)
    // Half stored already (with another event_type, which must not win), one id twice.
    const fresh = normalize(makeEvents(200))
    const overlap: NormalizedEvent[] = [
      ...first.slice(0, 150).map((e) => ({ ...e, event_type: 'late' })),
      ...fresh,
      { ...fresh[0]!, event_type: 'repeat' },
    ]
    assert.equal(await loader.insert(overlap), 200)
    assert.equal(await typeOf(first[0]!.event_id), first[0]!.event_type)
    assert.equal(await typeOf(fresh[0]!.event_id), fresh[0]!.event_type)
    assert.equal(await loader.insert(normalize(makeEvents(100))), 100)
    assert.equal(await loader.insert(overlap), 0)
    assert.equal(await loader.insert([]), 0)
    assert.equal(await db.count(), 600)
  })

  test('a repeat inside one all-new batch: the first one is stored', async () => {
    const [e] = normalize([makeEvent({ event_type: 'one' })])
    assert.equal(await loader.insert([e!, { ...e!, event_type: 'two' }]), 1)
    assert.equal(await typeOf(e!.event_id), 'one')
  })

  test('next to the API writing the same ids at the same time: each id once, and the counts add up', async () => {
    const events = normalize(makeEvents(4000))
    const other = await PostgresBulkLoader.connect(
      { url: db.url, queryTimeoutMs: 30_000 },
      1,
      createLogger('silent'),
    )
    try {
      const counts = await Promise.all([
        loader.insert(events.slice(0, 2500)),
        other.insert(events.slice(1500, 4000)),
        store.insert(inProject(events.slice(1000, 3000))),
      ])
      assert.equal(
        counts.reduce((a, b) => a + b, 0),
        4000,
      )
      const ids = events.map((e) => e.event_id)
      const { rows } = await db.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM events WHERE event_id = ANY($1::uuid[])',
        [ids],
      )
      assert.equal(rows[0]!.n, 4000)
    } finally {
      await other.close()
    }
  })

  test("a loader of another project stores the same ids as that project's events, and dedupes within it", async () => {
    const events = normalize(makeEvents(50))
    const other = await PostgresBulkLoader.connect(
      { url: db.url, queryTimeoutMs: 30_000 },
      2,
      createLogger('silent'),
    )
    try {
      assert.equal(await loader.insert(events), 50)
      const elsewhere = events.map((e) => ({ ...e, event_type: 'elsewhere' }))
      assert.equal(await other.insert(elsewhere), 50)
      assert.equal(await other.insert(events), 0)
      // The batch path (the import's) as well.
      const batch = other.newBatch()
      const json = (list: readonly NormalizedEvent[]) =>
        list.map((e) => JSON.stringify(e.properties))
      const fresh = normalize(makeEvents(3))
      batch.add(fresh, json(fresh))
      batch.add(events.slice(0, 5), json(events.slice(0, 5)))
      assert.equal(await batch.store(), 3)
      assert.equal(await typeOf(events[0]!.event_id, 1), events[0]!.event_type)
      assert.equal(await typeOf(events[0]!.event_id, 2), 'elsewhere')
      const { rows } = await db.pool.query<{ project_id: number; n: number }>(
        'SELECT project_id, count(*)::int AS n FROM events WHERE event_id = ANY($1::uuid[]) GROUP BY project_id ORDER BY project_id',
        [events.map((e) => e.event_id)],
      )
      assert.deepEqual(rows, [
        { project_id: 1, n: 50 },
        { project_id: 2, n: 50 },
      ])
    } finally {
      await other.close()
    }
  })

  test('text that means something to COPY (backslashes, tabs, line breaks) and any Unicode round-trip exactly', async () => {
    const tricky = 'a\\b\tc\nd\re\\.\\N é 🎉'
    const [e] = normalize([
      makeEvent({
        user_id: tricky,
        event_type: `type ${tricky}`,
        properties: { s: tricky, nested: { t: [tricky, 1.5, null, true] } },
      }),
    ])
    assert.equal(await loader.insert([e!]), 1)
    const { rows } = await db.pool.query(
      'SELECT user_id, event_type, properties FROM events WHERE event_id = $1',
      [e!.event_id],
    )
    assert.deepEqual(rows, [
      {
        user_id: tricky,
        event_type: `type ${tricky}`,
        properties: { s: tricky, nested: { t: [tricky, 1.5, null, true] } },
      },
    ])
  })
})
