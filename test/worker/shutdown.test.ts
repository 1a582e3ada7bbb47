import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { deleteKeys, startTestApp, uniquePrefix } from '../helpers/app.ts'
import { type ServiceProcess, spawnService, untilHealthy } from '../helpers/child.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { makeEvents, waitFor } from '../helpers/events.ts'
import { freePort, skipUnless, TEST_REDIS_URL } from '../helpers/services.ts'

describe('SIGTERM during ingestion', { skip: await skipUnless('postgres', 'redis') }, () => {
  let db: TestDatabase
  const prefix = uniquePrefix()
  const children: ServiceProcess[] = []
  before(async () => {
    db = await createTestDatabase()
  })
  after(async () => {
    for (const c of children) c.child.kill('SIGKILL')
    await deleteKeys(prefix)
    await db?.drop()
  })

  test("loses nothing: every accepted event is stored once, and request ids reach the worker's log", async () => {
    const port = await freePort()
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      PORT: String(port),
      LOG_LEVEL: 'info',
      RATE_LIMIT_REQUESTS: '1000000',
      WORKER_BLOCK_MS: '50',
      DUCKDB_PATH: ':memory:',
    }
    const service = spawnService('all', env)
    children.push(service)
    await untilHealthy(port, service)

    const accepted: string[] = []
    let sent = 0
    let stopSending = false
    const client = async (n: number) => {
      while (!stopSending) {
        const events = makeEvents(500)
        const requestId = `shutdown-${n}-${sent++}`
        try {
          const res = await fetch(`http://127.0.0.1:${port}/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-request-id': requestId },
            body: JSON.stringify(events),
          })
          await res.arrayBuffer()
          // Only a 202 is a promise; a 503 while closing is an honest refusal.
          if (res.status === 202) accepted.push(...events.map((e) => e.event_id))
          else assert.equal(res.status, 503)
        } catch {
          return // the server has closed its socket
        }
      }
    }
    const clients = [client(1), client(2), client(3)]
    await waitFor(
      'some batches accepted',
      async () => accepted.length,
      (n) => n >= 5_000,
      60_000,
      5,
    )
    service.child.kill('SIGTERM')
    assert.equal(await service.exited, 0, 'a clean exit after SIGTERM')
    stopSending = true
    await Promise.all(clients)

    // A new process drains whatever the old one handed back.
    const api = await startTestApp({
      databaseUrl: db.url,
      queue: true,
      worker: true,
      env: { REDIS_KEY_PREFIX: prefix, CLAIM_IDLE_MS: '200' },
    })
    try {
      await waitFor(
        'the queue drained',
        async () => (await api.app.inject('/events/queue/status')).json(),
        (s) => s.shared.queued_events === 0 && s.shared.pending === 0,
      )
      const { rows } = await db.pool.query(
        'SELECT count(*)::int AS ours, count(DISTINCT event_id)::int AS distinct_ids FROM events WHERE event_id = ANY($1::uuid[])',
        [accepted],
      )
      assert.deepEqual(rows[0], { ours: accepted.length, distinct_ids: accepted.length })
    } finally {
      await api.close()
    }
    assert.match(
      service.output(),
      /"request_id":"shutdown-[^"]*","method":"POST","route":"\/events","status":202,"durationMs":[\d.]+,"events":500/,
      'one line per request with its id, route, status, duration and events',
    )
    assert.match(
      service.output(),
      /"requestIds":\["shutdown-/,
      'the worker logs the request ids of what it stored',
    )
    assert.match(service.output(), /"msg":"shutdown complete"/)
  })
})
