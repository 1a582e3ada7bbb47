import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import { ApiKeyStore, hashKey, type Scope } from '../../src/auth/api-keys.ts'
import { Authenticator } from '../../src/auth/authenticator.ts'
import { installAccessControl, type RouteScope } from '../../src/http/access-control.ts'
import { MemoryRateLimitStore } from '../../src/http/rate-limit/token-bucket.ts'
import { createLogger } from '../../src/logger.ts'
import type { Project, ProjectStore } from '../../src/projects/project-store.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { makeEvents } from '../helpers/events.ts'
import { skipUnless } from '../helpers/services.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

describe('API keys and scopes (embedded)', () => {
  let t: TestApp
  const keys: Record<'read' | 'write' | 'admin', string> = { read: '', write: '', admin: '' }
  const call = (method: 'GET' | 'POST', url: string, headers: Record<string, string> = {}) =>
    t.app.inject({ method, url, headers, ...(method === 'POST' ? { payload: makeEvents(1) } : {}) })

  before(async () => {
    t = await startTestApp({ queue: false })
    const store = new ApiKeyStore(t.deps.db)
    for (const scope of ['read', 'write', 'admin'] as const)
      keys[scope] = (await store.create(scope, `test ${scope}`, 1)).key
  })
  after(() => t?.close())

  test('each scope reaches its routes and only those: 200/201, 401, 403', async () => {
    const routes: Array<['GET' | 'POST', string, 'read' | 'write']> = [
      ['POST', '/events', 'write'],
      ['GET', '/stats/dau?from=2026-11-01&to=2026-11-02', 'read'],
      ['GET', '/stats/top-events?from=2026-11-01&to=2026-11-02', 'read'],
      ['GET', '/stats/retention?start_date=2026-11-01', 'read'],
      ['GET', '/stats/breakdown?from=2026-11-01&to=2026-11-02&by=event_type', 'read'],
      ['GET', '/stats/cohorts?from=2026-11-01&to=2026-11-02', 'read'],
      ['GET', '/stats/range', 'read'],
      ['GET', '/events/queue/status', 'read'],
    ]
    for (const [method, url, needs] of routes) {
      const ok = method === 'POST' ? 201 : 200
      assert.equal(
        (await call(method, url, { authorization: `Bearer ${keys[needs]}` })).statusCode,
        ok,
        `${url} with its own scope`,
      )
      assert.equal(
        (await call(method, url, { 'x-api-key': keys.admin })).statusCode,
        ok,
        `${url} with admin`,
      )
      const other = needs === 'read' ? keys.write : keys.read
      const forbidden = await call(method, url, { authorization: `Bearer ${other}` })
      assert.equal(forbidden.statusCode, 403, `${url} with the other scope`)
      assert.equal(forbidden.json().code, 'FORBIDDEN')
      const missing = await call(method, url)
      assert.equal(missing.statusCode, 401, `${url} without a key`)
      assert.equal(missing.json().code, 'UNAUTHORIZED')
      assert.equal(missing.headers['www-authenticate'], 'Bearer realm="event-analytics"')
      assert.equal(
        (await call(method, url, { 'x-api-key': 'ea_not-a-real-key' })).statusCode,
        401,
        `${url} with an unknown key`,
      )
    }
  })

  test('HEAD asks for the scope of its GET', async () => {
    const head = (key: string) =>
      t.app.inject({ method: 'HEAD', url: '/stats/range', headers: { 'x-api-key': key } })
    assert.equal((await head(keys.read)).statusCode, 200)
    assert.equal((await head(keys.write)).statusCode, 403)
    assert.equal((await t.app.inject({ method: 'HEAD', url: '/health' })).statusCode, 200)
  })

  test('/health, /metrics, the OpenAPI document, Swagger UI and the dashboard stay open', async () => {
    assert.equal((await call('GET', '/health')).statusCode, 200)
    for (const url of [
      '/metrics',
      '/openapi.json',
      '/docs',
      '/docs/',
      '/docs/json',
      '/docs/yaml',
      '/docs/static/swagger-initializer.js',
      '/',
    ]) {
      assert.equal((await call('GET', url)).statusCode, 200, url)
    }
    // Swagger UI's own routes are open too, whichever answer they give.
    assert.equal((await call('GET', '/docs/static/index.html')).statusCode, 302)
    assert.equal((await call('GET', '/dashboard/no-such-file.js')).json().code, 'NOT_FOUND')
  })

  test('keys are stored as SHA-256 digests, never in clear', async () => {
    const { rows } = await t.deps.db.query<Record<string, unknown>>('SELECT * FROM api_keys')
    assert.equal(rows.length, 3)
    const dump = JSON.stringify(rows, (_k, v) =>
      v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v,
    )
    for (const key of Object.values(keys)) {
      assert.ok(!dump.includes(key), 'the key itself is not stored')
      assert.ok(dump.includes(hashKey(key).toString('hex')), 'its digest is')
    }
  })
})

