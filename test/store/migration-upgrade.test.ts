import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import { ApiKeyStore, generateKey, hashKey, type Scope } from '../../src/auth/api-keys.ts'
import { Authenticator } from '../../src/auth/authenticator.ts'
import { loadConfig } from '../../src/config.ts'
import { createLogger } from '../../src/logger.ts'
import { ProjectStore } from '../../src/projects/project-store.ts'
import { migrate } from '../../src/store/migrate.ts'
import { openStore } from '../../src/store/open-store.ts'
import { pgliteClient, poolClient, type SqlClient } from '../../src/store/sql-client.ts'
import { ADMIN_DATABASE_URL, skipUnless } from '../helpers/services.ts'

// A store as the version before projects left it (migrations 001-004, rows
// written with the old columns only), opened by this version the way the
// service opens it: the upgrade must change nothing of the events, put
// everything in "default", keep the old keys working there, and make an
// event_id unique per project rather than everywhere.
const BEFORE_PROJECTS = ['001_events', '002_store_identity', '003_api_keys', '004_idempotency_keys']
const EVENTS = 5_000
const silent = createLogger('silent')

interface OldStore {
  keys: Record<Scope | 'revoked', string>
  events: { events: number; checksum: string }
}

/** Every event's stored fields, in one digest; the time in UTC, so no session setting enters it. */
async function eventsDigest(db: SqlClient): Promise<{ events: number; checksum: string }> {
  const { rows } = await db.query<{ events: number; checksum: string }>(
    `SELECT count(*)::int AS events,
       md5(string_agg(concat_ws('|', event_id, user_id, event_type,
                                occurred_at AT TIME ZONE 'UTC', properties),
                      E'\\n' ORDER BY event_id)) AS checksum
     FROM events`,
  )
  return rows[0]!
}

const migrations = async (db: SqlClient) =>
  (await db.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY id')).rows.map(
    (r) => r.name,
  )

/** Events, keys and an Idempotency-Key written as the old version wrote them: no project anywhere. */
async function fillTheOldWay(db: SqlClient): Promise<OldStore> {
  assert.deepEqual(await migrations(db), BEFORE_PROJECTS)
  await db.query(
    `INSERT INTO events (event_id, occurred_at, user_id, event_type, properties)
     SELECT md5('event ' || i)::uuid,
            timestamptz '2026-01-01 00:00:00+00' + i * interval '37 seconds',
            'user-' || (i % 97),
            (ARRAY['view', 'click', 'buy'])[1 + i % 3],
            jsonb_build_object('i', i, 'name', 'Zoë ' || i, 'nested', jsonb_build_object('even', i % 2 = 0))
     FROM generate_series(1, $1::int) AS i`,
    [EVENTS],
  )
  const keys = {} as OldStore['keys']
  for (const scope of ['read', 'write', 'admin', 'revoked'] as const) {
    const key = generateKey()
    keys[scope] = key
    await db.query(
      `INSERT INTO api_keys (name, scope, key_hash, key_prefix, revoked_at) VALUES ($1, $2, $3, $4, $5)`,
      [
        `old ${scope}`,
        scope === 'revoked' ? 'write' : scope,
        hashKey(key),
        key.slice(0, 12),
        scope === 'revoked' ? new Date().toISOString() : null,
      ],
    )
  }
  await db.query(
    `INSERT INTO idempotency_keys (owner, key, body_sha256, status, response)
     VALUES ('anonymous', 'retry-1', '\\x00', 201, '{"accepted": 1}')`,
  )
  return { keys, events: await eventsDigest(db) }
}

