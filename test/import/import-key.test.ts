import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { loadConfig } from '../../src/config.ts'
import { createLogger } from '../../src/logger.ts'
import { openStore } from '../../src/store/open-store.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'
import { IMPORT_CLI, runImport, simpleCsv, tempDir, uuid, writeCsv } from './helpers.ts'

// --idempotency-key: the real CLI, twice or more with one key, on PostgreSQL
// and on the embedded store.
function rows(n: number, group: number, type = 'view'): string[][] {
  return Array.from({ length: n }, (_, i) => [
    uuid(i, group),
    '2026-11-10T08:00:00Z',
    `user-${i % 5}`,
    type,
    '',
  ])
}

const MISMATCH =
  /^idempotency key (\S+) was already used to import a different file \(the content differs from .*\)\.\nNothing was imported\. Use a new key for a new file\.\n$/
const IN_PROGRESS =
  /^an import with idempotency key k-running is still running; nothing was imported\.\nRun this again once it has finished to see its summary\./

/** The cases every store must pass; `count` reads the store after the CLI has exited. */
function keyCases(
  context: () => {
    dir: string
    env: Record<string, string>
    count: (group: number) => Promise<number>
    deleteOne: (id: string) => Promise<void>
  },
) {
  test('same key, same file: the first run imports; the second prints its summary again, marked replayed, and imports nothing', async () => {
    const { dir, env, count, deleteOne } = context()
    const file = writeCsv(dir, 'a.csv', simpleCsv(rows(30, 0xd1)))
    const first = await runImport([file, '--json', '--quiet', '--idempotency-key', 'k-same'], env, {
      cwd: dir,
    })
    assert.equal(first.code, 0, first.stderr)
    const summary = JSON.parse(first.stdout)
    assert.deepEqual([summary.read, summary.inserted, summary.replayed], [30, 30, undefined])
    // A real re-run would store this row again: a replay must not.
    await deleteOne(uuid(0, 0xd1))

    const again = await runImport([file, '--json', '--quiet', '--idempotency-key', 'k-same'], env, {
      cwd: dir,
    })
    assert.equal(again.code, 0, again.stderr)
    assert.equal(again.stderr, '')
    assert.deepEqual(JSON.parse(again.stdout), { ...summary, replayed: true })
    assert.equal(await count(0xd1), 29)

    const text = await runImport([file, '--quiet', '--idempotency-key', 'k-same'], env, {
      cwd: dir,
    })
    assert.equal(text.code, 0, text.stderr)
    assert.match(
      text.stdout,
      /^replayed: .*a\.csv was already imported with idempotency key k-same; nothing was imported now\. That import's summary:\nimported .*a\.csv: 30 rows read, 30 inserted, 0 duplicates, 0 rejected in [\d.]+ s/,
    )
    assert.equal(await count(0xd1), 29)
  })

  test('same key, another file: exit 1 with the reason, nothing imported', async () => {
    const { dir, env, count } = context()
    const first = await runImport(
      [
        writeCsv(dir, 'b1.csv', simpleCsv(rows(5, 0xd2))),
        '--quiet',
        '--idempotency-key',
        'k-other',
      ],
      env,
      { cwd: dir },
    )
    assert.equal(first.code, 0, first.stderr)
    const other = await runImport(
      [
        writeCsv(dir, 'b2.csv', simpleCsv(rows(5, 0xd3))),
        '--quiet',
        '--idempotency-key',
        'k-other',
      ],
      env,
      { cwd: dir },
    )
    assert.equal(other.code, 1)
    assert.match(other.stderr, MISMATCH)
    assert.equal(other.stdout, '')
    assert.equal(await count(0xd3), 0)
  })

  test('a run that stops at a bad row gives the key back: the fixed file then imports under the same key', async () => {
    const { dir, env, count } = context()
    const bad = rows(4, 0xd4)
    bad[2]![1] = 'not a time'
    const stopped = await runImport(
      [writeCsv(dir, 'c.csv', simpleCsv(bad)), '--quiet', '--idempotency-key', 'k-fix'],
      env,
      { cwd: dir },
    )
    assert.equal(stopped.code, 1)
    assert.match(stopped.stderr, /line 4, field occurred_at/)
    const fixed = await runImport(
      [
        writeCsv(dir, 'c.csv', simpleCsv(rows(4, 0xd4))),
        '--json',
        '--quiet',
        '--idempotency-key',
        'k-fix',
      ],
      env,
      { cwd: dir },
    )
    assert.equal(fixed.code, 0, fixed.stderr)
    assert.deepEqual(
      [JSON.parse(fixed.stdout).inserted, JSON.parse(fixed.stdout).replayed],
      [4, undefined],
    )
    assert.equal(await count(0xd4), 4)
  })

  test('a key that is not 1 to 255 printable ASCII characters is a usage error', async () => {
    const { dir, env } = context()
    const result = await runImport(
      [writeCsv(dir, 'd.csv', simpleCsv(rows(1, 0xd5))), '--idempotency-key', 'has space'],
      env,
      { cwd: dir },
    )
    assert.equal(result.code, 2)
    assert.match(
      result.stderr,
      /^--idempotency-key must be 1 to 255 printable ASCII characters\nusage:/,
    )
  })
}

