import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { generateKey, hashKey } from '../../src/auth/api-keys.ts'
import { bodyDigest } from '../../src/events/idempotency.ts'
import { validateBatch } from '../../src/events/validate-batch.ts'
import { queueKeys } from '../../src/queue/redis-stream-queue.ts'
import { activity } from '../helpers/activity.ts'
import {
  type ServerTestApp,
  startServerTestApp,
  startTestApp,
  type TestApp,
} from '../helpers/app.ts'
import { legacyRows } from '../helpers/copy-rows.ts'
import { createDatabaseAt, type OldDatabase } from '../helpers/database-at.ts'
import { makeEvent, makeEvents, waitFor } from '../helpers/events.ts'
import { PausableWorker, waitStored } from '../helpers/projects.ts'
import { skipUnless, TEST_REDIS_URL } from '../helpers/services.ts'
import type { ReferenceEvent } from '../stats/reference.ts'
import { referenceAnswer, type StatsQuery, statsUrl } from './references.ts'

// A database an older release left: migrated up to 004 (no projects), filled
// the way that release wrote (events keyed by event_id alone, a key and an
// Idempotency-Key of no project). The app started on it migrates it and must
// answer every /stats route exactly as the reference over those events, all
// in 'default', and go on from there.

const OLD_EVENTS: ReferenceEvent[] = [
  ...activity('2026-01-05', 45),
  ...Array.from({ length: 30 }, (_, i) => ({
    event_id: `00000000-0000-4000-9000-${String(i).padStart(12, '0')}`,
    occurred_at: `2026-01-${String(5 + (i % 20)).padStart(2, '0')}T23:59:59.5+02:00`,
    user_id: `user-${i % 7}`,
    event_type: i % 3 === 0 ? 'Buy' : 'buy',
    properties: { plan: i % 2 ? 'pro' : 'free', cart: { items: i % 4 } },
  })),
]
// Sent again with other content later: the old primary key kept the first.
const OLD_RESENDS = OLD_EVENTS.slice(0, 5).map((e) => ({
  ...e,
  event_type: 'resent',
  user_id: 'nobody',
}))

const q = (over: Partial<StatsQuery> & Pick<StatsQuery, 'route'>): StatsQuery => ({
  from: '2026-01-01',
  to: '2026-02-20',
  windows: 4,
  limit: 10,
  by: ['country'],
  segment: [],
  ...over,
})
const QUERIES: StatsQuery[] = [
  q({ route: 'dau' }),
  q({ route: 'dau', segment: [{ field: ['country'], op: 'eq', values: ['UA'] }] }),
  q({ route: 'top-events' }),
  q({
    route: 'top-events',
    limit: 3,
    segment: [{ field: 'event_type', op: 'in', values: ['click', 'search', 'Buy'] }],
  }),
  q({ route: 'retention', from: '2026-01-05', windows: 5 }),
  q({
    route: 'retention',
    from: '2026-01-12',
    windows: 3,
    segment: [{ field: ['country'], op: 'ne', values: ['PL'] }],
  }),
  q({ route: 'retention-day', from: '2026-01-05', windows: 10 }),
  q({ route: 'retention-day', from: '2026-01-20', windows: 5 }),
  q({ route: 'breakdown', by: ['country'], limit: 2 }),
  q({ route: 'breakdown', by: ['cart', 'items'], limit: 3 }),
  q({
    route: 'breakdown',
    by: 'event_type',
    segment: [{ field: ['plan'], op: 'exists', values: [] }],
  }),
  q({ route: 'range' }),
  q({ route: 'cohorts', from: '2026-01-05', to: '2026-02-15' }),
  q({
    route: 'cohorts',
    from: '2026-01-05',
    to: '2026-02-15',
    segment: [{ field: 'event_type', op: 'eq', values: ['page_view'] }],
  }),
]

