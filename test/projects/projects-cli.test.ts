import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ApiKeyStore } from '../../src/auth/api-keys.ts'
import { loadConfig } from '../../src/config.ts'
import { createLogger } from '../../src/logger.ts'
import { openStore } from '../../src/store/open-store.ts'
import type { SqlClient } from '../../src/store/sql-client.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'

// `npm run projects` as a real process, on PostgreSQL and embedded: what it
// prints, its exit codes, and what delete takes with the project.
const CLI = fileURLToPath(new URL('../../src/cli/projects.ts', import.meta.url))
// Resolved here, so the child can run in a directory of its own, where a
// developer's .env cannot reach it.
const TSX = import.meta.resolve('tsx')
const USAGE =
  'usage: projects create NAME [--events-per-day N] | projects list | projects rename OLD NEW' +
  ' | projects quota NAME N|none | projects delete NAME --confirm' +
  ' | projects origins NAME https://a.example,https://b.example|any' +
  ' | projects visitor-id NAME hashed|persistent | projects gpc NAME honor|ignore' +
  ' | projects retention NAME DAYS|default'
const TIMESTAMP = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\+00$/

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

function projects(env: Record<string, string>, ...args: string[]): Promise<Result> {
  const cwd = mkdtempSync(join(tmpdir(), 'ea-projects-cwd-'))
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', ...env },
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d))
  child.stderr.on('data', (d: Buffer) => (stderr += d))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => {
      rmSync(cwd, { recursive: true, force: true })
      resolve({ code, stdout, stderr })
    })
  })
}

type Shown = {
  id: number
  name: string
  events_per_day: number | null
  web?: {
    allowed_origins: string[] | null
    persistent_visitor_id: boolean
    honor_gpc: boolean
    retention_days?: number | null
  }
}
/** A project's browser settings as a new one has them (migration 007). */
const WEB_DEFAULTS = {
  allowed_origins: null,
  persistent_visitor_id: false,
  honor_gpc: false,
  retention_days: null,
}

/** Exit 0, nothing on stderr, and stdout exactly `expected` as the CLI prints it (created_at as the store gave it). */
function printed(r: Result, expected: Shown | Shown[]): void {
  assert.equal(r.stderr, '')
  assert.equal(r.code, 0)
  const got = JSON.parse(r.stdout)
  const stamped = ({ web, ...e }: Shown, g: { created_at?: unknown }) => {
    assert.match(String(g.created_at), TIMESTAMP)
    return { ...e, created_at: g.created_at, ...WEB_DEFAULTS, ...web }
  }
  if (Array.isArray(expected)) assert.equal(got.length, expected.length, r.stdout)
  const want = Array.isArray(expected)
    ? expected.map((e, i) => stamped(e, got[i]))
    : stamped(expected, got)
  assert.equal(r.stdout, `${JSON.stringify(want, null, 2)}\n`)
}

/** Exit 2, nothing on stdout, exactly this on stderr. */
function refused(r: Result, message: string): void {
  assert.deepEqual(r, { code: 2, stdout: '', stderr: `${message}\n` })
}

const badName = (name: string) =>
  `project name "${name}" must be 1 to 63 characters: lower-case letters, digits, "-" and "_", starting with a letter or digit`
const DEFAULT_REFUSED =
  'project "default" is the default project, where events sent without a key go; it can be renamed, not deleted'

interface Mode {
  env: Record<string, string>
}

/** The store, opened in this process between CLI runs: embedded, DATA_DIR is one process's at a time. */
async function withDb<T>(mode: Mode, fn: (db: SqlClient) => Promise<T>): Promise<T> {
  const db = await openStore(loadConfig(mode.env), createLogger('silent'))
  try {
    return await fn(db)
  } finally {
    await db.end()
  }
}

