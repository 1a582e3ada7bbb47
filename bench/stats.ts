// Analytics benchmark: seeds PostgreSQL, lets the service's sync fill its DuckDB
// replica, then times every /stats endpoint over HTTP beside the same queries
// run directly on DuckDB and plain SQL on PostgreSQL.
//   npm run bench:stats -- --events 10000000 --users 100000 --days 30
import { mkdtempSync, rmSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { request } from 'undici'
import { DuckDbReplica } from '../src/analytics/duckdb-replica.ts'
import { createLogger } from '../src/logger.ts'
import { dailyActiveUsers } from '../src/stats/dau.ts'
import { parseDay } from '../src/stats/params.ts'
import { weeklyRetention } from '../src/stats/retention.ts'
import { topEvents } from '../src/stats/top-events.ts'
import { createSandbox } from './lib/sandbox.ts'
import { seedEvents } from './lib/seed.ts'
import { Service } from './lib/service.ts'
import { percentile } from './lib/stats.ts'

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    users: { type: 'string', default: '100000' },
    days: { type: 'string', default: '30' },
    runs: { type: 'string', default: '50' },
    'pg-runs': { type: 'string', default: '3' },
    // Seeding 10M rows takes minutes: --keep leaves the database behind, --database reuses one.
    keep: { type: 'boolean', default: false },
    database: { type: 'string' },
  },
})
const events = Number(args.events)
const users = Number(args.users)
const days = Number(args.days)
const runs = Number(args.runs)
const pgRuns = Number(args['pg-runs'])
const ADMIN = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const REDIS = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'

const lastDay = '2026-10-30'
const day = (s: string) => parseDay('d', s, [])!
const shift = (s: string, n: number) => new Date(Date.parse(`${s}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10)
const firstDay = shift(lastDay, -(days - 1))
const weekAgo = shift(lastDay, -6)
const cohortStart = firstDay

interface Query {
  name: string
  url: string
  duck: (r: DuckDbReplica) => Promise<unknown>
  pg: { sql: string; values: unknown[] }
}

// Plain SQL a developer would write against the PostgreSQL table, for scale.
const PG_DAU = `SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, count(DISTINCT user_id) FROM events
  WHERE occurred_at >= $1::date AND occurred_at < $2::date + 1 GROUP BY 1 ORDER BY 1`
const PG_TOP = `SELECT event_type, count(*), count(DISTINCT user_id) FROM events
  WHERE occurred_at >= $1::date AND occurred_at < $2::date + 1 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $3`
const PG_RETENTION = `WITH firsts AS (SELECT user_id, min(occurred_at AT TIME ZONE 'UTC')::date AS first_day FROM events GROUP BY user_id),
  cohort AS (SELECT user_id FROM firsts WHERE first_day >= $1::date AND first_day < $1::date + 7)
  SELECT ((e.occurred_at AT TIME ZONE 'UTC')::date - $1::date) / 7 AS week, count(DISTINCT e.user_id)
  FROM events e JOIN cohort c USING (user_id)
  WHERE e.occurred_at >= $1::date + 7 AND e.occurred_at < $1::date + 7 * ($2::int + 1) GROUP BY 1 ORDER BY 1`

const queries: Query[] = [
  { name: `DAU ${days} days`, url: `/stats/dau?from=${firstDay}&to=${lastDay}`, duck: (r) => dailyActiveUsers(r, { from: day(firstDay), to: day(lastDay) }), pg: { sql: PG_DAU, values: [firstDay, lastDay] } },
  { name: 'DAU 7 days', url: `/stats/dau?from=${weekAgo}&to=${lastDay}`, duck: (r) => dailyActiveUsers(r, { from: day(weekAgo), to: day(lastDay) }), pg: { sql: PG_DAU, values: [weekAgo, lastDay] } },
  { name: 'top events 10', url: `/stats/top-events?from=${firstDay}&to=${lastDay}&limit=10`, duck: (r) => topEvents(r, { from: day(firstDay), to: day(lastDay) }, 10), pg: { sql: PG_TOP, values: [firstDay, lastDay, 10] } },
  { name: 'top events 100', url: `/stats/top-events?from=${firstDay}&to=${lastDay}&limit=100`, duck: (r) => topEvents(r, { from: day(firstDay), to: day(lastDay) }, 100), pg: { sql: PG_TOP, values: [firstDay, lastDay, 100] } },
  { name: 'retention 3 weeks', url: `/stats/retention?start_date=${cohortStart}&windows=3`, duck: (r) => weeklyRetention(r, day(cohortStart), 3), pg: { sql: PG_RETENTION, values: [cohortStart, 3] } },
]

async function timeIt(n: number, warmup: number, fn: () => Promise<unknown>): Promise<{ p50: number; p95: number; p99: number }> {
  for (let i = 0; i < warmup; i++) await fn()
  const samples: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await fn()
    samples.push(performance.now() - t)
  }
  const r = (p: number) => Math.round(percentile(samples, p) * 10) / 10
  return { p50: r(50), p95: r(95), p99: r(99) }
}

async function httpGet(base: string, url: string): Promise<unknown> {
  const res = await request(`${base}${url}`)
  const body = await res.body.json()
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${JSON.stringify(body)}`)
  return body
}

