import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type ServiceProcess, STARTUP_TIMEOUT_MS, spawnService } from '../helpers/child.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { waitFor } from '../helpers/events.ts'
import { freePort, skipUnless } from '../helpers/services.ts'

describe('analytics sync killed with SIGKILL', { skip: await skipUnless('postgres') }, () => {
  let db: TestDatabase
  let dir: string
  const children: ServiceProcess[] = []

  before(async () => {
    db = await createTestDatabase()
    dir = mkdtempSync(join(tmpdir(), 'ea-sync-crash-'))
    await db.pool.query(
      `INSERT INTO events (event_id, occurred_at, user_id, event_type)
       SELECT gen_random_uuid(), TIMESTAMPTZ '2026-10-01' + (i % 30) * INTERVAL '1 day' + (i % 86400) * INTERVAL '1 second',
              'user-' || (i % 997), 'type-' || (i % 7)
       FROM generate_series(1, 30000) i`,
    )
  })
  after(async () => {
    for (const c of children) c.child.kill('SIGKILL')
    await db?.drop()
    rmSync(dir, { recursive: true, force: true })
  })

  test('resumes from its cursor on restart: every row once, none missing', async () => {
    const port = await freePort()
    const env = {
      DATABASE_URL: db.url,
      USE_QUEUE: 'false',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      DUCKDB_PATH: join(dir, 'analytics.duckdb'),
      SYNC_CHUNK_ROWS: '300',
      DUCKDB_THREADS: '1',
    }
    const status = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/events/queue/status`).catch(() => undefined)
      return res?.ok
        ? ((await res.json()) as { sync: { synced_rows: number; rows_behind: number } }).sync
        : undefined
    }
    const first = spawnService('all', env)
    children.push(first)
    const partial = await waitFor(
      'part of the rows synced',
      status,
      (s) => (s?.synced_rows ?? 0) > 0,
      STARTUP_TIMEOUT_MS,
      5,
    )
    first.child.kill('SIGKILL')
    await first.exited
    assert.ok(partial!.synced_rows < 30_000, 'killed part-way through')

    const second = spawnService('all', env)
    children.push(second)
    await waitFor(
      'the replica caught up',
      status,
      (s) => s?.synced_rows === 30_000 && s.rows_behind === 0,
      STARTUP_TIMEOUT_MS,
      50,
    )
    const res = await fetch(
      `http://127.0.0.1:${port}/stats/top-events?from=2026-10-01&to=2026-10-30&limit=100`,
    )
    assert.equal(res.status, 200, await res.clone().text())
    const top = (await res.json()) as Array<{
      event_type: string
      count: number
      unique_users: number
    }>
    const { rows } = await db.pool.query(
      `SELECT event_type, count(*)::int AS count, count(DISTINCT user_id)::int AS unique_users
       FROM events GROUP BY event_type ORDER BY count DESC, event_type`,
    )
    assert.deepEqual(top, rows)
    second.child.kill('SIGTERM')
    assert.equal(await second.exited, 0, second.output())
  })
})
