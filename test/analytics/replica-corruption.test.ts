import assert from 'node:assert/strict'
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import { DuckDbReplica } from '../../src/analytics/duckdb-replica.ts'
import { AnalyticsSync } from '../../src/analytics/sync.ts'
import { loadConfig } from '../../src/config.ts'
import { createLogger } from '../../src/logger.ts'
import { PostgresChangeFeed } from '../../src/store/change-feed.ts'
import { poolClient } from '../../src/store/sql-client.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { waitFor } from '../helpers/events.ts'
import { skipUnless } from '../helpers/services.ts'

const log = createLogger('silent')
const options = loadConfig({ DUCKDB_MEMORY_LIMIT: '128MB', DUCKDB_THREADS: '1' }).analytics
// DuckDB's file header and its two database headers take the first 12 KB.
const HEADERS = 12 * 1024

/** Overwrites bytes in every 256 KB block past the headers: data and metadata pages, never the header. */
function corruptPages(path: string): void {
  const size = statSync(path).size
  const fd = openSync(path, 'r+')
  try {
    for (let offset = HEADERS + 4096; offset < size - 64; offset += 64 * 1024)
      writeSync(fd, Buffer.alloc(64, 0xab), 0, 64, offset)
  } finally {
    closeSync(fd)
  }
}

describe('a corrupt replica file', { skip: await skipUnless('postgres') }, () => {
  let db: TestDatabase
  let dir: string
  let pool: pg.Pool

  before(async () => {
    db = await createTestDatabase()
    dir = mkdtempSync(join(tmpdir(), 'ea-corrupt-'))
    pool = new pg.Pool({ connectionString: db.url, max: 4 })
    await db.pool.query(
      `INSERT INTO events (event_id, occurred_at, user_id, event_type, properties)
       SELECT gen_random_uuid(), TIMESTAMPTZ '2026-01-01' + (i % 20) * INTERVAL '1 day', 'u' || (i % 500), 't' || (i % 5), jsonb_build_object('n', i)
       FROM generate_series(1, 20000) i`,
    )
  })
  after(async () => {
    await pool?.end()
    await db?.drop()
    rmSync(dir, { recursive: true, force: true })
  })

  const open = async (path: string) => {
    const replica = await DuckDbReplica.open(path, options, log)
    const sync = new AnalyticsSync(
      replica,
      new PostgresChangeFeed(poolClient(pool), 1),
      { chunkRows: 5000, idleIntervalMs: 10 },
      log,
    )
    await sync.init()
    return { replica, sync }
  }

  test('is moved aside and rebuilt from the store to the same answers', async () => {
    const path = join(dir, 'analytics.duckdb')
    let { replica, sync } = await open(path)
    await sync.catchUp()
    const answer =
      'SELECT count(*)::INTEGER AS events, (SELECT sum(bit_count(users))::INTEGER FROM (SELECT bit_or(users) AS users FROM day_users GROUP BY day, block)) AS user_days FROM events'
    const expected = await replica.query(answer)
    await replica.writer.run('CHECKPOINT')
    replica.close()
    corruptPages(path)

    // Whether DuckDB notices at open or on the first read, the sync ends up on a new file.
    ;({ replica, sync } = await open(path))
    sync.start()
    try {
      const rebuilt = await waitFor(
        'the rebuilt replica answers',
        () => replica.query(answer).catch(() => undefined),
        (r) => JSON.stringify(r) === JSON.stringify(expected),
        60_000,
      )
      assert.deepEqual(rebuilt, expected)
      assert.ok(
        readdirSync(dir).some((f) => f.startsWith('analytics.duckdb.corrupt-')),
        'the damaged file is kept for a post-mortem',
      )
    } finally {
      await sync.stop()
      replica.close()
    }
  })

  test('a file that is not DuckDB at all is still refused', async () => {
    const path = join(dir, 'not-duckdb.duckdb')
    writeFileSync(path, 'this is a text file, not a database\n'.repeat(1000))
    await assert.rejects(DuckDbReplica.open(path, options, log))
    assert.ok(!readdirSync(dir).some((f) => f.startsWith('not-duckdb.duckdb.corrupt-')))
  })
})
