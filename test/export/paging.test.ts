import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { exportRows, PAGE_ROWS } from '../../src/export/export-rows.ts'
import { poolClient, type SqlClient } from '../../src/store/sql-client.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'

// Keyset pages over many pages: seq crosses digit counts (9,999 to 10,000)
// inside one transaction, and transactions follow one another; each row once,
// in (xact_id, seq) order, whatever the page boundaries.
describe('export pages', { skip: await skipUnless('postgres') }, () => {
  let db: TestDatabase
  let client: SqlClient

  before(async () => {
    db = await createTestDatabase()
    client = poolClient(db.pool)
    const insert = `INSERT INTO events (event_id, occurred_at, user_id, event_type, project_id)
      SELECT gen_random_uuid(), TIMESTAMPTZ '2026-11-01 00:00:00Z' + g * INTERVAL '1 second', 'u-' || (g % 50), 'view', 1
      FROM generate_series(1, $1::int) g`
    await db.pool.query(insert, [2 * PAGE_ROWS + 345])
    await db.pool.query(insert, [PAGE_ROWS])
    await db.pool.query(insert, [7])
  })
  after(async () => {
    await db?.drop()
  })

  test(`${3 * PAGE_ROWS + 352} rows in three transactions: every one once, in store order`, async () => {
    const ids: string[] = []
    let pages = 0
    for await (const page of exportRows(client, {
      project: 1,
      fromDay: Date.parse('2026-11-01') / 86_400_000,
      toDay: Date.parse('2026-11-02') / 86_400_000,
      segments: [],
    })) {
      pages++
      for (const row of page) ids.push(row[0])
    }
    const { rows } = await db.pool.query<{ id: string }>(
      'SELECT event_id::text AS id FROM events ORDER BY xact_id, seq',
    )
    assert.equal(pages, 4)
    assert.equal(ids.length, 3 * PAGE_ROWS + 352)
    assert.deepEqual(
      ids,
      rows.map((r) => r.id),
    )
  })
})
