import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import { DuckDbReplica } from '../../src/analytics/duckdb-replica.ts'
import { foldBatch, pendingRows } from '../../src/analytics/fold.ts'
import { AnalyticsSync } from '../../src/analytics/sync.ts'
import { createLogger } from '../../src/logger.ts'
import { PostgresChangeFeed } from '../../src/store/change-feed.ts'
import { poolClient } from '../../src/store/sql-client.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { waitFor } from '../helpers/events.ts'
import { skipUnless } from '../helpers/services.ts'

const log = createLogger('silent')
// Small enough that a chunk of a few thousand rows over many (day, type)
// pairs passed it before the chunk's bitmaps were bounded (DuckDB itself
// needs ~16 MB for one bitstring_agg, so much smaller limits fail any sync).
const MEMORY = '96MB'

// The replica's rollups against the same questions asked of PostgreSQL.
async function replicaAnswers(replica: DuckDbReplica, planRolledUp = true) {
  const q = <T>(sql: string) => replica.query<T>(sql)
  return {
    events: Number((await q<{ n: bigint }>('SELECT count(*) AS n FROM events'))[0]!.n),
    users: Number((await q<{ n: bigint }>('SELECT count(*) AS n FROM users'))[0]!.n),
    dau: (
      await q<{ day: unknown; n: bigint }>(
        'SELECT day::VARCHAR AS day, sum(bit_count(users)) AS n FROM (SELECT day, bit_or(users) AS users FROM day_users GROUP BY day, block) GROUP BY day ORDER BY day',
      )
    ).map((r) => [r.day, Number(r.n)]),
    typeUsers: Number(
      (
        await q<{ n: bigint }>(
          'SELECT sum(bit_count(users)) AS n FROM (SELECT bit_or(users) AS users FROM day_type_users GROUP BY day, event_type, block)',
        )
      )[0]!.n,
    ),
    typeCounts: Number((await q<{ n: bigint }>('SELECT count(*) AS n FROM type_day_counts'))[0]!.n),
    // A path past MAX_ROLLUP_VALUES has no rollups: its answers come from event_props.
    planUsers: (
      await q<{ text: string; n: bigint }>(
        planRolledUp
          ? `SELECT text, sum(bit_count(users)) AS n FROM (
           SELECT day, text, bit_or(users) AS users FROM prop_day_users JOIN property_paths p ON p.id = path_id
           WHERE p.path = '$."plan"' GROUP BY day, text, block
         ) GROUP BY text ORDER BY text`
          : `SELECT text, sum(n) AS n FROM (
           SELECT text, count(DISTINCT user_key) AS n FROM event_props JOIN property_paths p ON p.id = path_id
           WHERE p.path = '$."plan"' AND NOT p.rolled_up GROUP BY day, text
         ) GROUP BY text ORDER BY text`,
      )
    ).map((r) => [r.text, Number(r.n)]),
  }
}

async function storeAnswers(db: TestDatabase) {
  const q = async (sql: string) => (await db.pool.query(sql)).rows
  const day = `(occurred_at AT TIME ZONE 'UTC')::date`
  return {
    events: await db.count(),
    users: Number((await q('SELECT count(DISTINCT user_id) AS n FROM events'))[0].n),
    dau: (
      await q(
        `SELECT ${day}::text AS day, count(DISTINCT user_id)::int AS n FROM events GROUP BY 1 ORDER BY 1`,
      )
    ).map((r) => [r.day, r.n]),
    typeUsers: Number(
      (
        await q(
          `SELECT count(*) AS n FROM (SELECT DISTINCT ${day}, event_type, user_id FROM events) d`,
        )
      )[0].n,
    ),
    typeCounts: Number(
      (await q(`SELECT count(*) AS n FROM (SELECT DISTINCT ${day}, event_type FROM events) d`))[0]
        .n,
    ),
    planUsers: (
      await q(
        `SELECT plan AS text, sum(n)::int AS n FROM (
         SELECT properties->>'plan' AS plan, count(DISTINCT user_id) AS n FROM events WHERE properties ? 'plan' GROUP BY ${day}, 1
       ) d GROUP BY 1 ORDER BY 1`,
      )
    ).map((r) => [r.text, r.n]),
  }
}

// catchUp() stops at the store's horizon, which another session's open
// transaction can hold back for a moment: ask until every row is in.
async function catchUpAll(
  sync: AnalyticsSync,
  replica: DuckDbReplica,
  expected: number,
): Promise<number> {
  const synced = async () => {
    await sync.catchUp()
    return Number((await replica.cursor()).syncedRows)
  }
  return waitFor('every row synced', synced, (n) => n >= expected, 120_000)
}

