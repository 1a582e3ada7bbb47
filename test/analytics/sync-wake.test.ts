import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createLogger } from '../../src/logger.ts'
import { createPool, PostgresEventStore } from '../../src/store/postgres-event-store.ts'
import { poolClient } from '../../src/store/sql-client.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { type ServiceProcess, STARTUP_TIMEOUT_MS, spawnService } from '../helpers/child.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { inProject, makeEvents, waitFor } from '../helpers/events.ts'
import { skipUnless } from '../helpers/services.ts'

// A poll this long never fires during a test: whatever shows up was woken.
const NO_POLL = { SYNC_INTERVAL_MS: '600000' }
const DAY = '2026-11-21'

async function countOf(t: TestApp, type: string): Promise<number> {
  const res = await t.app.inject(`/stats/top-events?from=${DAY}&to=${DAY}&limit=1000`)
  const rows = res.json() as Array<{ event_type: string; count: number }>
  return rows.find((r) => r.event_type === type)?.count ?? 0
}

async function postAndSee(t: TestApp, type: string, status: number, timeoutMs?: number) {
  const events = makeEvents(3, { occurred_at: `${DAY}T09:00:00Z`, event_type: type })
  const res = await t.app.inject({ method: 'POST', url: '/events', payload: events })
  assert.equal(res.statusCode, status, res.body)
  await waitFor(
    `${type} counted`,
    () => countOf(t, type),
    (n) => n === 3,
    timeoutMs,
  )
}

describe('the sync is woken by commits, not its poll', {
  skip: await skipUnless('postgres', 'redis'),
}, () => {
  let db: TestDatabase

  before(async () => {
    db = await createTestDatabase()
  })
  after(async () => {
    await db?.drop()
  })

  test('direct mode: the API process inserts and wakes its own sync', async () => {
    const t = await startTestApp({ databaseUrl: db.url, queue: false, env: NO_POLL })
    try {
      await postAndSee(t, 'direct-1', 201)
      await postAndSee(t, 'direct-2', 201)
    } finally {
      await t.close()
    }
  })

  test('queue mode, worker in process: its commit wakes the sync', async () => {
    const t = await startTestApp({
      databaseUrl: db.url,
      queue: true,
      worker: true,
      env: { ...NO_POLL, WORKER_BLOCK_MS: '50' },
    })
    try {
      await postAndSee(t, 'queued-1', 202)
      await postAndSee(t, 'queued-2', 202)
    } finally {
      await t.close()
    }
  })

  test('another process inserting wakes it through NOTIFY, also after the LISTEN connection was cut', async () => {
    const t = await startTestApp({ databaseUrl: db.url, queue: false, env: NO_POLL })
    // Another process's store: its inserts do not touch this process's waker.
    const pool = createPool(
      { url: db.url, poolSize: 1, queryTimeoutMs: 10_000 },
      createLogger('silent'),
    )
    const other = new PostgresEventStore(poolClient(pool))
    const insertAndSee = async (type: string) => {
      const events = makeEvents(3, { occurred_at: `${DAY}T09:00:00.000Z`, event_type: type })
      assert.equal(await other.insert(inProject(events as never)), 3)
      await waitFor(
        `${type} counted`,
        () => countOf(t, type),
        (n) => n === 3,
      )
    }
    const listeners = () =>
      db.pool
        .query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'event-analytics-listen'`,
          [db.name],
        )
        .then((r) => r.rows.map((row) => row.pid))
    try {
      const [first] = await waitFor('the LISTEN connection', listeners, (p) => p.length === 1)
      await insertAndSee('other-1')
      await db.pool.query('SELECT pg_terminate_backend($1)', [first])
      await waitFor('a new LISTEN connection', listeners, (p) => p.length === 1 && p[0] !== first)
      await insertAndSee('other-2')
    } finally {
      await other.close()
      await t.close()
    }
  })

  test('a separate worker process: its commit reaches the stats process as a notification', async () => {
    const t = await startTestApp({ databaseUrl: db.url, queue: true, worker: false, env: NO_POLL })
    let worker: ServiceProcess | undefined
    try {
      worker = spawnService('worker', { ...t.env, WORKER_BLOCK_MS: '50' })
      // The first wait includes the worker's start-up.
      await postAndSee(t, 'worker-1', 202, STARTUP_TIMEOUT_MS)
      await postAndSee(t, 'worker-2', 202)
    } finally {
      worker?.child.kill('SIGTERM')
      await worker?.exited
      await t.close()
    }
  })
})

describe('embedded: the store in this process wakes the sync', () => {
  test('direct insert into PGlite is counted without the poll', async () => {
    const t = await startTestApp({ queue: false, env: NO_POLL })
    try {
      await postAndSee(t, 'embedded-1', 201)
      await postAndSee(t, 'embedded-2', 201)
    } finally {
      await t.close()
    }
  })
})
