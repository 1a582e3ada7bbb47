import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { loadConfig } from '../../src/config.ts'
import { openStorage, type Storage } from '../../src/deps.ts'
import { createLogger } from '../../src/logger.ts'
import { copyBinary } from '../../src/store/copy-batch.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { inProject, makeEvent } from '../helpers/events.ts'
import { skipUnless } from '../helpers/services.ts'

// Within a batch the store gives rows their seq in event_id order, whichever
// way they go in (INSERT … unnest, a straight COPY, or COPY through staging
// when an id is stored already): seq breaks ties between events of the same
// instant, and the funnels' and paths' references order them by event_id.

const MODES = [
  { name: 'embedded (PGlite)', server: false, skip: false as const },
  { name: 'PostgreSQL', server: true, skip: await skipUnless('postgres') },
]

for (const mode of MODES) {
  describe(`seq follows event_id within a batch, ${mode.name}`, { skip: mode.skip }, () => {
    let db: TestDatabase | undefined
    let dir: string
    let storage: Storage
    // Ids out of order, every event at the same instant.
    const batch = (n: number) =>
      Array.from({ length: n }, () => ({
        ...makeEvent({ occurred_at: '2026-11-05T10:00:00.000Z' }),
        properties: {},
      }))
    const order = async (ids: string[]) =>
      (
        await storage.db.query<{ event_id: string }>(
          'SELECT event_id::text FROM events WHERE event_id = ANY($1::uuid[]) ORDER BY seq',
          [ids],
        )
      ).rows.map((r) => r.event_id)
    const sorted = (ids: string[]) => [...ids].sort()

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'ea-seq-'))
      db = mode.server ? await createTestDatabase() : undefined
      storage = await openStorage(
        loadConfig(db ? { DATABASE_URL: db.url } : { DATA_DIR: join(dir, 'data') }),
        createLogger('silent'),
      )
    })
    after(async () => {
      await storage?.close()
      await db?.drop()
      rmSync(dir, { recursive: true, force: true })
    })

    test('INSERT … unnest', async () => {
      const events = batch(40)
      assert.equal(await storage.store.insert(inProject(events)), 40)
      const ids = events.map((e) => e.event_id)
      assert.deepEqual(await order(ids), sorted(ids))
    })

    test('COPY, straight and through staging (one id stored already)', async () => {
      const straight = batch(40)
      assert.equal(await storage.store.insertCopy(copyBinary(straight, 1)), 40)
      assert.deepEqual(
        await order(straight.map((e) => e.event_id)),
        sorted(straight.map((e) => e.event_id)),
      )
      const staged = [...batch(40), straight[0]!]
      assert.equal(await storage.store.insertCopy(copyBinary(staged, 1)), 40)
      const ids = staged.slice(0, 40).map((e) => e.event_id)
      assert.deepEqual(await order(ids), sorted(ids))
    })
  })
}