describe('import --idempotency-key, PostgreSQL', { skip: await skipUnless('postgres') }, () => {
  let dir: string
  let db: TestDatabase
  before(async () => {
    dir = tempDir('key-pg')
    db = await createTestDatabase()
  })
  after(async () => {
    await db?.drop()
    rmSync(dir, { recursive: true, force: true })
  })
  const countGroup = async (group: number) =>
    (
      await db.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM events WHERE event_id::text LIKE $1',
        [`${group.toString(16).padStart(8, '0')}-%`],
      )
    ).rows[0]!.n

  keyCases(() => ({
    dir,
    env: { DATABASE_URL: db.url },
    count: countGroup,
    deleteOne: async (id) =>
      void (await db.pool.query('DELETE FROM events WHERE event_id = $1', [id])),
  }))

  test('while the first run is still going: exit 1 saying so; after it ends, its summary', async () => {
    const file = writeCsv(dir, 'running.csv', simpleCsv(rows(20_000, 0xd6)))
    const args = [file, '--json', '--idempotency-key', 'k-running']
    const first = spawn(
      process.execPath,
      [
        '--import',
        import.meta.resolve('tsx'),
        IMPORT_CLI,
        ...args,
        '--batch-size',
        '500',
        '--progress-interval',
        '0',
      ],
      {
        cwd: dir,
        env: { PATH: process.env.PATH, DATABASE_URL: db.url, LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    first.stdout.on('data', (d: Buffer) => (stdout += d))
    // Held still once rows are flowing (the key is claimed by then), so it cannot finish first.
    const flowing = new Promise<void>((resolve) =>
      first.stderr.on('data', (d: Buffer) => {
        if (d.toString().includes('progress:')) resolve()
      }),
    )
    const exited = new Promise<number | null>((resolve) => first.on('close', resolve))
    await flowing
    first.kill('SIGSTOP')
    try {
      const second = await runImport([...args, '--quiet'], { DATABASE_URL: db.url }, { cwd: dir })
      assert.equal(second.code, 1)
      assert.match(second.stderr, IN_PROGRESS)
      assert.equal(second.stdout, '')
    } finally {
      first.kill('SIGCONT')
    }
    assert.equal(await exited, 0)
    assert.equal(JSON.parse(stdout).inserted, 20_000)
    const replay = await runImport([...args, '--quiet'], { DATABASE_URL: db.url }, { cwd: dir })
    assert.equal(replay.code, 0, replay.stderr)
    assert.deepEqual(JSON.parse(replay.stdout), { ...JSON.parse(stdout), replayed: true })
  })

  test('Ctrl-C gives the key back: the same command then imports the rest', async () => {
    const file = writeCsv(dir, 'interrupted.csv', simpleCsv(rows(100_000, 0xd7)))
    const args = [file, '--json', '--idempotency-key', 'k-interrupted', '--batch-size', '1000']
    const child = spawn(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), IMPORT_CLI, ...args, '--progress-interval', '0'],
      {
        cwd: dir,
        env: { PATH: process.env.PATH, DATABASE_URL: db.url, LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d))
    let signalled = false
    child.stderr.on('data', (d: Buffer) => {
      if (!signalled && d.toString().includes('progress:')) {
        signalled = true
        child.kill('SIGINT')
      }
    })
    assert.equal(await new Promise<number | null>((resolve) => child.on('close', resolve)), 130)
    const interrupted = JSON.parse(stdout)
    assert.ok(interrupted.inserted < 100_000, stdout)
    const rerun = await runImport([...args, '--quiet'], { DATABASE_URL: db.url }, { cwd: dir })
    assert.equal(rerun.code, 0, rerun.stderr)
    const summary = JSON.parse(rerun.stdout)
    assert.deepEqual(
      [summary.read, summary.inserted, summary.duplicates, summary.replayed],
      [100_000, 100_000 - interrupted.inserted, interrupted.inserted, undefined],
    )
    assert.equal(await countGroup(0xd7), 100_000)
  })

  test("the keys are kept under an owner of their own, apart from API keys' ones, each with its run's exit status", async () => {
    const { rows: owners } = await db.pool.query<{
      owner: string
      key: string
      status: number | null
    }>('SELECT owner, key, status FROM idempotency_keys ORDER BY key')
    assert.deepEqual(owners, [
      { owner: 'cli:import', key: 'k-fix', status: 0 },
      { owner: 'cli:import', key: 'k-interrupted', status: 0 },
      { owner: 'cli:import', key: 'k-other', status: 0 },
      { owner: 'cli:import', key: 'k-running', status: 0 },
      { owner: 'cli:import', key: 'k-same', status: 0 },
    ])
  })
})

describe('import --idempotency-key, embedded', () => {
  let dir: string
  before(() => {
    dir = tempDir('key-embedded')
  })
  after(() => rmSync(dir, { recursive: true, force: true }))
  const env = () => ({ DATA_DIR: join(dir, 'data') })
  // The store is opened only between runs: a DATA_DIR is one process's at a time.
  const withStore = async <T>(
    fn: (db: Awaited<ReturnType<typeof openStore>>) => Promise<T>,
  ): Promise<T> => {
    const db = await openStore(loadConfig(env()), createLogger('silent'))
    try {
      return await fn(db)
    } finally {
      await db.end()
    }
  }

  keyCases(() => ({
    dir,
    env: env(),
    count: (group) =>
      withStore(
        async (db) =>
          (
            await db.query<{ n: number }>(
              'SELECT count(*)::int AS n FROM events WHERE event_id::text LIKE $1',
              [`${group.toString(16).padStart(8, '0')}-%`],
            )
          ).rows[0]!.n,
      ),
    deleteOne: (id) =>
      withStore(
        async (db) => void (await db.query('DELETE FROM events WHERE event_id = $1', [id])),
      ),
  }))
})
