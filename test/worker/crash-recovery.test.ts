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
    let accepted = 0
    for (const batch of batches) {
      const res = await api.app.inject({ method: 'POST', url: '/events', payload: batch })
      assert.equal(res.statusCode, 202)
      accepted += res.json().inserted
    }
    assert.equal(accepted, 60_000)

    // Started on the whole backlog, so that it cannot have stored it all while this
    // process (slowed down, say) was still posting.
    const first = spawnService('worker', workerEnv)
    workers.push(first)
    // Kill it once it is part-way through: some rows stored, entries still pending.
    await waitFor(
      'the first worker to store some rows',
      () => db.count(),
      (n) => n > 0,
      STARTUP_TIMEOUT_MS,
      5,
    )
    first.child.kill('SIGKILL')
    await first.exited
    const stranded = await db.count()
    assert.ok(stranded < 60_000, `the worker was killed before finishing (${stranded} stored)`)
    const atKill = (await api.app.inject({ method: 'GET', url: '/events/queue/status' })).json()
    assert.ok(atKill.pending > 0, 'the dead worker left entries delivered but not acknowledged')

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
      async () => (await api.app.inject({ method: 'GET', url: '/events/queue/status' })).json(),
      (s) => s.queued_events === 0 && s.pending === 0,
    )
    assert.equal(status.dead_lettered, 0)
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
