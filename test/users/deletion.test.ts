import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { IdentityStore } from '../../src/compat/identity-store.ts'
import type { EventInput } from '../../src/events/event-schema.ts'
import { copyBinary } from '../../src/store/copy-batch.ts'
import { startServerTestApp, startTestApp, type TestApp } from '../helpers/app.ts'
import { makeEvent, waitFor } from '../helpers/events.ts'

/** makeEvent's event as validation leaves it (properties always an object). */
function normalized(over: Partial<EventInput>) {
  const e = makeEvent(over)
  return { ...e, properties: e.properties ?? {} }
}

import { skipUnless } from '../helpers/services.ts'
import { referenceDau, referenceRetention, referenceTopEvents } from '../stats/reference.ts'

// Deleting a user: every event of the person (the id and the id merged into
// it) leaves PostgreSQL and the replica, every figure afterwards is the
// reference computed without them, new events of those ids are refused and
// counted until the suppression is lifted, and the audit records it all
// without event data.

const MODES = [
  { name: 'embedded (PGlite + DuckDB)', server: false, skip: false as const, status: 201 },
  {
    name: 'server (PostgreSQL + Redis queue + worker)',
    server: true,
    skip: await skipUnless('postgres', 'redis'),
    status: 202,
  },
]

const DAYS = ['2026-11-02', '2026-11-03', '2026-11-04', '2026-11-09', '2026-11-10', '2026-11-17']
const TYPES = ['page_view', 'signup', 'purchase']

/** A fixed set: six users over six days, alice and her anonymous id among them. */
function fixture(): EventInput[] {
  const users = ['alice', 'anon-a', 'bob', 'carol', 'dave', 'erin']
  const events: EventInput[] = []
  let n = 0
  for (const [d, day] of DAYS.entries())
    for (const [u, user] of users.entries()) {
      if ((d + u) % 3 === 2) continue
      for (let k = 0; k <= (u + d) % 3; k++)
        events.push(
          makeEvent({
            user_id: user,
            event_type: TYPES[(n++ + u) % TYPES.length]!,
            occurred_at: `${day}T${String(8 + k).padStart(2, '0')}:00:00.000Z`,
            properties: { plan: u % 2 === 0 ? 'pro' : 'free', n: k },
          }),
        )
    }
  return events
}

const STATS = [
  '/stats/dau?from=2026-11-01&to=2026-11-20',
  '/stats/top-events?from=2026-11-01&to=2026-11-20&limit=10',
  '/stats/retention?start_date=2026-11-02&windows=2',
]
function reference(events: EventInput[], url: string): unknown {
  if (url.startsWith('/stats/dau')) return referenceDau(events, '2026-11-01', '2026-11-20')
  if (url.startsWith('/stats/top-events'))
    return referenceTopEvents(events, '2026-11-01', '2026-11-20', 10)
  return referenceRetention(events, '2026-11-02', 2)
}