/** What the upgraded store must show; `db` is the store as this version opened it. */
async function checkUpgraded(db: SqlClient, old: OldStore): Promise<void> {
  assert.deepEqual((await migrations(db)).slice(0, 5), [...BEFORE_PROJECTS, '005_projects'])

  const { rows: outside } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM events WHERE project_id IS DISTINCT FROM 1',
  )
  assert.equal(outside[0]!.n, 0, 'every event is in the default project')
  assert.deepEqual(await eventsDigest(db), old.events)
  assert.equal(old.events.events, EVENTS)

  const { rows: keyProjects } = await db.query<{ name: string; project_id: number | null }>(
    'SELECT name, project_id FROM api_keys ORDER BY name',
  )
  assert.deepEqual(keyProjects, [
    { name: 'old admin', project_id: 1 },
    { name: 'old read', project_id: 1 },
    { name: 'old revoked', project_id: 1 },
    { name: 'old write', project_id: 1 },
  ])
  const auth = new Authenticator(new ApiKeyStore(db), undefined)
  for (const scope of ['read', 'write', 'admin'] as const) {
    const verdict = await auth.check(old.keys[scope], scope === 'admin' ? 'write' : scope)
    assert.ok(verdict.ok, `the old ${scope} key authenticates`)
    assert.equal(verdict.principal?.scope, scope)
    assert.equal(verdict.principal?.projectId, 1)
  }
  const revoked = await auth.check(old.keys.revoked, 'write')
  assert.equal(revoked.ok ? 'ok' : revoked.status, 401, 'the revoked key stays revoked')

  const { rows: idem } = await db.query('SELECT project_id, owner, key FROM idempotency_keys')
  assert.deepEqual(idem, [{ project_id: 1, owner: 'anonymous', key: 'retry-1' }])

  // An id already stored is a duplicate in its project, and a new event in
  // another: event_keys holds every stored id (migration 011), as the events'
  // primary key did before.
  const key = (project: number, conflict: string) =>
    db.query(
      `INSERT INTO event_keys (project_id, event_id) VALUES ($1, md5('event 1')::uuid) ${conflict}`,
      [project],
    )
  await assert.rejects(key(1, ''), (err: { code?: string }) => err.code === '23505')
  assert.equal((await key(1, 'ON CONFLICT DO NOTHING RETURNING 1')).rows.length, 0)
  const second = await new ProjectStore(db).create('second')
  assert.equal(second.id, 2)
  assert.equal((await key(2, 'RETURNING 1')).rows.length, 1)
  await db.query(
    `INSERT INTO events (event_id, occurred_at, user_id, event_type, project_id)
     VALUES (md5('event 1')::uuid, '2026-06-01T00:00:00Z', 'someone else', 'view', 2)`,
  )
  const { rows: keys } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM event_keys k JOIN events e USING (project_id, event_id)',
  )
  assert.equal(keys[0]!.n, EVENTS + 1, 'every stored event has its key')
  const { rows: both } = await db.query(
    `SELECT project_id, user_id FROM events WHERE event_id = md5('event 1')::uuid ORDER BY project_id`,
  )
  assert.deepEqual(both, [
    { project_id: 1, user_id: 'user-1' },
    { project_id: 2, user_id: 'someone else' },
  ])
  assert.equal((await eventsDigest(db)).events, EVENTS + 1)
}

describe('upgrading a PostgreSQL store from before projects', {
  skip: await skipUnless('postgres'),
}, () => {
  const name = `migration_upgrade_${process.pid}_${Date.now()}`
  const url = new URL(ADMIN_DATABASE_URL)
  url.pathname = `/${name}`
  const admin = async (fn: (c: pg.Client) => Promise<void>) => {
    const c = new pg.Client({ connectionString: ADMIN_DATABASE_URL })
    await c.connect()
    try {
      await fn(c)
    } finally {
      await c.end()
    }
  }
  before(() => admin(async (c) => void (await c.query(`CREATE DATABASE "${name}"`))))
  // As test/helpers/database.ts drops: a pool's sockets close a moment after
  // end() resolves, and forcing at once would kill them mid-goodbye.
  after(() =>
    admin(async (c) => {
      for (let i = 0; i < 40; i++) {
        try {
          await c.query(`DROP DATABASE IF EXISTS "${name}"`)
          return
        } catch (err) {
          if ((err as { code?: string }).code !== '55006') throw err
          await new Promise((r) => setTimeout(r, 50))
        }
      }
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
    }),
  )

  test('the events are unchanged and in "default", old keys work there, ids are unique per project', async () => {
    await migrate({ databaseUrl: url.toString() }, silent, { count: BEFORE_PROJECTS.length })
    const oldDb = poolClient(new pg.Pool({ connectionString: url.toString(), max: 2 }))
    let old: OldStore
    try {
      old = await fillTheOldWay(oldDb)
    } finally {
      await oldDb.end()
    }
    const db = await openStore(loadConfig({ DATABASE_URL: url.toString() }), silent)
    try {
      await checkUpgraded(db, old)
    } finally {
      await db.end()
    }
  })
})

describe('upgrading an embedded store from before projects', () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ea-upgrade-'))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  test('the same, on PGlite in DATA_DIR', async () => {
    const { PGlite } = await import('@electric-sql/pglite')
    // Where openStore keeps it, so the next open is an upgrade of this one.
    const pglite = await PGlite.create(join(dir, 'pgdata'))
    let old: OldStore
    try {
      await migrate({ pglite }, silent, { count: BEFORE_PROJECTS.length })
      old = await fillTheOldWay(pgliteClient(pglite))
    } finally {
      await pglite.close()
    }
    const db = await openStore(loadConfig({ DATA_DIR: dir }), silent)
    try {
      await checkUpgraded(db, old)
    } finally {
      await db.end()
    }
  })
})
