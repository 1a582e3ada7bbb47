import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import {
  type ServiceProcess,
  STARTUP_TIMEOUT_MS,
  spawnService,
  untilHealthy,
} from '../helpers/child.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { waitFor } from '../helpers/events.ts'
import { freePort, skipUnless } from '../helpers/services.ts'
import { referenceDau, referenceTopEvents } from '../stats/reference.ts'

// A deletion killed half-way (SIGKILL while it scans the events table) resumes
// where its row says it stood when the service starts again, and ends with
// every event of the user gone once, counted once, and the replica's figures
// the reference's over what remains.

const TOTAL = 60_000
// every 20th row is the victim's
const VICTIM = TOTAL / 20

describe('a deletion killed with SIGKILL', { skip: await skipUnless('postgres') }, () => {
  let db: TestDatabase
  let dir: string
  const children: ServiceProcess[] = []

  before(async () => {
    db = await createTestDatabase()
    dir = mkdtempSync(join(tmpdir(), 'ea-deletion-crash-'))
    await db.pool.query(
      `INSERT INTO events (event_id, occurred_at, user_id, event_type)
       SELECT gen_random_uuid(), TIMESTAMPTZ '2026-10-01' + (i % 20) * INTERVAL '1 day' + (i % 86400) * INTERVAL '1 second',
              CASE WHEN i % 20 = 0 THEN 'victim' ELSE 'user-' || (i % 997) END, 'type-' || (i % 7)
       FROM generate_series(1, ${TOTAL}) i`,
    )
  })
  after(async () => {
    for (const c of children) c.child.kill('SIGKILL')
    await db?.drop()
    rmSync(dir, { recursive: true, force: true })
  })

  test('resumes on restart: every event of the user gone, counted once; figures as without it', async () => {
    const port = await freePort()
    const env = {
      DATABASE_URL: db.url,
      USE_QUEUE: 'false',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      DUCKDB_PATH: join(dir, 'analytics.duckdb'),
      DUCKDB_THREADS: '1',
      // one heap block per statement: hundreds of chunks, so the kill lands between two
      DELETION_CHUNK_BLOCKS: '1',
    }
    const job = async () =>
      (
        await db.pool.query<{
          state: string
          next_block: string
          end_block: string | null
          store_events: string
        }>('SELECT state, next_block::text, end_block::text, store_events::text FROM deletions')
      ).rows[0]
    const first = spawnService('all', env)
    children.push(first)
    await untilHealthy(port, first)
    const res = await fetch(`http://127.0.0.1:${port}/users/victim`, { method: 'DELETE' })
    assert.equal(res.status, 202, await res.clone().text())
    const { deletion_id } = (await res.json()) as { deletion_id: string }
    const partial = await waitFor(
      'part of the store scanned',
      job,
      (j) => Number(j?.store_events ?? 0) > 0,
      STARTUP_TIMEOUT_MS,
      2,
    )
    first.child.kill('SIGKILL')
    await first.exited
    const killed = (await job())!
    assert.ok(
      BigInt(killed.next_block) < BigInt(killed.end_block!),
      `killed part-way: ${JSON.stringify(killed)} (${JSON.stringify(partial)})`,
    )
    assert.equal(killed.state, 'running')

    const second = spawnService('all', env)
    children.push(second)
    await untilHealthy(port, second)
    const done = await waitFor(
      'the deletion finished and applied',
      async () =>
        (await (await fetch(`http://127.0.0.1:${port}/deletions/${deletion_id}`)).json()) as Record<
          string,
          unknown
        >,
      (d) => d.state === 'done' && d.replica_events !== null,
      STARTUP_TIMEOUT_MS,
      50,
    )
    assert.equal(done.store_events, VICTIM)
    const { rows: left } = await db.pool.query<{ n: number; victims: number; ids: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE user_id = 'victim')::int AS victims,
              count(DISTINCT event_id)::int AS ids FROM events`,
    )
    assert.deepEqual(left[0], { n: TOTAL - VICTIM, victims: 0, ids: TOTAL - VICTIM })

    // The replica: built before the kill with the victim's rows (some or all), now the reference's.
    const { rows } = await db.pool.query<{
      occurred_at: Date
      user_id: string
      event_type: string
      event_id: string
    }>('SELECT event_id::text, occurred_at, user_id, event_type FROM events')
    const remaining = rows.map((r) => ({ ...r, occurred_at: r.occurred_at.toISOString() }))
    const get = async (url: string) => {
      const r = await fetch(`http://127.0.0.1:${port}${url}`)
      assert.equal(r.status, 200, await r.clone().text())
      return r.json()
    }
    await waitFor(
      'the replica holding what remains',
      () => get('/stats/dau?from=2026-10-01&to=2026-10-20'),
      (dau) =>
        JSON.stringify(dau) === JSON.stringify(referenceDau(remaining, '2026-10-01', '2026-10-20')),
      STARTUP_TIMEOUT_MS,
      50,
    )
    assert.deepEqual(
      await get('/stats/top-events?from=2026-10-01&to=2026-10-20&limit=10'),
      referenceTopEvents(remaining, '2026-10-01', '2026-10-20', 10),
    )
    second.child.kill('SIGTERM')
    assert.equal(await second.exited, 0, second.output())
  })
})
