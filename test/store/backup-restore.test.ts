import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import { getOk, startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { makeEvent, waitFor } from '../helpers/events.ts'
import { skipUnless } from '../helpers/services.ts'
import {
  postgresBin,
  startThrowawayCluster,
  type ThrowawayCluster,
} from '../helpers/throwaway-cluster.ts'

// The backup procedures the README gives: pg_dump of a running server,
// restored into a new cluster, the service pointed at it; embedded, a copy of
// a stopped DATA_DIR. Each ends with the replica holding every event once.

const RANGE = 'from=2026-11-01&to=2026-11-03'
const STATS = [
  `/stats/dau?${RANGE}`,
  `/stats/top-events?${RANGE}&limit=100`,
  `/stats/breakdown?${RANGE}&by=properties.plan`,
]

function batch(n: number, offset: number) {
  return Array.from({ length: n }, (_, i) =>
    makeEvent({
      occurred_at: `2026-11-0${1 + ((offset + i) % 3)}T10:00:00.000Z`,
      user_id: `u-${(offset + i) % 23}`,
      event_type: ['view', 'click', 'buy'][(offset + i) % 3]!,
      properties: { plan: ['free', 'pro'][(offset + i) % 2] },
    }),
  )
}

async function ingest(t: TestApp, events: unknown[], status: number): Promise<void> {
  for (let i = 0; i < events.length; i += 50) {
    const res = await t.app.inject({
      method: 'POST',
      url: '/events',
      payload: { events: events.slice(i, i + 50) },
    })
    assert.equal(res.statusCode, status, res.body)
  }
}

/** The replica's events of the default project: how many, and how many distinct store rows. */
async function replicaRows(t: TestApp): Promise<{ rows: number; distinct: number }> {
  const replica = await t.deps.analytics!.replicaOf(1)
  const [r] = await replica.query<{ rows: bigint; distinct: bigint }>(
    'SELECT count(*) AS rows, count(DISTINCT seq) AS distinct FROM events',
  )
  return { rows: Number(r!.rows), distinct: Number(r!.distinct) }
}

async function statsOf(t: TestApp): Promise<unknown[]> {
  await t.deps.analytics!.catchUp()
  return Promise.all(STATS.map((url) => getOk(t.app, url)))
}

describe('pg_dump of a running server, restored into a new cluster', {
  skip: (await skipUnless('postgres')) || (postgresBin() ? false : 'no PostgreSQL binaries'),
}, () => {
  let dir: string
  let source: TestDatabase
  let original: TestApp
  let cluster: ThrowawayCluster
  let restoredUrl: string
  let originalStats: unknown[]

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ea-restore-'))
    source = await createTestDatabase()
    // The replica in a file: the restored service starts on it, as a host keeping its DATA_DIR would.
    original = await startTestApp({
      databaseUrl: source.url,
      queue: false,
      env: { DUCKDB_PATH: join(dir, 'analytics.duckdb') },
    })
    await ingest(original, batch(300, 0), 201)
    // A user deleted before the dump: the restored deletion must not wait on the old cluster's transaction ids either.
    await ingest(
      original,
      [makeEvent({ user_id: 'gone', occurred_at: '2026-11-02T09:00:00.000Z' })],
      201,
    )
    await original.deps.analytics!.catchUp()
    const deletion = await original.app.inject({ method: 'DELETE', url: '/users/gone' })
    assert.equal(deletion.statusCode, 202, deletion.body)
    const id = deletion.json().deletion_id
    await waitFor(
      'the deletion applied',
      async () => (await original.app.inject({ url: `/deletions/${id}` })).json(),
      (d) => d.state === 'done' && d.replica_events === 1,
    )
    originalStats = await statsOf(original)
    assert.deepEqual(await replicaRows(original), { rows: 300, distinct: 300 })
    cluster = await startThrowawayCluster()
  })
  after(async () => {
    await original?.close().catch(() => {})
    cluster?.stop()
    await source?.drop()
    rmSync(dir, { recursive: true, force: true })
  })

  test('the service on the restored database: every event in the replica once, the same stats, and new events too', async () => {
    // Dumped while the service runs, as the README says.
    const dump = join(dir, 'events.dump')
    execFileSync('pg_dump', ['--format=custom', '--file', dump, '--dbname', source.url])
    await original.close()

    const admin = new pg.Client({ connectionString: cluster.url })
    await admin.connect()
    await admin.query('CREATE DATABASE restored')
    await admin.end()
    restoredUrl = cluster.database('restored')
    execFileSync('pg_restore', ['--no-owner', '--exit-on-error', '--dbname', restoredUrl, dump])

    // What makes this a test of the defect: the restored rows name transactions
    // the new cluster has not reached, which its sync horizon would hold back.
    const probe = new pg.Client({ connectionString: restoredUrl })
    await probe.connect()
    const ahead = async () =>
      (
        await probe.query<{ events: number; deletions: number }>(
          `SELECT (SELECT count(*)::int FROM events WHERE xact_id >= pg_snapshot_xmax(pg_current_snapshot())) AS events,
                  (SELECT count(*)::int FROM deletions WHERE requested_xact >= pg_snapshot_xmax(pg_current_snapshot())
                     OR finished_xact >= pg_snapshot_xmax(pg_current_snapshot())) AS deletions`,
        )
      ).rows[0]!
    assert.deepEqual(
      await ahead(),
      { events: 300, deletions: 1 },
      'a fresh cluster is behind the source one',
    )

    const restored = await startTestApp({
      databaseUrl: restoredUrl,
      queue: false,
      env: { DUCKDB_PATH: join(dir, 'analytics.duckdb') },
    })
    try {
      assert.deepEqual(await ahead(), { events: 0, deletions: 0 }, 're-keyed at open')
      assert.deepEqual(await statsOf(restored), originalStats)
      assert.deepEqual(await replicaRows(restored), { rows: 300, distinct: 300 })
      // Written in the new cluster: after the restored rows, none of them skipped or held back.
      await ingest(restored, batch(90, 300), 201)
      await restored.deps.analytics!.catchUp()
      assert.deepEqual(await replicaRows(restored), { rows: 390, distinct: 390 })
      const dau = await getOk(restored.app, `/stats/dau?${RANGE}`)
      assert.deepEqual(
        dau.map((d: { unique_users: number }) => d.unique_users),
        [23, 23, 23],
      )
    } finally {
      await probe.end()
      await restored.close()
    }
    // Started again: nothing is re-keyed twice, and the replica is not rebuilt.
    const again = await startTestApp({
      databaseUrl: restoredUrl,
      queue: false,
      env: { DUCKDB_PATH: join(dir, 'analytics.duckdb') },
    })
    try {
      const replica = await again.deps.analytics!.replicaOf(1)
      const [meta] = await replica.query<{ synced: bigint }>(
        'SELECT synced_rows AS synced FROM replica_meta WHERE id = 1',
      )
      assert.equal(Number(meta!.synced), 390)
      assert.deepEqual(await replicaRows(again), { rows: 390, distinct: 390 })
    } finally {
      await again.close()
    }
  })
})

describe('embedded: a copy of a stopped DATA_DIR is the backup', () => {
  let dir: string

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ea-datadir-'))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  test('stop, copy the directory, start a new service on the copy: the same stats, every event once', async () => {
    const live = join(dir, 'live')
    const first = await startTestApp({
      queue: false,
      env: { DATA_DIR: live, DUCKDB_PATH: join(live, 'analytics.duckdb') },
    })
    let stats: unknown[]
    try {
      await ingest(first, batch(200, 0), 201)
      stats = await statsOf(first)
    } finally {
      await first.close()
    }
    const copy = join(dir, 'copy')
    cpSync(live, copy, { recursive: true })
    const second = await startTestApp({
      queue: false,
      env: { DATA_DIR: copy, DUCKDB_PATH: join(copy, 'analytics.duckdb') },
    })
    try {
      assert.deepEqual(await statsOf(second), stats)
      assert.deepEqual(await replicaRows(second), { rows: 200, distinct: 200 })
      await ingest(second, batch(30, 200), 201)
      await second.deps.analytics!.catchUp()
      assert.deepEqual(await replicaRows(second), { rows: 230, distinct: 230 })
    } finally {
      await second.close()
    }
  })
})
