import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type ServiceProcess, spawnService, untilHealthy } from '../helpers/child.ts'
import { makeEvents, waitFor } from '../helpers/events.ts'
import { freePort } from '../helpers/services.ts'

// `npm start` with nothing configured: the embedded store and replica in DATA_DIR.
describe('embedded mode, as a real process', () => {
  let dataDir: string
  let port: number
  const children: ServiceProcess[] = []
  const start = () => {
    const child = spawnService('all', { DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'info' })
    children.push(child)
    return child
  }
  const url = (path: string) => `http://127.0.0.1:${port}${path}`
  const healthy = (child: ServiceProcess) => untilHealthy(port, child)

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'ea-embedded-process-'))
    port = await freePort()
  })
  after(() => {
    for (const c of children) c.child.kill('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  })

  test('keeps every event and the same stats across a SIGTERM and a restart; a second process on the same DATA_DIR refuses', async () => {
    const first = start()
    await healthy(first)

    const second = spawnService('all', {
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      LOG_LEVEL: 'info',
    })
    children.push(second)
    assert.equal(await second.exited, 1)
    assert.match(second.output(), /DATA_DIR .* is in use by another event-analytics process/)

    const events = makeEvents(300, { occurred_at: '2026-11-20T10:00:00Z' })
    const res = await fetch(url('/events'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(events),
    })
    assert.equal(res.status, 201)
    const statsUrl = url('/stats/top-events?from=2026-11-20&to=2026-11-20')
    const before = await waitFor(
      'stats to show the events',
      () => fetch(statsUrl).then((r) => r.json() as Promise<Array<{ count: number }>>),
      (rows) => rows[0]?.count === 300,
    )

    first.child.kill('SIGTERM')
    assert.equal(await first.exited, 0, first.output())

    await healthy(start())
    assert.deepEqual(await (await fetch(statsUrl)).json(), before)
    const again = await fetch(url('/events'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(events),
    })
    assert.deepEqual(await again.json(), {
      total_received: 300,
      inserted: 0,
      duplicates: 300,
      message: 'events stored',
    })
  })

  test('restarts at once after a SIGKILL: a lock whose owner is dead is taken over', async () => {
    // The process the test above left running, on the same DATA_DIR.
    const running = children.at(-1)!
    running.child.kill('SIGKILL')
    await running.exited
    const next = start()
    // Fails at once, with the child's output, if the restart exits instead.
    await healthy(next)
    assert.doesNotMatch(next.output(), /in use by another/)
  })
})
