import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { parse } from 'csv-parse/sync'
import { loadConfig } from '../../src/config.ts'
import { createLogger } from '../../src/logger.ts'
import { openStore } from '../../src/store/open-store.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'
import { HEADER, IMPORT_CLI, runImport, simpleCsv, tempDir, uuid, writeCsv } from './helpers.ts'

// `npm run import` as a real process: exit codes, what goes to stdout and
// stderr, the rejects file, the DATA_DIR lock.
const PROGRESS_LINE =
  /^progress: [\d,]+ rows, [\d.]+ (B|KiB|MiB) \/ [\d.]+ (B|KiB|MiB), [\d,]+ rows\/s, [\d.]+% of the file, ETA \S+$/

function rows(n: number, group: number): string[][] {
  return Array.from({ length: n }, (_, i) => [
    uuid(i, group),
    '2026-11-10T08:00:00+01:00',
    `user-${i % 5}`,
    i % 2 ? 'click' : 'view',
    i % 3 ? '"{""i"":1}"' : '',
  ])
}

describe('import CLI, embedded', () => {
  let dir: string
  let env: Record<string, string>

  before(() => {
    dir = tempDir('cli')
    env = { DATA_DIR: join(dir, 'data') }
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  test('through the bin launcher: exit 0, plain progress lines on stderr off a terminal, the exact summary on stdout', async () => {
    const file = writeCsv(dir, 'good.csv', simpleCsv(rows(50, 0xb1), '\r\n'))
    const result = await runImport(
      [file, '--json', '--batch-size', '10', '--progress-interval', '0'],
      env,
      { cwd: dir, launcher: true },
    )
    assert.equal(result.code, 0, result.stderr)
    const summary = JSON.parse(result.stdout)
    assert.deepEqual(
      { ...summary, seconds: 0, rows_per_second: 0 },
      {
        file,
        read: 50,
        inserted: 50,
        duplicates: 0,
        suppressed: 0,
        rejected: 0,
        seconds: 0,
        rows_per_second: 0,
        store: 'embedded',
        replica: 'the analytics replica catches up when the service next starts',
      },
    )
    assert.doesNotMatch(
      result.stderr,
      // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is what the test looks for
      /\r|\x1b/,
      'no carriage returns or escape codes off a terminal',
    )
    const lines = result.stderr.trimEnd().split('\n')
    assert.ok(lines.length >= 2, result.stderr)
    for (const line of lines) assert.match(line, PROGRESS_LINE)
    assert.match(lines.at(-1)!, /^progress: 50 rows, .* 100\.0% of the file, ETA 0s$/)
  })

  test('the same file again: nothing inserted, every row a duplicate, in plain words', async () => {
    const result = await runImport([join(dir, 'good.csv'), '--quiet'], env, { cwd: dir })
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stderr, '')
    assert.match(
      result.stdout,
      /^imported .*good\.csv: 50 rows read, 0 inserted, 50 duplicates, 0 rejected in [\d.]+ s \([\d,]+ rows\/s\)\n$/,
    )
  })

  test('a bad row: exit 1 naming file, line and field; earlier batches stored, nothing from its batch; --skip-invalid then loads the rest', async () => {
    const good = rows(6, 0xb2)
    const file = writeCsv(
      dir,
      'bad.csv',
      `${[
        HEADER,
        ...good.slice(0, 2).map((r) => r.join(',')), // lines 2, 3: batch 1
        `${uuid(2, 0xb2)},2026-11-10T08:00:00Z,u,"spans${'\r\n'}two lines",`, // lines 4-5
        good[3]!.join(','), // line 6: batch 2
        good[4]!.join(','), // line 7: batch 3, before the bad row
        `${uuid(5, 0xb2)},2026-11-31T08:00:00Z,u,view,`, // line 8: no 31 November
      ].join('\r\n')}\r\n`,
    )
    const stopped = await runImport([file, '--json', '--batch-size', '2', '--quiet'], env, {
      cwd: dir,
    })
    assert.equal(stopped.code, 1)
    assert.match(
      stopped.stderr,
      /^error: bad\.csv, line 8, field occurred_at: is not a valid date-time\n/,
    )
    assert.match(stopped.stderr, /--skip-invalid/)
    const summary = JSON.parse(stopped.stdout)
    assert.deepEqual(
      [summary.read, summary.inserted, summary.rejected, summary.stopped],
      [6, 4, 1, { line: 8, field: 'occurred_at', message: 'is not a valid date-time' }],
    )

    // Line 7 shares the bad row's batch: only this run stores it.
    const skipped = await runImport(
      [file, '--json', '--skip-invalid', '--batch-size', '2', '--quiet'],
      env,
      { cwd: dir },
    )
    assert.equal(skipped.code, 0, skipped.stderr)
    const second = JSON.parse(skipped.stdout)
    const rejectsFile = `${file}.rejects.csv`
    assert.deepEqual(
      [second.read, second.inserted, second.duplicates, second.rejected, second.rejects_file],
      [6, 1, 4, 1, rejectsFile],
    )
    const rejects = parse(readFileSync(rejectsFile), { columns: true }) as Array<
      Record<string, string>
    >
    assert.deepEqual(rejects, [
      {
        event_id: uuid(5, 0xb2),
        occurred_at: '2026-11-31T08:00:00Z',
        user_id: 'u',
        event_type: 'view',
        properties_json: '',
        line: '8',
        error: 'occurred_at is not a valid date-time',
      },
    ])
  })

  test('a DATA_DIR in use by the service: exit 1, and it says to stop the service', async () => {
    const held = await openStore(loadConfig(env), createLogger('silent'))
    try {
      const result = await runImport([join(dir, 'good.csv'), '--quiet'], env, { cwd: dir })
      assert.equal(result.code, 1)
      assert.match(
        result.stderr,
        /cannot import: DATA_DIR .* is in use by another event-analytics process/,
      )
      assert.match(result.stderr, /stop the service, import, then start it again/)
      assert.equal(result.stdout, '')
    } finally {
      await held.end()
    }
  })

  test('usage errors exit 2, a missing file exits 1, both before any store is opened', async () => {
    const [none, rejectsAlone, missing] = await Promise.all([
      runImport([], env, { cwd: dir }),
      runImport([join(dir, 'good.csv'), '--rejects', 'x.csv'], env, { cwd: dir }),
      runImport([join(dir, 'nope.csv')], { DATA_DIR: join(dir, 'never-created') }, { cwd: dir }),
    ])
    assert.equal(none.code, 2)
    assert.match(none.stderr, /no file given\nusage: import FILE\.csv/)
    assert.equal(rejectsAlone.code, 2)
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /cannot read .*nope\.csv: ENOENT/)
    assert.equal(existsSync(join(dir, 'never-created')), false)
  })
})

