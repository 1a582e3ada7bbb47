import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { dateValue, timestampValue } from '@duckdb/node-api'
import pg from 'pg'
import { DuckDbReplica } from '../../src/analytics/duckdb-replica.ts'
import { AnalyticsSync } from '../../src/analytics/sync.ts'
import { loadConfig } from '../../src/config.ts'
import { validateBatch } from '../../src/events/validate-batch.ts'
import { createLogger } from '../../src/logger.ts'
import { PostgresChangeFeed } from '../../src/store/change-feed.ts'
import { PostgresEventStore } from '../../src/store/postgres-event-store.ts'
import { poolClient } from '../../src/store/sql-client.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { inProject, makeEvents } from '../helpers/events.ts'
import { ADMIN_DATABASE_URL, skipUnless } from '../helpers/services.ts'

const log = createLogger('silent')
const limits = { maxBatchSize: 100_000, maxPropertiesBytes: 16384, maxFutureSkewMs: 86_400_000 }
// The service's own defaults, from the environment schema, on one thread.
const replicaOptions = loadConfig({ DUCKDB_THREADS: '1' }).analytics

async function replicaCounts(replica: DuckDbReplica) {
  const [row] = await replica.query<{
    events: bigint
    distinct_users: bigint
    user_days: bigint
    users: bigint
  }>(
    `SELECT (SELECT count(*) FROM events) AS events, (SELECT count(DISTINCT user_key) FROM events) AS distinct_users,
            (SELECT sum(bit_count(users)) FROM (SELECT bit_or(users) AS users FROM day_users GROUP BY day, block)) AS user_days, (SELECT count(*) FROM users) AS users`,
  )
  return {
    events: Number(row!.events),
    users: Number(row!.users),
    user_days: Number(row!.user_days),
    distinct_users: Number(row!.distinct_users),
  }
}

async function pgCounts(db: TestDatabase) {
  const { rows } = await db.pool.query(
    `SELECT count(*)::int AS events, count(DISTINCT user_id)::int AS users,
            (SELECT count(*)::int FROM (SELECT DISTINCT user_id, (occurred_at AT TIME ZONE 'UTC')::date FROM events) d) AS user_days
     FROM events`,
  )
  return { ...rows[0], distinct_users: rows[0].users }
}

