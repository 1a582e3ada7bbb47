import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { EventInput } from '../../src/events/event-schema.ts'
import { getOk, startServerTestApp, startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { waitFor } from '../helpers/events.ts'
import { skipUnless } from '../helpers/services.ts'
import {
  csvRows,
  type Exported,
  fixtureEvents,
  ndjsonRows,
  parquetRows,
  runCli,
} from './fixtures.ts'

// GET /export and npm run export, in both modes: every format parses back to
// the stored events; export, then import into a fresh service, answers the
// same stats; filters keep what /stats keeps; bad parameters and keys refused.

/** The event as the store normalised it: lower-case id, UTC time to the microsecond. */
function expected(e: EventInput): Exported {
  const m = /^(.*T\d\d:\d\d:\d\d)\.(\d{3})(\d{3})(.*)$/.exec(e.occurred_at as string)!
  const utc = new Date(`${m[1]}.${m[2]}${m[4]}`).toISOString().replace('Z', `${m[3]}Z`)
  return {
    event_id: (e.event_id as string).toLowerCase(),
    occurred_at: utc,
    user_id: e.user_id as string,
    event_type: e.event_type as string,
    properties: (e.properties ?? {}) as Record<string, unknown>,
  }
}

const byId = (rows: readonly Exported[]) =>
  [...rows].sort((a, b) => (a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0))

const FIXTURE = fixtureEvents()
const ALL = byId(FIXTURE.map(expected))
const RANGE = 'from=2026-11-01&to=2026-11-03'
const STATS = [
  `/stats/dau?${RANGE}`,
  `/stats/top-events?${RANGE}&limit=100`,
  `/stats/breakdown?${RANGE}&by=properties.plan`,
  `/stats/breakdown?${RANGE}&by=properties.device.os&segment=event_type:purchase`,
]

const MODES = [
  { name: 'embedded', server: false, skip: false as const },
  {
    name: 'server (PostgreSQL, Redis queue)',
    server: true,
    skip: await skipUnless('postgres', 'redis'),
  },
]

for (const mode of MODES) {
  describe(`export, ${mode.name}`, { skip: mode.skip }, () => {
    let t: TestApp
    let dir: string

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'ea-export-'))
      t = mode.server
        ? await startServerTestApp({ queue: true, worker: true })
        : await startTestApp({ queue: false, env: { DATA_DIR: join(dir, 'data') } })
      for (let i = 0; i < FIXTURE.length; i += 100) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/events',
          payload: { events: FIXTURE.slice(i, i + 100) },
        })
        assert.equal(res.statusCode, mode.server ? 202 : 201, res.body)
      }
      await waitFor(
        'every event stored',
        () => t.count(),
        (n) => n === FIXTURE.length,
      )
      await t.deps.analytics!.catchUp()
    })
    after(async () => {
      await t?.close()
      rmSync(dir, { recursive: true, force: true })
    })

    const get = (url: string) => t.app.inject({ method: 'GET', url })

    test('ndjson, csv and parquet each parse back to exactly the stored events', async () => {
      const ndjson = await get(`/export?${RANGE}&format=ndjson`)
      assert.equal(ndjson.statusCode, 200, ndjson.body)
      assert.equal(ndjson.headers['content-type'], 'application/x-ndjson; charset=utf-8')
      assert.equal(
        ndjson.headers['content-disposition'],
        'attachment; filename="default-events-2026-11-01-to-2026-11-03.ndjson"',
      )
      assert.deepEqual(byId(ndjsonRows(ndjson.body)), ALL)

      const csv = await get(`/export?${RANGE}&format=csv`)
      assert.equal(csv.statusCode, 200, csv.body)
      assert.equal(csv.headers['content-type'], 'text/csv; charset=utf-8')
      assert.equal(
        csv.body.split('\n')[0],
        'event_id,occurred_at,user_id,event_type,properties_json',
      )
      assert.deepEqual(byId(csvRows(csv.body)), ALL)

      const parquet = await get(`/export?${RANGE}&format=parquet`)
      assert.equal(parquet.statusCode, 200, parquet.body)
      assert.equal(parquet.headers['content-type'], 'application/vnd.apache.parquet')
      const read = await parquetRows(parquet.rawPayload, dir)
      assert.deepEqual(read.columns, [
        'event_id',
        'occurred_at',
        'user_id',
        'event_type',
        'properties_json',
      ])
      assert.deepEqual(read.codecs, ['ZSTD'])
      assert.deepEqual(byId(read.rows), ALL)
    })

    test('the range is of UTC days, inclusive: one day exports that day alone', async () => {
      const res = await get('/export?from=2026-11-02&to=2026-11-02&format=ndjson')
      assert.equal(res.statusCode, 200, res.body)
      const want = ALL.filter((e) => e.occurred_at.startsWith('2026-11-02'))
      assert.equal(want.length, 80)
      assert.deepEqual(byId(ndjsonRows(res.body)), want)
    })

    test('the last and first days a date can name: empty files, not errors', async () => {
      for (const q of ['from=9999-12-31&to=9999-12-31', 'from=0001-01-01&to=0001-01-01']) {
        const res = await get(`/export?${q}&format=csv`)
        assert.equal(res.statusCode, 200, res.body)
        assert.equal(res.body, 'event_id,occurred_at,user_id,event_type,properties_json\n')
      }
    })

    test('export, npm run import into a fresh service: the same stats answers', async () => {
      const csv = await get(`/export?${RANGE}&format=csv`)
      const file = join(dir, 'export.csv')
      writeFileSync(file, csv.rawPayload)
      let fresh: TestApp | undefined
      let db: TestDatabase | undefined
      const freshDir = join(dir, 'fresh')
      try {
        if (mode.server) db = await createTestDatabase()
        const env: Record<string, string> = db ? { DATABASE_URL: db.url } : { DATA_DIR: freshDir }
        const imported = await runCli('import', [file, '--json', '--quiet'], env, dir)
        assert.equal(imported.code, 0, imported.stderr)
        const summary = JSON.parse(imported.stdout)
        assert.deepEqual(
          [summary.read, summary.inserted, summary.duplicates, summary.rejected],
          [240, 240, 0, 0],
        )
        fresh = await startTestApp({
          queue: false,
          ...(db ? { databaseUrl: db.url } : { env: { DATA_DIR: freshDir } }),
        })
        await fresh.deps.analytics!.catchUp()
        for (const url of STATS) {
          const original = await getOk(t.app, url)
          assert.deepEqual(await getOk(fresh.app, url), original, url)
        }
        // Not vacuous: the answers hold the data.
        const dau = await getOk(fresh.app, `/stats/dau?${RANGE}`)
        const users = (day: string) =>
          new Set(ALL.filter((e) => e.occurred_at.startsWith(day)).map((e) => e.user_id)).size
        assert.deepEqual(
          dau.map((d: { unique_users: number }) => d.unique_users),
          ['2026-11-01', '2026-11-02', '2026-11-03'].map(users),
        )
      } finally {
        await fresh?.close()
        await db?.drop()
      }
    })

    test('segment= keeps the events /stats counts with the same filters', async () => {
      const cases: Array<{ segment: string[]; keep: (e: Exported) => boolean }> = [
        { segment: ['event_type:purchase'], keep: (e) => e.event_type === 'purchase' },
        { segment: ['properties.plan:pro'], keep: (e) => e.properties.plan === 'pro' },
        {
          segment: ['properties.amount:gt:100', 'event_type:in:click,signup'],
          keep: (e) =>
            (e.properties.amount as number) > 100 && ['click', 'signup'].includes(e.event_type),
        },
        {
          segment: ['properties.device.os:ios'],
          keep: (e) => (e.properties.device as { os?: string })?.os === 'ios',
        },
        { segment: ['properties.plan:ne:free'], keep: (e) => e.properties.plan !== 'free' },
        { segment: ['properties.ok:true'], keep: (e) => e.properties.ok === true },
        { segment: ['properties.note:exists'], keep: (e) => 'note' in e.properties },
        {
          segment: ['properties.note:lt:n2'],
          keep: (e) => typeof e.properties.note === 'string' && e.properties.note < 'n2',
        },
        { segment: ['user_id:user-3'], keep: (e) => e.user_id === 'user-3' },
      ]
      for (const c of cases) {
        const q = c.segment.map((s) => `segment=${encodeURIComponent(s)}`).join('&')
        const res = await get(`/export?${RANGE}&format=ndjson&${q}`)
        assert.equal(res.statusCode, 200, res.body)
        const got = byId(ndjsonRows(res.body))
        const want = ALL.filter(c.keep)
        assert.ok(want.length > 0, `${q} keeps something`)
        assert.deepEqual(got, want, q)
        // The same filters in /stats count the same events, type by type.
        const top = await getOk(t.app, `/stats/top-events?${RANGE}&limit=100&${q}`)
        const counts = new Map<string, number>()
        for (const e of got) counts.set(e.event_type, (counts.get(e.event_type) ?? 0) + 1)
        assert.deepEqual(
          Object.fromEntries(
            top.map((r: { event_type: string; count: number }) => [r.event_type, r.count]),
          ),
          Object.fromEntries(counts),
          q,
        )
      }
    })

    test('user_id= exports that user and the ids merged into it; user.<trait> filters by profile', async () => {
      // An alias, as the Segment and PostHog intakes record it: anon-7 is user-5.
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/alias',
        payload: {
          messageId: 'alias-export-1',
          userId: 'user-5',
          previousId: 'user-6',
          timestamp: '2026-11-03T00:00:00Z',
        },
      })
      assert.ok(res.statusCode < 300, res.body)
      await waitFor(
        'the alias applied in the replica',
        async () => {
          await t.deps.analytics!.catchUp()
          return getOk(t.app, '/users/user-6')
        },
        (p: { ids: string[] }) => p.ids.includes('user-5'),
      )
      const got = await get(`/export?${RANGE}&user_id=user-5&format=csv`)
      assert.equal(got.statusCode, 200, got.body)
      const want = ALL.filter((e) => e.user_id === 'user-5' || e.user_id === 'user-6')
      assert.ok(
        want.some((e) => e.user_id === 'user-6') && want.some((e) => e.user_id === 'user-5'),
      )
      assert.deepEqual(byId(csvRows(got.body)), want)
      // Asked by the merged id: the same person.
      const same = await get(`/export?${RANGE}&user_id=user-6&format=csv`)
      assert.deepEqual(byId(csvRows(same.body)), want)
      // A trait filter: the events of the persons with that trait.
      const identify = await t.app.inject({
        method: 'POST',
        url: '/v1/identify',
        payload: {
          messageId: 'identify-export-1',
          userId: 'user-2',
          traits: { tier: 'gold' },
          timestamp: '2026-11-03T00:00:00Z',
        },
      })
      assert.ok(identify.statusCode < 300, identify.body)
      await waitFor(
        'the trait applied in the replica',
        async () => {
          await t.deps.analytics!.catchUp()
          return getOk(t.app, '/users/user-2')
        },
        (p: { traits: Record<string, unknown> }) => p.traits.tier === 'gold',
      )
      const gold = await get(`/export?${RANGE}&segment=user.tier:gold&format=ndjson`)
      assert.equal(gold.statusCode, 200, gold.body)
      assert.deepEqual(
        byId(ndjsonRows(gold.body)),
        ALL.filter((e) => e.user_id === 'user-2'),
      )
      // Never seen: an empty file, not an error.
      const none = await get(`/export?${RANGE}&user_id=nobody&format=ndjson`)
      assert.equal(none.statusCode, 200)
      assert.equal(none.body, '')
    })

    test('npm run export writes the same file as GET /export', async () => {
      // Embedded, the command opens DATA_DIR itself: the service stops meanwhile.
      if (!mode.server) await t.close()
      try {
        const out = join(dir, 'cli.csv')
        const env: Record<string, string> = mode.server
          ? { DATABASE_URL: t.config.databaseUrl! }
          : { DATA_DIR: t.config.dataDir }
        const run = await runCli(
          'export',
          [
            '--from',
            '2026-11-01',
            '--to',
            '2026-11-03',
            '--format',
            'csv',
            '--out',
            out,
            '--segment',
            'event_type:signup',
          ],
          env,
          dir,
        )
        assert.equal(run.code, 0, run.stderr)
        assert.deepEqual(
          byId(csvRows(readFileSync(out, 'utf8'))),
          ALL.filter((e) => e.event_type === 'signup'),
        )
        const bad = await runCli(
          'export',
          ['--from', '2026-11-03', '--to', '2026-11-01', '--format', 'xml'],
          env,
          dir,
        )
        assert.equal(bad.code, 2)
        assert.match(
          bad.stderr,
          /^--from must not be after to\n--format must be one of ndjson, csv, parquet\n/,
        )
      } finally {
        if (!mode.server)
          t = await startTestApp({ queue: false, env: { DATA_DIR: t.config.dataDir } })
      }
    })

    test('bad parameters: 422 naming each field', async () => {
      const res = await get(
        `/export?from=2026-11-03&to=2026-11-01&format=xml&segment=bogus&user_id=${'u'.repeat(257)}`,
      )
      assert.equal(res.statusCode, 422, res.body)
      const body = res.json()
      assert.deepEqual(body.errors.map((e: { field: string }) => e.field).sort(), [
        'format',
        'from',
        'segment',
        'user_id',
      ])
      assert.deepEqual(
        body.errors.find((e: { field: string }) => e.field === 'format'),
        { field: 'format', message: 'must be one of ndjson, csv, parquet' },
      )
      const missing = await get('/export?format=csv')
      assert.equal(missing.statusCode, 422)
      assert.deepEqual(
        missing
          .json()
          .errors.map((e: { field: string }) => e.field)
          .sort(),
        ['from', 'to'],
      )
    })

    test('a write key is refused (403), a read key exports', async () => {
      const write = await t.deps.apiKeys.create('write', 'w', 1)
      const read = await t.deps.apiKeys.create('read', 'r', 1)
      const url = `/export?${RANGE}&format=ndjson`
      const refused = await t.app.inject({ url, headers: { authorization: `Bearer ${write.key}` } })
      assert.equal(refused.statusCode, 403, refused.body)
      const none = await t.app.inject({ url })
      assert.equal(none.statusCode, 401, none.body)
      const ok = await t.app.inject({ url, headers: { authorization: `Bearer ${read.key}` } })
      assert.equal(ok.statusCode, 200, ok.body)
      assert.equal(ndjsonRows(ok.body).length, 240)
    })
  })
}