describe('import CLI, PostgreSQL', { skip: await skipUnless('postgres') }, () => {
  let dir: string
  let db: TestDatabase

  before(async () => {
    dir = tempDir('cli-pg')
    db = await createTestDatabase()
  })
  after(async () => {
    await db?.drop()
    rmSync(dir, { recursive: true, force: true })
  })

  test('imports, then imports again with nothing new, and says the replica catches up', async () => {
    const file = writeCsv(dir, 'events.csv', simpleCsv(rows(3000, 0xc1)))
    const first = await runImport(
      [file, '--batch-size', '1000', '--quiet'],
      { DATABASE_URL: db.url },
      { cwd: dir },
    )
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stdout, /3,000 rows read, 3,000 inserted, 0 duplicates, 0 rejected/)
    assert.match(
      first.stdout,
      /the analytics replica of a running service catches up within seconds/,
    )
    assert.equal(await db.count(), 3000)
    const again = await runImport(
      [file, '--json', '--quiet'],
      { DATABASE_URL: db.url },
      { cwd: dir },
    )
    assert.equal(again.code, 0, again.stderr)
    assert.deepEqual(
      (({ read, inserted, duplicates, store }) => ({ read, inserted, duplicates, store }))(
        JSON.parse(again.stdout),
      ),
      { read: 3000, inserted: 0, duplicates: 3000, store: 'server' },
    )
  })

  test('Ctrl-C: the batch being inserted commits, the summary says what was stored, exit 130', async () => {
    const file = writeCsv(dir, 'big.csv', simpleCsv(rows(200_000, 0xc2)))
    const child = spawn(
      process.execPath,
      [
        '--import',
        import.meta.resolve('tsx'),
        IMPORT_CLI,
        file,
        '--json',
        '--batch-size',
        '1000',
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
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d))
    child.stderr.on('data', (d: Buffer) => {
      // Interrupted once rows are flowing.
      if (!stderr.includes('progress:') && d.toString().includes('progress:')) child.kill('SIGINT')
      stderr += d
    })
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    assert.equal(code, 130, stderr)
    const summary = JSON.parse(stdout)
    assert.equal(summary.interrupted, true)
    assert.ok(summary.inserted > 0 && summary.inserted < 200_000, stdout)
    assert.equal(summary.inserted % 1000, 0, 'whole batches only')
    const { rows: counted } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events WHERE event_id::text LIKE '000000c2-%'`,
    )
    assert.equal(counted[0]!.n, summary.inserted)
  })
})
