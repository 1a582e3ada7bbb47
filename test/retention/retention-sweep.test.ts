import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { EventInput } from '../../src/events/event-schema.ts'
import { withScratchDuckDb } from '../../src/export/formats.ts'
import { RetentionSweeper } from '../../src/retention/retention-sweep.ts'
import { startServerTestApp, startTestApp, type TestApp } from '../helpers/app.ts'
import { makeEvent, waitFor } from '../helpers/events.ts'
import { skipUnless } from '../helpers/services.ts'

// Retention in PostgreSQL (issue 19): events are stored in one table per
// project and UTC day when the project has a retention, per month when it
// keeps everything (migration 011); a sweep drops the tables wholly before
// the cut, deletes what is left before it row by row (a month table from
// before the retention was set), removes their keys, and records what it
// removed. Idempotency by event_id holds across tables.

const MODES = [
  { name: 'embedded (PGlite)', server: false, skip: false as const },
  {
    name: 'server (PostgreSQL + Redis queue + worker)',
    server: true,
    skip: await skipUnless('postgres', 'redis'),
  },
]

const NOW = new Date('2026-12-04T12:00:00.000Z')
const DAYS = 25
// The start of the UTC day 25 days before NOW's.
const CUTOFF = '2026-11-09T00:00:00.000Z'
const USERS = ['ana', 'ben', 'cy', 'dee']

/** Every 3rd day from 2026-09-20 to 2026-12-03, each user on some of them, at two times of day. */
function fixture(): EventInput[] {
  const events: EventInput[] = []
  for (
    let t = Date.parse('2026-09-20T00:00:00Z');
    t < Date.parse('2026-12-04T00:00:00Z');
    t += 3 * 86_400_000
  )
    for (const [u, user] of USERS.entries())
      for (const hour of [0, 23])
        if ((t / 86_400_000 + u) % 2 < 1 || hour === 23)
          events.push(
            makeEvent({
              user_id: user,
              event_type: hour === 0 ? 'page_view' : 'signup',
              occurred_at: new Date(t + hour * 3_600_000 + u * 60_000).toISOString(),
            }),
          )
  return events
}

const once = (list: EventInput[]) =>
  list
    .map((e) => ({ event_id: e.event_id, n: 1 }))
    .sort((a, b) => (a.event_id < b.event_id ? -1 : 1))

/**
 * The app of a mode holding the events, posted once its first sweep (at
 * start, with the real clock) is over, so only the tests' sweeps cut them.
 */
async function startWith(
  mode: (typeof MODES)[number],
  env: Record<string, string>,
  events: EventInput[],
): Promise<TestApp> {
  const options = { queue: mode.server, worker: true, env }
  const t = mode.server ? await startServerTestApp(options) : await startTestApp(options)
  await t.retention.firstSweepDone()
  const res = await t.app.inject({ method: 'POST', url: '/events', payload: events })
  assert.ok(res.statusCode === 201 || res.statusCode === 202, res.body)
  await waitFor(
    'stored',
    () => t.count(),
    (n) => n === events.length,
  )
  return t
}

function sweeperOf(t: TestApp, days: number | null = null): RetentionSweeper {
  return new RetentionSweeper(
    t.deps.db,
    { days, sweepMs: 60_000, chunkBlocks: 1, archiveDir: t.config.retention.archiveDir },
    t.deps.log,
    () => NOW,
  )
}

/** Every event in a project's archive files, as the export wrote them. */
function archived(dir: string): Promise<Array<Record<string, string>>> {
  return withScratchDuckDb(async (conn) => {
    const reader = await conn.runAndReadAll(
      `SELECT event_id, occurred_at, user_id, event_type, properties_json AS properties
       FROM read_parquet('${join(dir, 'project-1', '*.parquet')}') ORDER BY event_id`,
    )
    return reader.getRowObjectsJson() as Array<Record<string, string>>
  })
}

async function stored(t: TestApp) {
  const { rows } = await t.deps.db.query<{ event_id: string; n: number }>(
    'SELECT event_id::text, count(*)::int AS n FROM events GROUP BY event_id ORDER BY event_id',
  )
  return rows
}

async function tables(t: TestApp) {
  const { rows } = await t.deps.db.query<{ rel: string; n: number }>(
    'SELECT tableoid::regclass::text AS rel, count(*)::int AS n FROM events GROUP BY 1 ORDER BY 1',
  )
  return rows
}

/** How many of the events each table named by `name` holds. */
function perTable(events: EventInput[], name: (e: EventInput) => string) {
  const n = new Map<string, number>()
  for (const e of events) n.set(name(e), (n.get(name(e)) ?? 0) + 1)
  return [...n].sort().map(([rel, count]) => ({ rel, n: count }))
}
const monthTable = (e: EventInput) => `events_p1_${e.occurred_at.slice(0, 7).replace('-', '')}`
const dayTable = (e: EventInput) => `events_p1_${e.occurred_at.slice(0, 10).replaceAll('-', '')}`