describe('the scope a route declares (no servers)', () => {
  const KEYS: Record<Scope, string> = {
    read: 'read-key',
    write: 'write-key',
    admin: 'admin-key',
    public: 'public-key',
  }
  const store = {
    anyEverCreated: async () => true,
    findActive: async (digest: Buffer) => {
      const scope = (Object.keys(KEYS) as Scope[]).find((s) => hashKey(KEYS[s]).equals(digest))
      return scope && { id: scope, scope, project_id: 1, key_hash: digest }
    },
  } as unknown as ApiKeyStore
  // One project, which every key belongs to: the scopes alone decide.
  const only: Project = {
    id: 1,
    name: 'default',
    events_per_day: null,
    created_at: '',
    allowed_origins: null,
    persistent_visitor_id: false,
    honor_gpc: false,
    retention_days: null,
  }
  const projects = {
    known: async () => [only],
    list: async () => [only],
    byId: async (id: number) => (id === only.id ? only : undefined),
    byName: async (name: string) => (name === only.name ? only : undefined),
  } as unknown as ProjectStore
  const app = Fastify()
  installAccessControl(app, {
    authenticator: new Authenticator(store, undefined),
    projects,
    limiter: new MemoryRateLimitStore(),
    policy: { capacity: 1000, refillPerMs: 1 },
    publicPolicy: { capacity: 1000, refillPerMs: 1 },
    log: createLogger('silent'),
  })
  app.get('/ingest', { config: { scope: 'write', ingestion: true } }, async () => 'ok')
  for (const scope of ['open', 'read', 'write', 'admin'] as const satisfies readonly RouteScope[]) {
    app.get(`/${scope}`, { config: { scope } }, async () => 'ok')
  }
  app.get('/undeclared', async () => 'ok')
  after(() => app.close())

  const status = async (url: string, key?: Scope) =>
    (await app.inject({ url, headers: key ? { 'x-api-key': KEYS[key] } : {} })).statusCode

  test('open needs no key; read and write need their own scope or admin; admin needs admin', async () => {
    assert.deepEqual(
      { none: await status('/open'), read: await status('/open', 'read') },
      { none: 200, read: 200 },
    )
    for (const scope of ['read', 'write', 'admin'] as const) {
      const got = {
        none: await status(`/${scope}`),
        read: await status(`/${scope}`, 'read'),
        write: await status(`/${scope}`, 'write'),
        admin: await status(`/${scope}`, 'admin'),
        public: await status(`/${scope}`, 'public'),
      }
      assert.deepEqual(
        got,
        {
          none: 401,
          read: scope === 'read' ? 200 : 403,
          write: scope === 'write' ? 200 : 403,
          admin: 200,
          public: 403,
        },
        `/${scope}`,
      )
    }
  })

  test('a public key reaches the ingestion routes alone; write and admin keys reach them too', async () => {
    assert.deepEqual(
      {
        none: await status('/ingest'),
        read: await status('/ingest', 'read'),
        write: await status('/ingest', 'write'),
        admin: await status('/ingest', 'admin'),
        public: await status('/ingest', 'public'),
      },
      { none: 401, read: 403, write: 200, admin: 200, public: 200 },
    )
    const res = await app.inject({ url: '/read', headers: { 'x-api-key': KEYS.public } })
    assert.deepEqual(
      { status: res.statusCode, code: res.json().code, message: res.json().message },
      {
        status: 403,
        code: 'FORBIDDEN',
        message: "this key's scope is public; the route needs read",
      },
    )
  })

  test('a route that declares no scope needs an admin key: closed by default', async () => {
    assert.deepEqual(
      {
        none: await status('/undeclared'),
        read: await status('/undeclared', 'read'),
        write: await status('/undeclared', 'write'),
        admin: await status('/undeclared', 'admin'),
        public: await status('/undeclared', 'public'),
      },
      { none: 401, read: 403, write: 403, admin: 200, public: 403 },
    )
  })
})

