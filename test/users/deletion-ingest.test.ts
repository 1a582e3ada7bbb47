import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { EventInput } from '../../src/events/event-schema.ts'
import { startServerTestApp, startTestApp, type TestApp } from '../helpers/app.ts'
import { makeEvent, waitFor } from '../helpers/events.ts'
import { skipUnless } from '../helpers/services.ts'
import { referenceDau, referenceRetention, referenceTopEvents } from '../stats/reference.ts'

// A deletion requested while that user's events keep arriving, among
// everybody else's: afterwards the store holds every other user's events
// exactly once and none of the deleted user's, whether they were stored,
// queued or in flight when it was asked, and the replica answers as the
// reference over what should remain.

const MODES = [
  { name: 'embedded (PGlite + DuckDB)', server: false, skip: false as const },
  {
    name: 'server (PostgreSQL + Redis queue + worker)',
    server: true,
    skip: await skipUnless('postgres', 'redis'),
  },
]

const BATCHES = 40
const PER_BATCH = 50
const DELETE_AFTER = 12

function batch(b: number): EventInput[] {
  return Array.from({ length: PER_BATCH }, (_, i) =>
    makeEvent({
      // one in five is the victim's
      user_id: i % 5 === 0 ? 'victim' : `user-${(b * 7 + i) % 31}`,
      event_type: ['view', 'click', 'buy'][(b + i) % 3]!,
      occurred_at: `2026-11-${String(2 + ((b + i) % 14)).padStart(2, '0')}T10:${String(i % 60).padStart(2, '0')}:00.000Z`,
    }),
  )
}

for (const mode of MODES) {
  describe(`deleting a user while its events keep arriving, ${mode.name}`, {
    skip: mode.skip,
  }, () => {
    let t: TestApp
    before(async () => {
      const options = { queue: mode.server, worker: true, env: { WORKER_BLOCK_MS: '20' } }
      t = mode.server ? await startServerTestApp(options) : await startTestApp(options)
    })
    after(async () => {
      await t?.close()
    })

    test('every other event once, none of the deleted id; stats as the reference', async () => {
      const sent: EventInput[] = []
      let deletionId = ''
      let suppressed = 0
      for (let b = 0; b < BATCHES; b++) {
        const events = batch(b)
        const res = await t.app.inject({ method: 'POST', url: '/events', payload: events })
        assert.ok(res.statusCode === 201 || res.statusCode === 202, res.body)
        suppressed += res.json().suppressed ?? 0
        sent.push(...events)
        if (b === DELETE_AFTER) {
          const del = await t.app.inject({ method: 'DELETE', url: '/users/victim' })
          assert.equal(del.statusCode, 202, del.body)
          deletionId = del.json().deletion_id
        }
      }
      // Every batch after the request had its victim events refused at intake.
      assert.equal(suppressed, (BATCHES - DELETE_AFTER - 1) * (PER_BATCH / 5))
      const kept = sent.filter((e) => e.user_id !== 'victim')
      await waitFor(
        'the deletion done and applied',
        async () => (await t.app.inject({ method: 'GET', url: `/deletions/${deletionId}` })).json(),
        (d) => d.state === 'done' && d.replica_events !== null,
      )
      await waitFor(
        'every other event stored',
        () => t.count(),
        (n) => n === kept.length,
      )
      const { rows } = await t.deps.db.query<{ event_id: string; user_id: string }>(
        'SELECT event_id::text, user_id FROM events ORDER BY event_id',
      )
      assert.deepEqual(
        rows,
        kept
          .map((e) => ({ event_id: e.event_id, user_id: e.user_id }))
          .sort((a, b) => (a.event_id < b.event_id ? -1 : 1)),
      )
      await t.deps.analytics!.catchUp()
      const [replica] = await t.deps.analytics!.replica.query<{ n: bigint }>(
        'SELECT count(*) AS n FROM events',
      )
      assert.equal(Number(replica!.n), kept.length)
      const answers = {
        '/stats/dau?from=2026-11-01&to=2026-11-20': referenceDau(kept, '2026-11-01', '2026-11-20'),
        '/stats/top-events?from=2026-11-01&to=2026-11-20&limit=10': referenceTopEvents(
          kept,
          '2026-11-01',
          '2026-11-20',
          10,
        ),
        '/stats/retention?start_date=2026-11-02&windows=1': referenceRetention(
          kept,
          '2026-11-02',
          1,
        ),
      }
      for (const fold of [false, true]) {
        if (fold) await t.deps.analytics!.fold()
        for (const [url, expected] of Object.entries(answers)) {
          const res = await t.app.inject({ method: 'GET', url })
          assert.equal(res.statusCode, 200, res.body)
          assert.deepEqual(res.json(), expected, `${url}${fold ? ' (folded)' : ''}`)
        }
      }
    })
  })
}