for (const mode of MODES) {
  describe(`retention sweep, month tables (no retention when stored), ARCHIVE_DIR, ${mode.name}`, {
    skip: mode.skip,
  }, () => {
    let t: TestApp
    const archiveDir = mkdtempSync(join(tmpdir(), 'ea-archive-'))
    const events = fixture()
    // The same id sent again with a time in another month: still one event, the first.
    const resent = { ...events.find((e) => e.occurred_at.startsWith('2026-10-1'))! }
    resent.occurred_at = '2026-11-20T10:00:00.000Z'
    const kept = events.filter((e) => e.occurred_at >= CUTOFF)
    // A month table goes once all of it is past the cut: November stays whole.
    const inStore = events.filter((e) => e.occurred_at >= '2026-11-01')
    const sweeper = () => sweeperOf(t)

    before(async () => {
      t = await startWith(mode, { ARCHIVE_DIR: archiveDir }, events)
      const again = await t.app.inject({ method: 'POST', url: '/events', payload: [resent] })
      assert.ok(again.statusCode < 300, again.body)
    })
    after(async () => {
      await t?.close()
      rmSync(archiveDir, { recursive: true, force: true })
    })

    test('every event is stored once, in its month table; an id resent with another month is not stored twice', async () => {
      // The resend is refused at intake or at insert; either way it is gone from the queue.
      await waitFor(
        'queue drained',
        async () => (t.deps.queue ? (await t.deps.queue.status(1)).shared.length : 0),
        (n) => n === 0,
      )
      assert.deepEqual(await stored(t), once(events))
      assert.deepEqual(await tables(t), perTable(events, monthTable), 'nothing in a default table')
      const { rows } = await t.deps.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM event_keys',
      )
      assert.equal(rows[0]!.n, events.length)
    })

    test('without a retention the sweep removes nothing', async () => {
      assert.deepEqual(await sweeper().runOnce(), [])
      assert.equal(await t.count(), events.length)
    })

    test('a retention of 25 days drops September and October, keeps November whole in PostgreSQL, and records it', async () => {
      await t.deps.projects.setRetention('default', DAYS)
      const results = await sweeper().runOnce()
      const removed = events.filter((e) => e.occurred_at < '2026-11-01')
      assert.ok(events.some((e) => e.occurred_at >= '2026-11-01' && e.occurred_at < CUTOFF))
      assert.deepEqual(
        results.map((r) => ({ ...r, cutoff: r.cutoff.toISOString() })),
        [
          {
            project: 1,
            cutoff: CUTOFF,
            events: removed.length,
            partitions: ['events_p1_202609', 'events_p1_202610'],
            rowsDeleted: 0,
            archived: removed.length,
          },
        ],
      )
      assert.deepEqual(await stored(t), once(inStore))
      const keys = await t.deps.db.query<{ event_id: string }>(
        'SELECT event_id::text FROM event_keys ORDER BY event_id',
      )
      assert.deepEqual(
        keys.rows.map((r) => r.event_id),
        once(inStore).map((e) => e.event_id),
      )
      assert.deepEqual(await tables(t), perTable(inStore, monthTable))
      const audit = await t.deps.db.query<{ cutoff: string }>(
        'SELECT project_id, cutoff, events::int, partitions, rows_deleted::int, archived::int FROM retention_runs ORDER BY id',
      )
      assert.deepEqual(
        audit.rows.map((r) => ({ ...r, cutoff: new Date(r.cutoff).toISOString() })),
        [
          {
            project_id: 1,
            cutoff: CUTOFF,
            events: removed.length,
            partitions: ['events_p1_202609', 'events_p1_202610'],
            rows_deleted: 0,
            archived: removed.length,
          },
        ],
      )
    })

    test('what it removed is in ARCHIVE_DIR, each event once, a file per dropped table', async () => {
      const files = readdirSync(join(archiveDir, 'project-1')).sort()
      assert.deepEqual(files, ['events-202609.parquet', 'events-202610.parquet'])
      assert.deepEqual(
        (await archived(archiveDir)).map((r) => ({
          ...r,
          occurred_at: new Date(r.occurred_at!).toISOString(),
          properties: JSON.stringify(JSON.parse(r.properties!)),
        })),
        events
          .filter((e) => e.occurred_at < '2026-11-01')
          .map((e) => ({
            event_id: e.event_id,
            occurred_at: e.occurred_at,
            user_id: e.user_id,
            event_type: e.event_type,
            properties: JSON.stringify(e.properties),
          }))
          .sort((a, b) => (a.event_id < b.event_id ? -1 : 1)),
      )
    })

    test('the export leaves out what PostgreSQL still holds before the cut', async () => {
      const res = await t.app.inject({
        method: 'GET',
        url: '/export?from=2026-09-01&to=2026-12-31&format=ndjson',
      })
      assert.equal(res.statusCode, 200, res.body)
      const ids = res.body
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { event_id: string }).event_id)
        .sort()
      assert.deepEqual(
        ids,
        once(kept).map((e) => e.event_id),
      )
    })

    test('a second sweep finds nothing; an expired event sent again is removed by the next one', async () => {
      assert.deepEqual(await sweeper().runOnce(), [])
      const expired = events.find((e) => e.occurred_at < '2026-10-01')!
      const res = await t.app.inject({ method: 'POST', url: '/events', payload: [expired] })
      assert.ok(res.statusCode < 300, res.body)
      await waitFor(
        'stored',
        () => t.count(),
        (n) => n === inStore.length + 1,
      )
      const [result] = await sweeper().runOnce()
      assert.equal(result?.events, 1)
      assert.deepEqual(await stored(t), once(inStore))
    })

    test("a user's deletion reaches the archive: every file is written again without the user", async () => {
      const before = await archived(archiveDir)
      const ana = before.filter((r) => r.user_id === 'ana').length
      assert.ok(ana > 0)
      const res = await t.app.inject({ method: 'DELETE', url: '/users/ana' })
      assert.equal(res.statusCode, 202, res.body)
      const done = await waitFor(
        'deletion done',
        async () =>
          (
            await t.app.inject({ method: 'GET', url: `/deletions/${res.json().deletion_id}` })
          ).json(),
        (d) => d.state === 'done',
      )
      assert.equal(done.archive_events, ana)
      assert.deepEqual(
        await archived(archiveDir),
        before.filter((r) => r.user_id !== 'ana'),
      )
    })
  })
}