describe('no key anywhere: the service is open', () => {
  test('every route answers without a key', async () => {
    const t = await startTestApp({ queue: false })
    try {
      assert.equal(
        (await t.app.inject({ method: 'POST', url: '/events', payload: makeEvents(1) })).statusCode,
        201,
      )
      assert.equal((await t.app.inject('/stats/dau?from=2026-11-01&to=2026-11-01')).statusCode, 200)
    } finally {
      await t.close()
    }
  })

  test('API_KEY alone closes it and acts as an admin key', async () => {
    const t = await startTestApp({ queue: false, env: { API_KEY: 'a-long-enough-admin-key' } })
    try {
      assert.equal(
        (await t.app.inject({ method: 'POST', url: '/events', payload: makeEvents(1) })).statusCode,
        401,
      )
      const headers = { authorization: 'Bearer a-long-enough-admin-key' }
      assert.equal(
        (await t.app.inject({ method: 'POST', url: '/events', payload: makeEvents(1), headers }))
          .statusCode,
        201,
      )
      assert.equal(
        (await t.app.inject({ url: '/stats/dau?from=2026-11-01&to=2026-11-01', headers }))
          .statusCode,
        200,
      )
    } finally {
      await t.close()
    }
  })
})

describe('npm run keys (server mode)', { skip: await skipUnless('postgres') }, () => {
  let db: TestDatabase
  before(async () => {
    db = await createTestDatabase()
  })
  after(() => db?.drop())

  const keys = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/keys.ts', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, DATABASE_URL: db.url, LOG_LEVEL: 'warn' },
    })

  test('create shows the key once, list shows only its prefix, revoke ends it', async () => {
    const created = keys('create', '--scope', 'write', '--name', 'ingest')
    assert.equal(created.status, 0, created.stderr)
    const { key, id, scope, key_prefix, project_id, project } = JSON.parse(created.stdout)
    assert.equal(scope, 'write')
    // One project only: it is the key's without --project, as before projects.
    assert.deepEqual([project_id, project], [1, 'default'])
    assert.match(key, /^ea_[A-Za-z0-9_-]{43}$/)
    const t = await startTestApp({ databaseUrl: db.url, queue: false })
    try {
      const post = () =>
        t.app.inject({
          method: 'POST',
          url: '/events',
          payload: makeEvents(1),
          headers: { 'x-api-key': key },
        })
      assert.equal((await post()).statusCode, 201)
      const listed = keys('list')
      assert.ok(!listed.stdout.includes(key))
      assert.deepEqual(
        JSON.parse(listed.stdout).map((k: { id: string; key_prefix: string; project: string }) => [
          k.id,
          k.key_prefix,
          k.project,
        ]),
        [[id, key_prefix, 'default']],
      )
      assert.equal(keys('revoke', key_prefix).status, 0)
      assert.equal(keys('create', '--scope', 'nope').status, 2)
    } finally {
      await t.close()
    }
    // A fresh process (no cache) refuses the revoked key at once.
    const fresh = await startTestApp({ databaseUrl: db.url, queue: false })
    try {
      const res = await fresh.app.inject({
        method: 'POST',
        url: '/events',
        payload: makeEvents(1),
        headers: { 'x-api-key': key },
      })
      assert.equal(res.statusCode, 401)
    } finally {
      await fresh.close()
    }
  })

  test('with two projects a key names its project; an admin key without one is service-wide', async () => {
    await db.pool.query("INSERT INTO projects (name) VALUES ('shop')")
    const created = (...args: string[]) => {
      const r = keys('create', ...args)
      assert.equal(r.status, 0, r.stderr)
      return JSON.parse(r.stdout)
    }
    const shop = created('--project', 'shop', '--scope', 'read', '--name', 'shop reader')
    assert.deepEqual([shop.project_id, shop.project, shop.scope], [2, 'shop', 'read'])
    const admin = created('--scope', 'admin', '--name', 'operator')
    assert.deepEqual([admin.project_id, admin.project], [null, null])

    const ambiguous = keys('create', '--scope', 'write')
    assert.equal(ambiguous.status, 2)
    assert.equal(ambiguous.stdout, '')
    assert.equal(
      ambiguous.stderr,
      'a write key belongs to one project and there are 2: name it with --project NAME (npm run projects -- list shows them)\n',
    )
    for (const args of [
      ['create', '--project', 'nope', '--scope', 'read'],
      ['list', '--project', 'nope'],
    ]) {
      const r = keys(...args)
      assert.deepEqual([r.status, r.stdout, r.stderr], [2, '', 'there is no project "nope"\n'])
    }

    const names = (r: ReturnType<typeof keys>) => {
      assert.equal(r.status, 0, r.stderr)
      return JSON.parse(r.stdout).map((k: { name: string; project: string | null }) => [
        k.name,
        k.project,
      ])
    }
    assert.deepEqual(names(keys('list', '--project', 'shop')), [['shop reader', 'shop']])
    assert.deepEqual(names(keys('list')), [
      ['ingest', 'default'],
      ['shop reader', 'shop'],
      ['operator', null],
    ])
  })
})
