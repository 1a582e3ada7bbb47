import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startServerTestApp, type TestApp } from '../helpers/app.ts'
import { makeEvent, waitFor } from '../helpers/events.ts'
import { PausableWorker } from '../helpers/projects.ts'
import { skipUnless } from '../helpers/services.ts'

// Events of the user still in the Redis queue when the deletion is asked for
// (accepted with 202 before it, not yet stored): the worker's insert checks
// the suppressions itself, so none of them is stored once it drains the queue.

describe('a deletion with events of the user still queued', {
  skip: await skipUnless('postgres', 'redis'),
}, () => {
  let t: TestApp
  let worker: PausableWorker
  before(async () => {
    t = await startServerTestApp({ queue: true, worker: false, env: { WORKER_BLOCK_MS: '20' } })
    worker = new PausableWorker(t)
  })
  after(async () => {
    await worker?.stop()
    await t?.close()
  })

  test('the worker stores the others and none of the queued events of the deleted id', async () => {
    const queued = Array.from({ length: 30 }, (_, i) =>
      makeEvent({ user_id: i % 3 === 0 ? 'queued-victim' : `other-${i}` }),
    )
    const res = await t.app.inject({ method: 'POST', url: '/events', payload: queued })
    assert.equal(res.statusCode, 202, res.body)
    assert.equal(res.json().inserted, 30)
    assert.equal(await t.count(), 0)
    const del = await t.app.inject({ method: 'DELETE', url: '/users/queued-victim' })
    assert.equal(del.statusCode, 202, del.body)
    worker.start()
    // One request is one queue entry, stored in one transaction: once the others are there, it is done.
    await waitFor(
      'the others stored',
      () => t.count(),
      (n) => n === 20,
    )
    const { rows } = await t.deps.db.query<{ user_id: string }>(
      "SELECT user_id FROM events WHERE user_id = 'queued-victim'",
    )
    assert.deepEqual(rows, [])
    const done = await waitFor(
      'the deletion done',
      async () =>
        (await t.app.inject({ method: 'GET', url: `/deletions/${del.json().deletion_id}` })).json(),
      (d) => d.state === 'done',
    )
    assert.equal(done.store_events, 0)
  })
})