const sandbox = args.database
  ? { databaseUrl: args.database, databaseName: new URL(args.database).pathname.slice(1), redisPrefix: 'ea:bench:reuse:', destroy: async () => {} }
  : await createSandbox(ADMIN, REDIS)
const dir = mkdtempSync(join(tmpdir(), 'ea-bench-stats-'))
const duckPath = join(dir, 'analytics.duckdb')
let service: Service | undefined
try {
  if (!args.database) console.log(`seeding ${events.toLocaleString()} events (${users.toLocaleString()} users, ${days} days) into ${sandbox.databaseName}`)
  let t = performance.now()
  if (!args.database) {
    await seedEvents(sandbox.databaseUrl, { events, users, days, lastDay }, (done) => process.stdout.write(`\r  ${done.toLocaleString()} rows`))
    console.log(`\n  seeded in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  }

  // The service starts with an empty replica file: what it does is a full rebuild.
  t = performance.now()
  service = await Service.start({
    mode: 'direct', workers: 0, databaseUrl: sandbox.databaseUrl, redisUrl: REDIS, redisPrefix: sandbox.redisPrefix,
    extraEnv: { DUCKDB_PATH: duckPath },
    waitIdle: false,
  })
  const base = service.baseUrl
  for (;;) {
    const status = (await httpGet(base, '/events/queue/status')) as { sync: { synced_rows: number; rows_behind: number } }
    if (status.sync.synced_rows >= events && status.sync.rows_behind === 0) break
    await new Promise((r) => setTimeout(r, 200))
  }
  const catchUpSeconds = (performance.now() - t) / 1000
  console.log(`replica caught up: ${events.toLocaleString()} rows in ${catchUpSeconds.toFixed(1)} s (${Math.round(events / catchUpSeconds).toLocaleString()} rows/s, start-up included)`)

  // Freshness: a small batch written directly (201), then polled until /stats shows it.
  const fresh: number[] = []
  for (let i = 0; i < 30; i++) {
    const type = `fresh-${i}`
    const started = performance.now()
    const res = await request(`${base}/events`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ event_id: crypto.randomUUID(), occurred_at: `${lastDay}T12:00:00Z`, user_id: 'fresh-user', event_type: type }]),
    })
    await res.body.dump()
    for (;;) {
      const top = (await httpGet(base, `/stats/top-events?from=${lastDay}&to=${lastDay}&limit=1000`)) as Array<{ event_type: string }>
      if (top.some((r) => r.event_type === type)) break
      await new Promise((r) => setTimeout(r, 5))
    }
    fresh.push(performance.now() - started)
  }

  const results = []
  for (const q of queries) {
    const http = await timeIt(runs, 5, () => httpGet(base, q.url))
    results.push({ name: q.name, http })
    console.log(`  ${q.name.padEnd(18)} HTTP p50 ${http.p50} ms  p95 ${http.p95} ms  p99 ${http.p99} ms`)
  }
  const usage = await service.usage()
  await service.stop()
  service = undefined

  const replica = await DuckDbReplica.open(duckPath, { memoryLimit: '1GB', threads: 2 }, createLogger('warn'))
  for (const [i, q] of queries.entries()) results[i] = { ...results[i]!, duckdb: await timeIt(runs, 5, () => q.duck(replica)) }
  replica.close()

  const client = new pg.Client({ connectionString: sandbox.databaseUrl })
  await client.connect()
  for (const [i, q] of queries.entries()) results[i] = { ...results[i]!, postgres: await timeIt(pgRuns, 1, () => client.query(q.pg.sql, q.pg.values)) }
  await client.end()

  const freshness = { p50: Math.round(percentile(fresh, 50)), p99: Math.round(percentile(fresh, 99)) }
  console.log(`\n| query (${(events / 1e6).toFixed(1)}M events) | HTTP p50 | HTTP p95 | DuckDB direct p50 | DuckDB direct p95 | PostgreSQL p50 | HTTP p95 / DuckDB p95 |`)
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const r of results as Array<{ name: string; http: { p50: number; p95: number }; duckdb: { p50: number; p95: number }; postgres: { p50: number } }>) {
    console.log(`| ${r.name} | ${r.http.p50} ms | ${r.http.p95} ms | ${r.duckdb.p50} ms | ${r.duckdb.p95} ms | ${r.postgres.p50} ms | ${(r.http.p95 / r.duckdb.p95).toFixed(2)} |`)
  }
  console.log(`\nreplica catch-up: ${Math.round(events / catchUpSeconds).toLocaleString()} rows/s; freshness (insert → visible) p50 ${freshness.p50} ms, p99 ${freshness.p99} ms`)
  console.log(`peak memory: ${usage.map((u) => `${u.role} ${u.peakRssMb} MB`).join(', ')}`)
  await mkdir(new URL('./results/', import.meta.url), { recursive: true })
  const file = new URL(`./results/stats-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url)
  await writeFile(file, JSON.stringify({ events, users, days, catchUpRowsPerSecond: Math.round(events / catchUpSeconds), freshness, usage, results }, null, 2))
  console.log(`written to ${file.pathname}`)
} finally {
  await service?.stop()
  if (args.keep) console.log(`kept database ${sandbox.databaseUrl}`)
  else await sandbox.destroy()
  rmSync(dir, { recursive: true, force: true })
}