for (const mode of MODES) {
  describe(`deleting a user, ${mode.name}`, { skip: mode.skip }, () => {
    let t: TestApp
    const events = fixture()
    const deletedIds = new Set(['alice', 'anon-a'])
    const kept = events.filter((e) => !deletedIds.has(e.user_id))
    const post = (url: string, payload: object) => t.app.inject({ method: 'POST', url, payload })
    const storedOf = async (ids: string[]) =>
      (
        await t.deps.db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM events WHERE user_id = ANY($1::text[])',
          [ids],
        )
      ).rows[0]!.n
    let deletionId = ''

    before(async () => {
      const options = { queue: mode.server, worker: true }
      t = mode.server ? await startServerTestApp(options) : await startTestApp(options)
      // anon-a is merged into alice (Segment's identify).
      await new IdentityStore(t.deps.db).add(1, [
        {
          message_id: randomUUID(),
          kind: 'identify',
          source: 'segment',
          user_id: 'alice',
          anonymous_id: 'anon-a',
          traits: { plan: 'pro' },
          traits_once: {},
          occurred_at: '2026-11-02T07:00:00.000Z',
        },
      ])
      assert.equal((await post('/events', events)).statusCode, mode.status)
      await waitFor(
        'stored',
        () => t.count(),
        (n) => n === events.length,
      )
      await t.deps.analytics!.catchUp()
      const profile = await t.app.inject({ method: 'GET', url: '/users/anon-a' })
      assert.deepEqual(profile.json().ids, ['alice', 'anon-a'])
    })
    after(async () => {
      await t?.close()
    })

    test('DELETE /users/{id} answers 202 with the deletion, covering the merged id', async () => {
      const res = await t.app.inject({ method: 'DELETE', url: '/users/anon-a' })
      assert.equal(res.statusCode, 202, res.body)
      const body = res.json()
      deletionId = body.deletion_id
      assert.equal(body.user_id, 'anon-a')
      assert.deepEqual(body.ids, ['alice', 'anon-a'])
      assert.equal(body.requested_by, 'open')
    })

    test('the store and the replica end without the person, every other event once', async () => {
      const done = await waitFor(
        'deletion applied',
        async () => (await t.app.inject({ method: 'GET', url: `/deletions/${deletionId}` })).json(),
        (d) => d.state === 'done' && d.replica_events !== null,
      )
      const removed = events.length - kept.length
      assert.equal(done.store_events, removed)
      assert.equal(done.replica_events, removed)
      assert.equal(done.identity_messages, 1)
      assert.equal(await storedOf(['alice', 'anon-a']), 0)
      const { rows } = await t.deps.db.query<{ event_id: string; n: number }>(
        'SELECT event_id::text, count(*)::int AS n FROM events GROUP BY event_id ORDER BY event_id',
      )
      assert.deepEqual(
        rows,
        kept
          .map((e) => ({ event_id: e.event_id, n: 1 }))
          .sort((a, b) => (a.event_id < b.event_id ? -1 : 1)),
      )
      await t.deps.analytics!.catchUp()
      const [replica] = await t.deps.analytics!.replica.query<{ n: bigint }>(
        'SELECT count(*) AS n FROM events',
      )
      assert.equal(Number(replica!.n), kept.length)
      for (const url of STATS) {
        const res = await t.app.inject({ method: 'GET', url })
        assert.equal(res.statusCode, 200, res.body)
        assert.deepEqual(res.json(), reference(kept, url), url)
      }
      // Folded into the bitmaps, the figures stay the reference's.
      await t.deps.analytics!.fold()
      for (const url of STATS)
        assert.deepEqual(
          (await t.app.inject({ method: 'GET', url })).json(),
          reference(kept, url),
          url,
        )
      const profile = await t.app.inject({ method: 'GET', url: '/users/alice' })
      assert.equal(profile.statusCode, 404, profile.body)
    })

    test('new events of the deleted ids are refused at intake and counted', async () => {
      const late = [
        makeEvent({ user_id: 'alice' }),
        makeEvent({ user_id: 'bob' }),
        makeEvent({ user_id: 'anon-a' }),
      ]
      const res = await post('/events', late)
      assert.equal(res.statusCode, mode.status, res.body)
      assert.equal(res.json().suppressed, 2)
      assert.equal(res.json().inserted, 1)
      assert.equal(res.json().duplicates, 0)
      await waitFor(
        'bob stored',
        () => t.count(),
        (n) => n === kept.length + 1,
      )
      assert.equal(await storedOf(['alice', 'anon-a']), 0)
      const metrics = await t.app.inject({ method: 'GET', url: '/metrics' })
      assert.match(metrics.body, /^ea_events_suppressed_total 2$/m)
    })

    test('the writer refuses them too (a process whose cache has not seen it yet)', async () => {
      const direct = await t.deps.store.insert([
        { ...normalized({ user_id: 'alice' }), project_id: 1 },
      ])
      assert.equal(direct, 0)
      if (t.deps.store.copies) {
        // The worker's COPY, straight into events and through staging (with a stored id).
        const fresh = copyBinary([normalized({ user_id: 'alice' })], 1)
        assert.equal(await t.deps.store.insertCopy(fresh), 0)
        const stored = (
          await t.deps.db.query<{ event_id: string }>('SELECT event_id::text FROM events LIMIT 1')
        ).rows[0]!
        const mixed = copyBinary(
          [
            normalized({ user_id: 'alice' }),
            normalized({ event_id: stored.event_id, user_id: 'bob' }),
          ],
          1,
        )
        assert.equal(await t.deps.store.insertCopy(mixed), 0)
      }
      assert.equal(await storedOf(['alice']), 0)
    })

    test('lifting a suppression lets the id in again; the audit holds no event data', async () => {
      const missing = await t.app.inject({ method: 'DELETE', url: '/suppressions/nobody' })
      assert.equal(missing.statusCode, 404, missing.body)
      const lifted = await t.app.inject({ method: 'DELETE', url: '/suppressions/alice' })
      assert.equal(lifted.statusCode, 200, lifted.body)
      assert.deepEqual(lifted.json(), { user_id: 'alice', lifted: true })
      const res = await post('/events', [
        makeEvent({ user_id: 'alice' }),
        makeEvent({ user_id: 'anon-a' }),
      ])
      assert.equal(res.json().inserted, 1)
      assert.equal(res.json().suppressed, 1)
      await waitFor(
        'alice stored',
        () => storedOf(['alice']),
        (n) => n === 1,
      )
      const audit = await t.deps.deletions.audit(1)
      assert.deepEqual(
        audit.map(({ action, actor, deletion_id, ids, events }) => ({
          action,
          actor,
          deletion_id,
          ids,
          events,
        })),
        [
          {
            action: 'deletion_requested',
            actor: 'open',
            deletion_id: deletionId,
            ids: ['alice', 'anon-a'],
            events: null,
          },
          {
            action: 'deletion_done',
            actor: 'deletion-runner',
            deletion_id: deletionId,
            ids: ['alice', 'anon-a'],
            events: events.length - kept.length,
          },
          {
            action: 'suppression_lifted',
            actor: 'open',
            deletion_id: deletionId,
            ids: ['alice'],
            events: null,
          },
        ],
      )
    })
    test('a rebuilt replica answers as PostgreSQL holds: the deleted events never, those after the lift once', async () => {
      const { rows } = await t.deps.db.query<{
        event_id: string
        occurred_at: Date
        user_id: string
        event_type: string
      }>('SELECT event_id::text, occurred_at, user_id, event_type FROM events')
      const stored = rows.map((r) => ({ ...r, occurred_at: r.occurred_at.toISOString() }))
      assert.equal(stored.length, kept.length + 2) // bob's late event and alice's after the lift
      const check = async (when: string) => {
        for (const url of STATS) {
          const res = await t.app.inject({ method: 'GET', url })
          assert.deepEqual(res.json(), reference(stored, url), `${url} (${when})`)
        }
      }
      await t.deps.analytics!.catchUp()
      await check('live')
      await t.deps.analytics!.reset()
      await t.deps.analytics!.catchUp()
      await check('rebuilt')
      const [replica] = await t.deps.analytics!.replica.query<{ n: bigint }>(
        'SELECT count(*) AS n FROM events',
      )
      assert.equal(Number(replica!.n), stored.length)
    })
  })
}