describe('upgrading a database of release 004 (no projects) to projects', {
  skip: await skipUnless('postgres', 'redis'),
}, () => {
  let old: OldDatabase
  let t: TestApp
  const oldKey = generateKey()
  let oldKeyId = ''
  const replayBody = [makeEvent({ occurred_at: '2026-01-10T10:00:00Z' })]
  const replayAnswer = { total_received: 1, inserted: 1, duplicates: 0, message: 'events stored' }
  const posted: ReferenceEvent[] = [...OLD_EVENTS]

  before(async () => {
    old = await createDatabaseAt(4)
    const columns = async (table: string) =>
      (
        await old.pool.query<{ column_name: string }>(
          'SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY column_name',
          [table],
        )
      ).rows.map((r) => r.column_name)
    assert.ok(!(await columns('events')).includes('project_id'), 'a database from before projects')
    const insert = (events: ReferenceEvent[]) =>
      old.pool.query(
        `INSERT INTO events (event_id, occurred_at, user_id, event_type, properties)
         SELECT event_id, occurred_at, user_id, event_type, coalesce(properties, '{}')
         FROM jsonb_to_recordset($1::jsonb)
           AS x(event_id uuid, occurred_at timestamptz, user_id text, event_type text, properties jsonb)
         ON CONFLICT (event_id) DO NOTHING`,
        [JSON.stringify(events)],
      )
    await insert(OLD_EVENTS)
    await insert(OLD_RESENDS)
    const { rows } = await old.pool.query<{ id: string }>(
      `INSERT INTO api_keys (name, scope, key_hash, key_prefix) VALUES ('old', 'admin', $1, $2) RETURNING id::text`,
      [hashKey(oldKey), oldKey.slice(0, 12)],
    )
    oldKeyId = rows[0]!.id
    // An answer the old release kept for an Idempotency-Key, and the event it stored.
    await insert(replayBody)
    posted.push(...replayBody)
    await old.pool.query(
      `INSERT INTO idempotency_keys (owner, key, body_sha256, status, response) VALUES ($1, 'old-batch', $2, 201, $3)`,
      [oldKeyId, bodyDigest(replayBody), JSON.stringify(replayAnswer)],
    )
    t = await startTestApp({ databaseUrl: old.url, queue: true, worker: true })
    await t.deps.analytics!.catchUp()
  })
  after(async () => {
    await t?.close()
    await old?.drop()
  })

  const auth = { authorization: `Bearer ${oldKey}` }
  const get = (url: string) => t.app.inject({ method: 'GET', url, headers: auth })

  test('the migration puts everything in default: events, the key, the Idempotency-Key', async () => {
    const { rows: applied } = await old.pool.query<{ name: string }>(
      'SELECT name FROM pgmigrations ORDER BY id',
    )
    assert.deepEqual(
      applied.map((r) => r.name),
      [
        '001_events',
        '002_store_identity',
        '003_api_keys',
        '004_idempotency_keys',
        '005_projects',
        '006_sdk_intake',
        '007_web_intake',
        '008_deletions',
        '009_store_origin',
        '010_retention',
        '011_events_partitioned',
      ],
    )
    assert.deepEqual(
      (await t.deps.projects.list()).map((p) => [p.id, p.name]),
      [[1, 'default']],
    )
    const { rows } = await old.pool.query<{ project_id: number; n: number }>(
      'SELECT project_id, count(*)::int AS n FROM events GROUP BY project_id',
    )
    assert.deepEqual(rows, [{ project_id: 1, n: OLD_EVENTS.length + 1 }])
    assert.deepEqual(
      (await t.deps.apiKeys.list()).map((k) => [k.id, k.project_id]),
      [[oldKeyId, 1]],
    )
    const projects = await get('/projects')
    assert.deepEqual(
      projects.json().map((p: { name: string }) => p.name),
      ['default'],
    )
    assert.equal((await get('/stats/range?project=other')).statusCode, 403, 'a key of default now')
  })

  test('every /stats route answers exactly as the reference over the old events', async () => {
    for (const query of QUERIES) {
      const expected = referenceAnswer(posted, query)
      for (const url of [statsUrl(query), statsUrl(query, 'default')]) {
        const res = await get(url)
        assert.equal(res.statusCode, 200, `${url}: ${res.body}`)
        assert.deepEqual(res.json(), expected, decodeURIComponent(url))
      }
    }
  })

  test('and it goes on: a resend of an old event is a duplicate, a new one is added, the old Idempotency-Key replays', async () => {
    const replay = await t.app.inject({
      method: 'POST',
      url: '/events',
      payload: replayBody,
      headers: { ...auth, 'idempotency-key': 'old-batch' },
    })
    assert.equal(replay.statusCode, 201)
    assert.equal(replay.headers['idempotent-replayed'], 'true')
    assert.deepEqual(replay.json(), replayAnswer)

    const fresh = makeEvent({ occurred_at: '2026-02-01T10:00:00Z', user_id: 'user-3' })
    const res = await t.app.inject({
      method: 'POST',
      url: '/events',
      payload: [OLD_EVENTS[0]!, OLD_RESENDS[1]!, fresh],
      headers: auth,
    })
    assert.equal(res.statusCode, 202)
    assert.deepEqual(
      { inserted: res.json().inserted, duplicates: res.json().duplicates },
      { inserted: 1, duplicates: 2 },
    )
    posted.push(OLD_EVENTS[0]!, OLD_RESENDS[1]!, fresh)
    await waitFor(
      'the new event stored',
      () => t.count(),
      (n) => n === OLD_EVENTS.length + 2,
    )
    await t.deps.analytics!.catchUp()
    for (const query of QUERIES) {
      const res = await get(statsUrl(query))
      assert.deepEqual(res.json(), referenceAnswer(posted, query), statsUrl(query))
    }
  })
})