describe('analytics sync', { skip: await skipUnless('postgres') }, () => {
  let db: TestDatabase
  let dir: string
  let store: PostgresEventStore
  let pool: pg.Pool

  before(async () => {
    db = await createTestDatabase()
    dir = mkdtempSync(join(tmpdir(), 'ea-sync-'))
    pool = new pg.Pool({ connectionString: db.url, max: 4 })
    store = new PostgresEventStore(poolClient(pool))
  })
  after(async () => {
    await pool?.end()
    await db?.drop()
    rmSync(dir, { recursive: true, force: true })
  })

  const insert = (n: number, users = 50) =>
    store.insert(
      inProject(
        validateBatch(
          makeEvents(n).map((e, i) => ({ ...e, user_id: `u${i % users}` })),
          limits,
        ),
      ),
    )

  test('rows committed out of order by concurrent writers all arrive, once', async () => {
    const replica = await DuckDbReplica.open(join(dir, 'order.duckdb'), replicaOptions, log)
    const sync = new AnalyticsSync(
      replica,
      new PostgresChangeFeed(poolClient(pool), 1),
      { chunkRows: 1000, idleIntervalMs: 10 },
      log,
    )
    await sync.init()
    try {
      await insert(100)
      // A writer that began first (smaller transaction id and seq) but commits last.
      const slow = await pool.connect()
      try {
        await slow.query('BEGIN')
        await slow.query(
          `INSERT INTO events (event_id, occurred_at, user_id, event_type) SELECT gen_random_uuid(), now(), 'late-user', 'late' FROM generate_series(1, 10)`,
        )
        await insert(100)
        // The fast writer's rows are committed, but the slow one may still commit
        // rows before them in (xact_id, seq) order: the sync must wait for it.
        await sync.catchUp()
        assert.equal((await replicaCounts(replica)).events, 100)
        await slow.query('COMMIT')
      } finally {
        slow.release()
      }
      await sync.catchUp()
      assert.deepEqual(await replicaCounts(replica), await pgCounts(db))
      assert.equal((await replicaCounts(replica)).events, 210)
    } finally {
      await sync.stop()
      replica.close()
    }
  })

  test('a long transaction in another database does not hold the replica back', async () => {
    const replica = await DuckDbReplica.open(':memory:', replicaOptions, log)
    const sync = new AnalyticsSync(
      replica,
      new PostgresChangeFeed(poolClient(pool), 1),
      { chunkRows: 1000, idleIntervalMs: 10 },
      log,
    )
    await sync.init()
    // An open writing transaction elsewhere in the cluster: its xid is older than ours.
    const elsewhere = new pg.Client({ connectionString: ADMIN_DATABASE_URL })
    await elsewhere.connect()
    try {
      await elsewhere.query('BEGIN')
      await elsewhere.query('SELECT pg_current_xact_id()')
      const before = await db.count()
      await insert(10)
      assert.equal(await sync.catchUp(), before + 10)
    } finally {
      await elsewhere.query('ROLLBACK')
      await elsewhere.end()
      await sync.stop()
      replica.close()
    }
  })

  test('a crash between chunks resumes without loss or duplicates, and a deleted replica is rebuilt to the same answers', async () => {
    const path = join(dir, 'crash.duckdb')
    await insert(2_000, 300)
    const expected = await pgCounts(db)

    // Sync a few chunks, then drop everything on the floor as a crash would:
    // no stop(), no final chunk.
    let replica = await DuckDbReplica.open(path, replicaOptions, log)
    let sync = new AnalyticsSync(
      replica,
      new PostgresChangeFeed(poolClient(pool), 1),
      { chunkRows: 250, idleIntervalMs: 10 },
      log,
    )
    await sync.init()
    await sync.syncChunk()
    await sync.syncChunk()
    const partial = (await replicaCounts(replica)).events
    assert.equal(partial, 500)
    replica.close()

    replica = await DuckDbReplica.open(path, replicaOptions, log)
    sync = new AnalyticsSync(
      replica,
      new PostgresChangeFeed(poolClient(pool), 1),
      { chunkRows: 250, idleIntervalMs: 10 },
      log,
    )
    await sync.init()
    assert.equal(await sync.catchUp(), expected.events - partial)
    assert.deepEqual(await replicaCounts(replica), expected)
    const daily =
      'SELECT day, sum(bit_count(users)) AS n FROM (SELECT day, bit_or(users) AS users FROM day_users GROUP BY day, block) GROUP BY day ORDER BY day'
    const answers = await replica.query(daily)
    replica.close()

    rmSync(path)
    replica = await DuckDbReplica.open(path, replicaOptions, log)
    sync = new AnalyticsSync(
      replica,
      new PostgresChangeFeed(poolClient(pool), 1),
      { chunkRows: 700, idleIntervalMs: 10 },
      log,
    )
    await sync.init()
    assert.equal(await sync.catchUp(), expected.events)
    assert.deepEqual(await replicaCounts(replica), expected)
    assert.deepEqual(await replica.query(daily), answers)
    replica.close()
  })

  test('a replica pointed at another event store rebuilds itself from it', async () => {
    const path = join(dir, 'moved.duckdb')
    const open = async (p: pg.Pool) => {
      const replica = await DuckDbReplica.open(path, replicaOptions, log)
      const sync = new AnalyticsSync(
        replica,
        new PostgresChangeFeed(poolClient(p), 1),
        { chunkRows: 5000, idleIntervalMs: 10 },
        log,
      )
      await sync.init()
      return { replica, sync }
    }
    let { replica, sync } = await open(pool)
    await sync.catchUp()
    assert.equal((await replicaCounts(replica)).events, await db.count())
    replica.close()

    const other = await createTestDatabase()
    try {
      await other.pool.query(
        `INSERT INTO events (event_id, occurred_at, user_id, event_type) SELECT gen_random_uuid(), now(), 'x', 'y' FROM generate_series(1, 7)`,
      )
      ;({ replica, sync } = await open(other.pool))
      await sync.catchUp()
      assert.equal((await replicaCounts(replica)).events, 7)
      replica.close()
    } finally {
      await other.drop()
    }
  })

  test('a second process cannot open a replica file that is in use', async () => {
    const path = join(dir, 'locked.duckdb')
    const replica = await DuckDbReplica.open(path, replicaOptions, log)
    try {
      const { spawnSync } = await import('node:child_process')
      const probe = `import { DuckDbReplica } from ${JSON.stringify(new URL('../../src/analytics/duckdb-replica.ts', import.meta.url).pathname)};
        import { createLogger } from ${JSON.stringify(new URL('../../src/logger.ts', import.meta.url).pathname)};
        const options = ${JSON.stringify({ ...replicaOptions, memoryLimit: '64MB' })};
        try { await DuckDbReplica.open(${JSON.stringify(path)}, options, createLogger('silent')); console.log('opened') }
        catch (e) { console.log(e.constructor.name + ': ' + e.message) }`
      const out = spawnSync(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', probe],
        { encoding: 'utf8' },
      )
      assert.match(
        out.stdout,
        /ReplicaLockedError: the analytics replica .* is open in another process/,
      )
    } finally {
      replica.close()
    }
  })

  // The last tests: they add 120,000 rows, which the others would sync too.
  // Chunks of 30,000 rows, whose staging takes long enough to be interfered with.
  let bigRowsAdded = false
  const withBigChunks = async (
    file: string,
    body: (replica: DuckDbReplica, sync: AnalyticsSync) => Promise<void>,
  ) => {
    if (!bigRowsAdded) {
      await insert(60_000, 5_000)
      await insert(60_000, 5_000)
      bigRowsAdded = true
    }
    const replica = await DuckDbReplica.open(join(dir, file), replicaOptions, log)
    const sync = new AnalyticsSync(
      replica,
      new PostgresChangeFeed(poolClient(pool), 1),
      { chunkRows: 30_000, idleIntervalMs: 10 },
      log,
    )
    await sync.init()
    try {
      await body(replica, sync)
    } finally {
      await sync.stop()
      replica.close()
    }
  }

  test('reading where the sync is (as /health does) while it appends a chunk fails no chunk', async () => {
    await withBigChunks('health.duckdb', async (replica, sync) => {
      let reading = true
      let reads = 0
      // Several at once, so one is in flight at nearly every flush of the appender.
      const poll = Promise.all(
        Array.from({ length: 4 }, async () => {
          while (reading) {
            await replica.cursor()
            reads++
          }
        }),
      )
      const copied = await sync.catchUp().finally(() => {
        reading = false
      })
      await poll
      assert.equal(sync.health.failures.total, 0)
      assert.ok(reads > 10, `${reads} reads`)
      assert.ok(copied >= 120_000)
      assert.deepEqual(await replicaCounts(replica), await pgCounts(db))
    })
  })

  test('rows a stale appender writes into the staging table meanwhile are never applied', async () => {
    await withBigChunks('stale.duckdb', async (replica, sync) => {
      // An appender a failed attempt left open writes its rows whenever it is
      // collected: here, right after the next attempt has begun staging.
      const writer = replica.writer
      const createAppender = writer.createAppender.bind(writer)
      let stale = 0
      writer.createAppender = async (table: string) => {
        const appender = await createAppender(table)
        if (table === 'sync_stage' && stale === 0) {
          const leftOver = await createAppender('sync_stage')
          for (let i = 0; i < 1_000; i++, stale++) {
            leftOver.appendInteger(0) // a staging attempt that is over
            leftOver.appendInteger(i)
            leftOver.appendBigInt(10n ** 12n + BigInt(i))
            leftOver.appendDate(dateValue(20_000))
            leftOver.appendTimestamp(timestampValue(1_728_000_000_000_000n))
            leftOver.appendVarchar('stale-user')
            leftOver.appendVarchar('stale')
            leftOver.appendNull()
            leftOver.endRow()
          }
          leftOver.closeSync()
        }
        return appender
      }
      const copied = await sync.catchUp()
      assert.equal(stale, 1_000)
      assert.ok(copied >= 120_000)
      assert.deepEqual(await replicaCounts(replica), await pgCounts(db))
      assert.deepEqual(await replica.query(`SELECT 1 FROM events WHERE event_type = 'stale'`), [])
    })
  })
})
