import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'

// `npm run users` as a real process beside the database: delete runs the
// store's part to the end and prints the deletion; status and lift follow it.
const CLI = fileURLToPath(new URL('../../src/cli/users.ts', import.meta.url))
const TSX = import.meta.resolve('tsx')

function users(env: Record<string, string>, ...args: string[]) {
  const cwd = mkdtempSync(join(tmpdir(), 'ea-users-cwd-'))
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', ...env },
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d))
  child.stderr.on('data', (d: Buffer) => (stderr += d))
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => {
      rmSync(cwd, { recursive: true, force: true })
      resolve({ code, stdout, stderr })
    })
  })
}

describe('npm run users, on PostgreSQL', { skip: await skipUnless('postgres') }, () => {
  let db: TestDatabase
  before(async () => {
    db = await createTestDatabase()
    await db.pool.query(
      `INSERT INTO events (event_id, occurred_at, user_id, event_type)
       SELECT gen_random_uuid(), TIMESTAMPTZ '2026-10-01' + i * INTERVAL '1 minute',
              CASE WHEN i % 4 = 0 THEN 'cli-victim' ELSE 'other' END, 'view'
       FROM generate_series(1, 400) i`,
    )
  })
  after(async () => {
    await db?.drop()
  })

  test('delete prints the finished deletion; status shows it; lift accepts the id again', async () => {
    const env = { DATABASE_URL: db.url }
    const deleted = await users(env, 'delete', 'cli-victim')
    assert.equal(deleted.code, 0, deleted.stderr)
    const deletion = JSON.parse(deleted.stdout)
    assert.equal(deletion.state, 'done')
    assert.equal(deletion.store_events, 100)
    assert.deepEqual(deletion.ids, ['cli-victim'])
    assert.equal(deletion.requested_by, 'cli')
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n, count(*) FILTER (WHERE user_id = 'cli-victim')::int AS victim FROM events",
    )
    assert.deepEqual(rows[0], { n: 300, victim: 0 })

    const status = await users(env, 'status', deletion.deletion_id)
    assert.equal(status.code, 0, status.stderr)
    assert.equal(JSON.parse(status.stdout).store_events, 100)
    const unknown = await users(env, 'status', 'not-a-deletion')
    assert.equal(unknown.code, 1)

    const lifted = await users(env, 'lift', 'cli-victim')
    assert.equal(lifted.code, 0, lifted.stderr)
    assert.deepEqual(JSON.parse(lifted.stdout), { lifted: true })
    assert.equal((await users(env, 'lift', 'cli-victim')).code, 1)
    const usage = await users(env, 'erase', 'x')
    assert.equal(usage.code, 2)
    assert.match(usage.stderr, /^no command "erase"\nusage: users delete/)
  })
})
