import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { type ServiceProcess, spawnService, untilHealthy } from '../helpers/child.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { freePort, skipUnless } from '../helpers/services.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

// An open service (no key yet) is closed by its first key on every API
// process at once, not when a cache expires.
describe('the first key closes every process at once', {
  skip: await skipUnless('postgres'),
}, () => {
  let db: TestDatabase
  let t: TestApp
  let child: ServiceProcess
  let port: number

  before(async () => {
    db = await createTestDatabase()
    t = await startTestApp({ databaseUrl: db.url, queue: false })
    port = await freePort()
    child = spawnService('api', {
      DATABASE_URL: db.url,
      PORT: String(port),
      USE_QUEUE: 'false',
      DUCKDB_PATH: ':memory:',
      LOG_LEVEL: 'warn',
    })
    await untilHealthy(port)
  })
  after(async () => {
    child?.child.kill('SIGKILL')
    await child?.exited
    await t?.close()
    await db?.drop()
  })

  test('open, then the CLI creates a key: the very next key-less request is 401 in this process and the other', async () => {
    const url = '/stats/range'
    assert.equal((await t.app.inject(url)).statusCode, 200)
    assert.equal((await fetch(`http://127.0.0.1:${port}${url}`)).status, 200)

    const created = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/keys.ts', 'create', '--scope', 'read'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, DATABASE_URL: db.url, LOG_LEVEL: 'warn' },
      },
    )
    assert.equal(created.status, 0, created.stderr)
    const { key } = JSON.parse(created.stdout)

    const here = await t.app.inject(url)
    assert.equal(here.statusCode, 401)
    assert.equal(here.json().code, 'UNAUTHORIZED')
    assert.equal(here.headers['www-authenticate'], 'Bearer realm="event-analytics"')
    assert.equal((await fetch(`http://127.0.0.1:${port}${url}`)).status, 401)
    assert.equal(
      (await t.app.inject({ url, headers: { authorization: `Bearer ${key}` } })).statusCode,
      200,
    )
  })
})