for (const mode of MODES) {
  describe(`retention sweep, day tables (RETENTION_DAYS when stored), ${mode.name}`, {
    skip: mode.skip,
  }, () => {
    let t: TestApp
    const events = fixture()
    const kept = events.filter((e) => e.occurred_at >= CUTOFF)
    const expired = events.filter((e) => e.occurred_at < CUTOFF)

    before(async () => {
      t = await startWith(mode, { RETENTION_DAYS: String(DAYS) }, events)
    })
    after(async () => {
      await t?.close()
    })

    test('each day is a table of its own', async () => {
      assert.deepEqual(await tables(t), perTable(events, dayTable), 'nothing in a default table')
    })

    test('the sweep drops every day table before the cut and deletes no row', async () => {
      const [result, ...more] = await sweeperOf(t, DAYS).runOnce()
      assert.equal(more.length, 0)
      assert.equal(result?.events, expired.length)
      assert.equal(result?.rowsDeleted, 0)
      assert.deepEqual(result?.partitions, [...new Set(expired.map(dayTable))].sort())
      assert.deepEqual(await stored(t), once(kept))
      assert.deepEqual(await tables(t), perTable(kept, dayTable))
      const { rows } = await t.deps.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM event_keys',
      )
      assert.equal(rows[0]!.n, kept.length)
    })
  })
}

for (const mode of MODES) {
  describe(`retention sweep, week tables (a retention of 61 to 420 days), ${mode.name}`, {
    skip: mode.skip,
  }, () => {
    let t: TestApp
    const events = fixture()
    // 61 days before 2026-12-04: the cut is 2026-10-04, a Sunday; the week of
    // Monday 2026-09-28 ends after it and stays.
    const cut = '2026-10-04T00:00:00.000Z'
    const weekTable = (e: EventInput) => {
      const t = Date.parse(e.occurred_at.slice(0, 10))
      const monday = t - ((new Date(t).getUTCDay() + 6) % 7) * 86_400_000
      return `events_p1_w${new Date(monday).toISOString().slice(0, 10).replaceAll('-', '')}`
    }

    before(async () => {
      t = await startWith(mode, { RETENTION_DAYS: '61' }, events)
    })
    after(async () => {
      await t?.close()
    })

    test('each ISO week is a table; the sweep drops the weeks that end before the cut', async () => {
      assert.deepEqual(await tables(t), perTable(events, weekTable))
      const [result, ...more] = await sweeperOf(t, 61).runOnce()
      assert.equal(more.length, 0)
      assert.equal(result?.cutoff.toISOString(), cut)
      assert.deepEqual(result?.partitions, ['events_p1_w20260914', 'events_p1_w20260921'])
      const inStore = events.filter((e) => e.occurred_at >= '2026-09-28')
      assert.equal(result?.events, events.length - inStore.length)
      assert.equal(result?.rowsDeleted, 0)
      assert.deepEqual(await stored(t), once(inStore))
    })
  })
}
