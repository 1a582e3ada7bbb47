// Peak memory of `npm run export`: seeds a database with the realistic data
// set (bench/lib/seed-realistic.ts, generated inside PostgreSQL), then runs
// the export command once per format under /usr/bin/time, whose "maximum
// resident set size" is the process's peak RSS, beside the same command over
// a day with no events (what the process takes before it reads anything).
//   tsx bench/export-memory.ts --events 1000000 [--database-url URL] [--keep]
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { createLogger } from '../src/logger.ts'
import { migrate } from '../src/store/migrate.ts'
import { seedEvents } from './lib/seed.ts'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    users: { type: 'string', default: '100000' },
    'admin-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    keep: { type: 'boolean', default: false },
    formats: { type: 'string', default: 'ndjson,csv,parquet' },
  },
})
const events = Number(values.events)
const ROOT = fileURLToPath(new URL('../', import.meta.url))
const LAST_DAY = '2026-11-30'
const DAYS = 30
const name = `ea_export_mem_${events}`
const adminUrl = new URL(values['admin-url'])
const url = new URL(values['admin-url'])
url.pathname = `/${name}`

const admin = new pg.Client({ connectionString: adminUrl.toString() })
await admin.connect()
const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount
if (!exists) {
  await admin.query(`CREATE DATABASE "${name}"`)
  await migrate({ databaseUrl: url.toString() }, createLogger('silent'))
  const started = performance.now()
  await seedEvents(
    url.toString(),
    {
      dataset: 'realistic',
      ids: 'v7',
      events,
      users: Number(values.users),
      days: DAYS,
      lastDay: LAST_DAY,
    },
    (done) => process.stderr.write(`seeded ${done}\n`),
  )
  process.stderr.write(`seeded in ${Math.round((performance.now() - started) / 1000)} s\n`)
}
await admin.end()

const dir = mkdtempSync(join(tmpdir(), 'ea-export-mem-'))
function run(format: string, from: string, to: string) {
  const out = join(dir, `out.${format}`)
  const started = performance.now()
  const r = spawnSync(
    '/usr/bin/time',
    [
      '-f',
      '%M',
      process.execPath,
      '--import',
      'tsx',
      'src/cli/export.ts',
      '--from',
      from,
      '--to',
      to,
      '--format',
      format,
      '--out',
      out,
    ],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH, DATABASE_URL: url.toString(), LOG_LEVEL: 'warn' },
      encoding: 'utf8',
    },
  )
  if (r.status !== 0) throw new Error(`export failed: ${r.stderr}`)
  const kib = Number(r.stderr.trim().split('\n').at(-1))
  const bytes = statSync(out).size
  rmSync(out)
  return {
    format,
    peakRssMiB: Math.round(kib / 102.4) / 10,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    fileMiB: Math.round(bytes / 104857.6) / 10,
  }
}
const from = '2026-11-01'
const rows: unknown[] = []
// Nothing, the last 6 days (a fifth of the events) and all 30: a bounded export peaks the same at any size.
const { rows: counted } = await (async () => {
  const c = new pg.Client({ connectionString: url.toString() })
  await c.connect()
  try {
    return await c.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM events WHERE occurred_at >= '2026-11-25'",
    )
  } finally {
    await c.end()
  }
})()
for (const format of values.formats.split(',')) {
  rows.push({ ...run(format, '2000-01-01', '2000-01-01'), events: 0 })
  rows.push({ ...run(format, '2026-11-25', LAST_DAY), events: counted[0]!.n })
  rows.push({ ...run(format, from, LAST_DAY), events })
}
console.log(
  JSON.stringify(
    { events, machine: `${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores`, rows },
    null,
    1,
  ),
)
rmSync(dir, { recursive: true, force: true })
if (!values.keep) {
  const c = new pg.Client({ connectionString: adminUrl.toString() })
  await c.connect()
  await c.query(`DROP DATABASE "${name}"`)
  await c.end()
}