const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`

async function eventRows(db: SqlClient, project: number): Promise<string[]> {
  const { rows } = await db.query<{ row: string }>(
    `SELECT concat_ws('|', event_id, user_id, event_type, occurred_at, properties) AS row
     FROM events WHERE project_id = $1 ORDER BY event_id`,
    [project],
  )
  return rows.map((r) => r.row)
}

/** The same steps on either store, one after the other on one database. */
function cliSteps(mode: () => Mode): void {
  const run = (...args: string[]) => projects(mode().env, ...args)
  const D = { id: 1, name: 'default', events_per_day: null }

  test('list: a new store has the default project alone', async () => {
    printed(await run('list'), [D])
  })

  test('create, with and without a quota; a taken or bad name is refused', async () => {
    printed(await run('create', 'shop', '--events-per-day', '1000'), {
      id: 2,
      name: 'shop',
      events_per_day: 1000,
    })
    printed(await run('create', 'blog'), { id: 3, name: 'blog', events_per_day: null })
    refused(await run('create', 'shop'), 'project "shop" exists already')
    // Checked before the store is opened, so these may run side by side, embedded too.
    const names = ['Shop', '_shop', 'a shop', 'x'.repeat(64), 'café', '']
    const badNames = await Promise.all(names.map((name) => run('create', name)))
    for (const [i, name] of names.entries()) refused(badNames[i]!, badName(name))
    const quotas = ['0', '-5', '1.5', 'many', '9007199254740993']
    const badQuotas = await Promise.all(
      quotas.map((n) => run('create', 'more', `--events-per-day=${n}`)),
    )
    for (const r of badQuotas)
      refused(r, `--events-per-day must be a whole number of events per day, 1 or more\n${USAGE}`)
    printed(await run('list'), [
      D,
      { id: 2, name: 'shop', events_per_day: 1000 },
      { id: 3, name: 'blog', events_per_day: null },
    ])
  })

  test('rename keeps the id and quota; a taken, unknown or bad name is refused; default can be renamed', async () => {
    printed(await run('rename', 'shop', 'store'), { id: 2, name: 'store', events_per_day: 1000 })
    refused(await run('rename', 'store', 'blog'), 'project "blog" exists already')
    refused(await run('rename', 'nope', 'other'), 'there is no project "nope"')
    refused(await run('rename', 'store', 'Store'), badName('Store'))
    printed(await run('rename', 'default', 'main'), { ...D, name: 'main' })
    printed(await run('rename', 'main', 'default'), D)
  })

  test('quota sets a number or none; 0 and unknown projects are refused', async () => {
    printed(await run('quota', 'store', '5'), { id: 2, name: 'store', events_per_day: 5 })
    printed(await run('quota', 'store', 'none'), { id: 2, name: 'store', events_per_day: null })
    refused(
      await run('quota', 'store', '0'),
      `the quota must be a whole number of events per day, 1 or more\n${USAGE}`,
    )
    refused(await run('quota', 'nope', '5'), 'there is no project "nope"')
  })

  test('origins, visitor-id and gpc set the browser settings; bad values are refused before the store opens', async () => {
    const store = { id: 2, name: 'store', events_per_day: null }
    const origins = ['https://a.example', 'http://localhost:3000']
    printed(await run('origins', 'store', origins.join(',')), {
      ...store,
      web: { ...WEB_DEFAULTS, allowed_origins: origins },
    })
    printed(await run('visitor-id', 'store', 'persistent'), {
      ...store,
      web: { ...WEB_DEFAULTS, allowed_origins: origins, persistent_visitor_id: true },
    })
    printed(await run('gpc', 'store', 'honor'), {
      ...store,
      web: { allowed_origins: origins, persistent_visitor_id: true, honor_gpc: true },
    })
    printed(await run('origins', 'store', 'any'), {
      ...store,
      web: { allowed_origins: null, persistent_visitor_id: true, honor_gpc: true },
    })
    printed(await run('visitor-id', 'store', 'hashed'), {
      ...store,
      web: { ...WEB_DEFAULTS, honor_gpc: true },
    })
    printed(await run('gpc', 'store', 'ignore'), store)
    refused(
      await run('origins', 'store', 'https://a.example/shop'),
      `"https://a.example/shop" is not an origin as browsers send it: write "https://a.example"\n${USAGE}`,
    )
    refused(await run('gpc', 'store', 'maybe'), `gpc is honor or ignore\n${USAGE}`)
    refused(await run('origins', 'nope', 'any'), 'there is no project "nope"')
  })

  test('retention sets how many days a project keeps, default gives it back to RETENTION_DAYS; bad values are refused', async () => {
    const store = { id: 2, name: 'store', events_per_day: null }
    printed(await run('retention', 'store', '90'), {
      ...store,
      web: { ...WEB_DEFAULTS, retention_days: 90 },
    })
    const listed = JSON.parse((await run('list')).stdout) as Array<{
      name: string
      retention_days: number | null
    }>
    assert.equal(listed.find((p) => p.name === 'store')?.retention_days, 90)
    printed(await run('retention', 'store', 'default'), store)
    const why =
      "retention is a whole number of days, 1 or more, or default (the service's RETENTION_DAYS)"
    for (const bad of ['0', '1.5', 'forever', '2147483648'])
      refused(await run('retention', 'store', bad), `${why}\n${USAGE}`)
    refused(await run('retention', 'nope', '30'), 'there is no project "nope"')
  })

  test("delete: refused without --confirm, saying what it takes; then it takes the project's events, keys and Idempotency-Keys and nothing of another's", async () => {
    const m = mode()
    const before = await withDb(m, async (db) => {
      // The same event_id in both projects: two events, only one of them goes.
      const events: Array<[number, number, string]> = [
        [1, 1, 'u-default-1'],
        [2, 1, 'u-default-2'],
        [1, 2, 'u-store-1'],
        [3, 2, 'u-store-3'],
        [4, 2, 'u-store-4'],
      ]
      for (const [n, project, user] of events)
        await db.query(
          `INSERT INTO events (event_id, occurred_at, user_id, event_type, properties, project_id)
           VALUES ($1, '2026-11-10T08:00:00Z', $2, 'view', $3, $4)`,
          [uuid(n), user, JSON.stringify({ n, project }), project],
        )
      const keys = new ApiKeyStore(db)
      await keys.create('write', 'default writer', 1)
      await keys.create('admin', 'service-wide', null)
      await keys.create('write', 'store writer', 2)
      const old = await keys.create('read', 'store reader', 2)
      await keys.revoke(old.info.id)
      for (const project of [1, 2])
        await db.query(
          `INSERT INTO idempotency_keys (project_id, owner, key, body_sha256) VALUES ($1, 'anonymous', 'k', '\\x00')`,
          [project],
        )
      return eventRows(db, 1)
    })
    assert.equal(before.length, 2)

    refused(
      await run('delete', 'store'),
      'deleting project "store" removes its 3 events and 2 API keys (1 active), for good; run it again with --confirm to do it',
    )
    assert.equal(
      await withDb(m, async (db) => (await db.query('SELECT 1 FROM events')).rows.length),
      5,
    )

    assert.deepEqual(await run('delete', 'store', '--confirm'), {
      code: 0,
      stdout: '{"deleted":"store","events":3}\n',
      stderr: '',
    })
    await withDb(m, async (db) => {
      assert.deepEqual(await eventRows(db, 2), [])
      assert.deepEqual(await eventRows(db, 1), before)
      const keys = await new ApiKeyStore(db).list()
      assert.deepEqual(
        keys.map((k) => [k.name, k.project_id]),
        [
          ['default writer', 1],
          ['service-wide', null],
        ],
      )
      const { rows } = await db.query<{ project_id: number }>(
        'SELECT project_id FROM idempotency_keys',
      )
      assert.deepEqual(rows, [{ project_id: 1 }])
    })
    printed(await run('list'), [D, { id: 3, name: 'blog', events_per_day: null }])
  })

  test('the default project is never deleted, with or without --confirm; an unknown one is refused', async () => {
    refused(await run('delete', 'default'), DEFAULT_REFUSED)
    refused(await run('delete', 'default', '--confirm'), DEFAULT_REFUSED)
    refused(await run('delete', 'nope', '--confirm'), 'there is no project "nope"')
    refused(await run('delete', 'nope'), 'there is no project "nope"')
    printed(await run('list'), [D, { id: 3, name: 'blog', events_per_day: null }])
  })
}

describe('npm run projects, embedded', () => {
  let dir: string
  let mode: Mode
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ea-projects-'))
    mode = { env: { DATA_DIR: join(dir, 'data') } }
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  cliSteps(() => mode)

  test('a DATA_DIR held by the service: exit 2, and it says to stop the service', async () => {
    const held = await openStore(loadConfig(mode.env), createLogger('silent'))
    try {
      const r = await projects(mode.env, 'list')
      assert.equal(r.code, 2)
      assert.equal(r.stdout, '')
      assert.match(
        r.stderr,
        /^DATA_DIR .* is in use by another event-analytics process; .*\.\nEmbedded, this command opens DATA_DIR itself: stop the service, run it, then start the service again\.\n$/,
      )
    } finally {
      await held.end()
    }
  })
})

describe('npm run projects, PostgreSQL', { skip: await skipUnless('postgres') }, () => {
  let db: TestDatabase
  before(async () => {
    db = await createTestDatabase()
  })
  after(() => db?.drop())

  cliSteps(() => ({ env: { DATABASE_URL: db.url } }))
})

describe('npm run projects, usage', () => {
  test('a wrong command line exits 2 with the usage, before any store is opened', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ea-projects-usage-'))
    const env = { DATA_DIR: join(dir, 'never-created') }
    try {
      const cases: Array<[string[], string]> = [
        [[], 'no command given'],
        [['drop', 'x'], 'no command "drop"'],
        [['create'], 'create takes 1 argument, not 0'],
        [['rename', 'a'], 'rename takes 2 arguments, not 1'],
        [['list', 'x'], 'list takes 0 arguments, not 1'],
        [['list', '--confirm'], '--confirm goes with delete'],
        [
          ['quota', 'a', '5', '--events-per-day', '5'],
          '--events-per-day goes with create; quota changes it later',
        ],
      ]
      const results = await Promise.all(cases.map(([args]) => projects(env, ...args)))
      for (const [i, [, problem]] of cases.entries()) refused(results[i]!, `${problem}\n${USAGE}`)
      const unknown = await projects(env, 'list', '--force')
      assert.equal(unknown.code, 2)
      assert.match(unknown.stderr, /^Unknown option '--force'.*\nusage: projects create/s)
      assert.equal(existsSync(env.DATA_DIR), false)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