describe('analytics sync within its memory limit', { skip: await skipUnless('postgres') }, () => {
  let db: TestDatabase
  let dir: string
  let pool: pg.Pool

  before(async () => {
    db = await createTestDatabase()
    dir = mkdtempSync(join(tmpdir(), 'ea-sync-memory-'))
    pool = new pg.Pool({ connectionString: db.url, max: 4 })
  })
  after(async () => {
    await pool?.end()
    await db?.drop()
    rmSync(dir, { recursive: true, force: true })
  })

  // `n` events, one a day over `days` days, `types` event types, `users` users,
  // and properties: a plan of `plans` values (rolled up), an amount with a
  // value per event (past any rollup limit) and one of `keys` extra paths.
  const insert = (
    first: number,
    n: number,
    shape: { days: number; types: number; users: number; plans: number; keys: number },
  ) =>
    db.pool.query(
      `INSERT INTO events (event_id, occurred_at, user_id, event_type, properties)
       SELECT gen_random_uuid(), TIMESTAMPTZ '2025-01-01' + (i % $3) * INTERVAL '1 day' + (i % 86400) * INTERVAL '1 second',
              'user-' || ((i::bigint * 7919) % $5), 'type-' || ((i / $3) % $4),
              jsonb_build_object('plan', 'p' || (i % $6), 'amount', i, 'k' || (i % $7), true)
       FROM generate_series($1::int, $1::int + $2::int - 1) i`,
      [first, n, shape.days, shape.types, shape.users, shape.plans, shape.keys],
    )

  const open = async (
    name: string,
    chunkRows: number,
    extra: { maxPropertyPaths?: number } = {},
  ) => {
    const replica = await DuckDbReplica.open(
      join(dir, name),
      {
        memoryLimit: MEMORY,
        threads: 1,
        maxPropertyPaths: extra.maxPropertyPaths ?? 1024,
        maxRollupValues: 32,
      },
      log,
    )
    const sync = new AnalyticsSync(
      replica,
      new PostgresChangeFeed(poolClient(pool), 1),
      { chunkRows, idleIntervalMs: 10 },
      log,
    )
    await sync.init()
    return { replica, sync }
  }

  test('pending rows, folded bitmaps and both together give the same answers, folded a few days per transaction', async () => {
    await insert(300_000, 2_000, { days: 40, types: 7, users: 70_000, plans: 5, keys: 3 })
    const { replica, sync } = await open('fold.duckdb', 500)
    try {
      const expected = await db.count()
      await catchUpAll(sync, replica, expected)
      assert.ok((await pendingRows(replica.writer)) > 0)
      assert.deepEqual(await replicaAnswers(replica), await storeAnswers(db))
      // A budget of a few bitmaps: each batch folds one day or a few, and
      // answers stay exact between batches.
      let batches = 1
      while ((await foldBatch(replica.writer, 20)) > 0) {
        batches++
        if (batches === 10) assert.deepEqual(await replicaAnswers(replica), await storeAnswers(db))
      }
      assert.ok(batches >= 10, `${batches} batches`)
      assert.equal(await pendingRows(replica.writer), 0)
      assert.deepEqual(await replicaAnswers(replica), await storeAnswers(db))
      // New users and known ones on days already folded: pending over folded.
      await insert(310_000, 1_500, { days: 40, types: 7, users: 90_000, plans: 5, keys: 3 })
      await catchUpAll(sync, replica, await db.count())
      assert.ok((await pendingRows(replica.writer)) > 0)
      assert.deepEqual(await replicaAnswers(replica), await storeAnswers(db))
      await sync.fold()
      assert.equal(await pendingRows(replica.writer), 0)
      assert.deepEqual(await replicaAnswers(replica), await storeAnswers(db))
    } finally {
      await sync.stop()
      replica.close()
    }
  })

  test('a chunk over many (day, type) pairs and users is synced, exactly, within the limit', async () => {
    // The probe's shape, scaled to the small limit: every row its own (day, type) pair.
    await insert(1, 4_000, { days: 366, types: 55, users: 4_000, plans: 32, keys: 1 })
    const { replica, sync } = await open('pairs.duckdb', 50_000)
    try {
      const expected = await db.count()
      assert.equal(await catchUpAll(sync, replica, expected), expected)
      assert.deepEqual(await replicaAnswers(replica), await storeAnswers(db))
    } finally {
      await sync.stop()
      replica.close()
    }
  })

  test('every dimension at its limit: 366+ days, 2 blocks of users, paths past the maximum, values past the rollup limit', async () => {
    // Users past one bitmap block (65,536), days past a year, more paths than
    // MAX_PROPERTY_PATHS and a path past MAX_ROLLUP_VALUES.
    await insert(100_000, 68_000, { days: 1, types: 2, users: 68_000, plans: 32, keys: 40 })
    await insert(200_000, 3_000, { days: 400, types: 60, users: 68_000, plans: 33, keys: 40 })
    const { replica, sync } = await open('limits.duckdb', 50_000, { maxPropertyPaths: 24 })
    try {
      const expected = await db.count()
      assert.equal(await catchUpAll(sync, replica, expected), expected)
      assert.deepEqual(await replicaAnswers(replica, false), await storeAnswers(db))
      assert.equal(replica.paths.size, 24)
    } finally {
      await sync.stop()
      replica.close()
    }
  })
})