const LIMITS = { maxBatchSize: 1000, maxPropertiesBytes: 16384, maxFutureSkewMs: 86_400_000 }

describe('upgrading with events still queued by the release before projects', {
  skip: await skipUnless('postgres', 'redis'),
}, () => {
  let t: ServerTestApp
  let worker: PausableWorker
  const redis = new Redis(TEST_REDIS_URL)
  const status = async () =>
    (await t.app.inject({ method: 'GET', url: '/events/queue/status' })).json()

  before(async () => {
    t = await startServerTestApp({ queue: true, worker: false, env: { WORKER_BLOCK_MS: '20' } })
    worker = new PausableWorker(t)
  })
  after(async () => {
    redis.disconnect()
    await worker?.stop()
    await t?.close()
  })

  test("an old entry (no project) is stored in default, and default's queued count stays right after it", {}, async () => {
    // As the old ENQUEUE wrote it: the event count and five-field COPY rows, no 'p'.
    const events = [
      makeEvent({ occurred_at: '2026-01-07T10:00:00Z', user_id: 'old-1' }),
      makeEvent({ occurred_at: '2026-01-08T10:00:00Z', user_id: 'old-2' }),
      makeEvent({ occurred_at: '2026-01-08T11:00:00Z', user_id: 'old-1', event_type: 'buy' }),
    ]
    const rows = legacyRows(validateBatch(events, LIMITS))
    const { stream, counter } = queueKeys(t.env.REDIS_KEY_PREFIX!)
    await redis
      .multi()
      .incrby(counter, events.length)
      .xadd(stream, '*', 'n', String(events.length), 'rid', 'old', 'rows', rows)
      .exec()
    worker.start()
    await waitStored(t, { 1: 3 })
    await waitFor(
      'the old entry acknowledged',
      status,
      (s) => s.shared === undefined || s.shared.length === 0,
    )
    await t.deps.analytics!.catchUp()
    const dau = await t.app.inject('/stats/dau?from=2026-01-07&to=2026-01-08')
    assert.deepEqual(
      dau.json(),
      referenceAnswer(events, {
        route: 'dau',
        from: '2026-01-07',
        to: '2026-01-08',
        windows: 1,
        limit: 1,
        by: 'event_type',
        segment: [],
      }),
    )

    // Now two new requests wait for the worker: default's figure must say so.
    await worker.stop()
    for (const n of [2, 2]) {
      const res = await t.app.inject({ method: 'POST', url: '/events', payload: makeEvents(n) })
      assert.equal(res.statusCode, 202)
    }
    const s = await status()
    assert.deepEqual(
      { queued: s.queued_events, shared: s.shared.queued_events },
      { queued: 4, shared: 4 },
      "default's queued events are the whole queue's here",
    )
  })
})
