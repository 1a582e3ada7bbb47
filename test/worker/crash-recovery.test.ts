import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { type ServiceProcess, STARTUP_TIMEOUT_MS, spawnService } from '../helpers/child.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { makeEvents, waitFor } from '../helpers/events.ts'
import { skipUnless } from '../helpers/services.ts'

describe('worker crash recovery', { skip: await skipUnless('postgres', 'redis') }, () => {
  let db: TestDatabase
  let api: TestApp
  const workers: ServiceProcess[] = []

  before(async () => {
    db = await createTestDatabase()
    // The API in this process, without a worker of its own; workers are real child processes.
    api = await startTestApp({ databaseUrl: db.url, queue: true, worker: false })
  })
  after(async () => {
    for (const w of workers) w.child.kill('SIGKILL')
    await api?.close()
    await db?.drop()
  })

  test('a worker killed with SIGKILL mid-ingestion loses nothing: a new one stores every accepted event once', async () => {
    const workerEnv = {
      ...api.env,
      LOG_LEVEL: 'info',
      CLAIM_IDLE_MS: '500',
      WORKER_READ_COUNT: '5',
      WORKER_BLOCK_MS: '50',
    }
    const batches = Array.from({ length: 60 }, () => makeEvents(1000))
    const ids = batches.flat().map((e) => e.event_id)
    const post = async (some: typeof batches) => {
      let accepted = 0
      for (const batch of some) {
        const res = await api.app.inject({ method: 'POST', url: '/events', payload: batch })
        assert.equal(res.statusCode, 202)
        accepted += res.json().inserted
      }
      return accepted
    }
    const queueStatus = async () =>
      (await api.app.inject({ method: 'GET', url: '/events/queue/status' })).json()

    // The first half is stored and acknowledged by the first worker.
    assert.equal(await post(batches.slice(0, 30)), 30_000)
    const first = spawnService('worker', workerEnv)
    workers.push(first)
    await waitFor(
      'the first half stored',
      () => db.count(),
      (n) => n >= 30_000,
      STARTUP_TIMEOUT_MS,
    )
    await waitFor('the first half acknowledged', queueStatus, (s) => s.shared.pending === 0)
    // The second half finds the events table locked: the worker reads entries
    // and waits inside its insert, holding them delivered but not
    // acknowledged, and is killed there, whatever the machine's speed.
    const lock = await db.pool.connect()
    try {
      await lock.query('BEGIN')
      await lock.query('LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE')
      assert.equal(await post(batches.slice(30)), 30_000)
      await waitFor('the worker to hold entries', queueStatus, (s) => s.shared.pending > 0)
      first.child.kill('SIGKILL')
      await first.exited
    } finally {
      await lock.query('ROLLBACK')
      lock.release()
    }
    assert.equal(await db.count(), 30_000)
    assert.ok(
      (await queueStatus()).shared.pending > 0,
      'the dead worker left entries delivered but not acknowledged',
    )

    const second = spawnService('worker', workerEnv)
    workers.push(second)
    await waitFor(
      'every accepted event stored',
      () => db.count(),
      (n) => n >= 60_000,
      STARTUP_TIMEOUT_MS,
      50,
    )
    const status = await waitFor(
      'the queue drained',
      queueStatus,
      (s) => s.shared.queued_events === 0 && s.shared.pending === 0,
    )
    assert.deepEqual(
      [status.queued_events, status.dead_lettered, status.shared.dead_lettered],
      [0, 0, 0],
    )
    const { rows } = await db.pool.query(
      'SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS d, count(*) FILTER (WHERE event_id = ANY($1::uuid[]))::int AS ours FROM events',
      [ids],
    )
    assert.deepEqual(rows[0], { n: 60_000, d: 60_000, ours: 60_000 })
    assert.match(
      second.output(),
      /claimed stale entries/,
      "the new worker took over the dead one's pending entries",
    )
  })
})
