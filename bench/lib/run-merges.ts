import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { listValue } from '@duckdb/node-api'
import { loadConfig } from '../../src/config.ts'
import { openPostgres } from './engine.ts'
import { getJson } from './http.ts'
import { describeMachine } from './machine.ts'
import type { BenchOptions } from './options.ts'
import { exportEventsCsv, PlainDuckDb } from './plain-duckdb.ts'
import { type Progress, serviceOptionsFor } from './run.ts'
import type { Sandbox } from './sandbox.ts'
import { seedData, waitReplicaBuilt } from './seeded.ts'
import { Service } from './service.ts'
import { type Percentiles, perSecond, timeRuns } from './stats.ts'

// --merges K, the measurement of identity merging: K Segment identify calls
// that rename (an anonymous user with events signs up under a new id), then
// K that move (two users who both have events become one), posted to
// /v1/batch on a replica built from the seeded events. Timed until the
// replica has applied the last call of each phase; then DAU over the whole
// range, asked of the service, beside the same question of a plain DuckDB
// table of the same events with the same links joined in (and the plain
// UPDATE that would apply them there), and the two answers compared.

const BATCH = 500
const POLL_MS = 20

export interface MergePhase {
  calls: number
  ms: number
  perSecond: number
}

export interface MergesReport {
  startedAt: string
  settings: { events: number; users: number; days: number; merges: number; mode: string }
  machine: Awaited<ReturnType<typeof describeMachine>>
  replicaBuildMs: number
  renames: MergePhase
  moves: MergePhase
  plainUpdateMs: number
  dau: { service: Percentiles; plain: Percentiles }
  correct: boolean
  problems: string[]
}

export async function runMergesBench(
  options: BenchOptions,
  sandbox: Sandbox,
  progress: Progress,
  busyBefore: number,
): Promise<Omit<MergesReport, 'startedAt'>> {
  const databaseUrl = sandbox.databaseUrl!
  const serviceOptions = serviceOptionsFor(options, sandbox)
  const data = await seedData(options, databaseUrl, progress)
  const engine = openPostgres(databaseUrl, 1)
  const k = options.merges
  const users = (
    await engine.query<{ user_id: string }>(
      'SELECT user_id FROM (SELECT DISTINCT user_id FROM events) u ORDER BY md5(user_id) LIMIT $1',
      [3 * k],
    )
  ).map((r) => r.user_id)
  if (users.length < 3 * k) throw new Error(`--merges ${k} needs ${3 * k} users with events`)
  const renames = users.slice(0, k).map((anon, i) => ({ anon, user: `signed-up-${i}` }))
  const moves = Array.from({ length: k }, (_, i) => ({
    anon: users[k + 2 * i]!,
    user: users[k + 2 * i + 1]!,
  }))
  const first = (
    await engine.query<{ day: string }>(
      `SELECT min(occurred_at AT TIME ZONE 'UTC')::date::text AS day FROM events`,
    )
  )[0]!.day
  const dauPath = `/stats/dau?from=${first}&to=${data.lastDay}`

  progress(`starting the service (${options.mode} mode) on ${data.count} seeded events`)
  const startedAt = performance.now()
  const service = await Service.start({ ...serviceOptions, waitIdle: false })
  let renamed: MergePhase
  let moved: MergePhase
  let serviceDau: Percentiles
  let answer: Array<{ date: string; unique_users: number }>
  let replicaBuildMs: number
  try {
    const seed = await waitReplicaBuilt(service, startedAt, data, databaseUrl, options.redisUrl)
    replicaBuildMs = seed.replicaBuildMs
    progress(`replica built in ${(replicaBuildMs / 1000).toFixed(1)} s; ${k} renames`)
    renamed = await postLinks(service.baseUrl, renames)
    progress(`  ${renamed.perSecond.toFixed(0)} calls/s; ${k} moves`)
    moved = await postLinks(service.baseUrl, moves)
    progress(`  ${moved.perSecond.toFixed(0)} calls/s; timing ${dauPath}`)
    answer = await getJson(service.baseUrl, dauPath)
    serviceDau = await timeRuns(options.runs, 2, () => getJson(service.baseUrl, dauPath))
  } finally {
    await service.stop()
  }

  const csv = join(sandbox.dataDir, 'plain-events.csv')
  await exportEventsCsv(databaseUrl, csv, 1)
  const plain = await PlainDuckDb.load(
    join(sandbox.dataDir, 'plain.duckdb'),
    csv,
    loadConfig(serviceOptions.extraEnv).analytics,
  )
  let plainDau: Percentiles
  let plainUpdateMs: number
  const problems: string[] = []
  try {
    const links = [...renames, ...moves]
    await plain.query(
      'CREATE TABLE links AS SELECT unnest($1::VARCHAR[]) AS user_id, unnest($2::VARCHAR[]) AS person',
      [listValue(links.map((l) => l.anon)), listValue(links.map((l) => l.user))],
    )
    // The question as plainly asked: distinct persons per day, the links joined in.
    const sql = `SELECT occurred_at::DATE AS day, count(DISTINCT coalesce(l.person, e.user_id)) AS users
      FROM events e LEFT JOIN links l USING (user_id) GROUP BY ALL ORDER BY day`
    plainDau = await timeRuns(options.runs, 2, () => plain.query(sql))
    const rows = await plain.query(sql)
    const want = new Map(rows.map((r) => [String(r.day), Number(r.users)]))
    for (const { date, unique_users } of answer)
      if ((want.get(date) ?? 0) !== unique_users)
        problems.push(`${date}: ${unique_users} users, plain SQL ${want.get(date) ?? 0}`)
    const at = performance.now()
    await plain.query(
      'UPDATE events SET user_id = l.person FROM links l WHERE events.user_id = l.user_id',
    )
    plainUpdateMs = performance.now() - at
  } finally {
    plain.close()
  }
  const machine = await describeMachine(engine, options.redisUrl, busyBefore)
  await engine.close()
  for (const p of problems) progress(`MISMATCH: ${p}`)
  return {
    settings: {
      events: data.count,
      users: options.users,
      days: options.days,
      merges: k,
      mode: options.mode,
    },
    machine,
    replicaBuildMs,
    renames: renamed,
    moves: moved,
    plainUpdateMs,
    dau: { service: serviceDau, plain: plainDau },
    correct: problems.length === 0,
    problems,
  }
}

/** Posts the links as identify calls, BATCH a request; resolves when the replica has applied the last. */
async function postLinks(
  baseUrl: string,
  links: ReadonlyArray<{ anon: string; user: string }>,
): Promise<MergePhase> {
  const started = performance.now()
  for (let i = 0; i < links.length; i += BATCH) {
    const batch = links.slice(i, i + BATCH).map((l) => ({
      type: 'identify',
      messageId: randomUUID(),
      userId: l.user,
      anonymousId: l.anon,
    }))
    const res = await fetch(`${baseUrl}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ batch }),
    })
    if (res.status !== 200) throw new Error(`POST /v1/batch: ${res.status} ${await res.text()}`)
  }
  // Calls are applied in commit order: once the last is, every one is.
  const last = links[links.length - 1]!
  for (;;) {
    const res = await fetch(`${baseUrl}/users/${encodeURIComponent(last.anon)}?events=0`)
    if (res.status === 200 && ((await res.json()) as { user_id: string }).user_id === last.user)
      break
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
  const ms = performance.now() - started
  return { calls: links.length, ms: Math.round(ms), perSecond: perSecond(links.length, ms) }
}

export function renderMergesMarkdown(r: MergesReport): string {
  const s = r.settings
  const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : 'n/a')
  return `## Identity merges (${r.startedAt})

${s.events} seeded events of ${s.users} users over ${s.days} days, ${s.mode} mode; replica built in ${(r.replicaBuildMs / 1000).toFixed(1)} s.
${r.machine.cores} cores (${r.machine.cpu}), ${r.machine.store}, ${r.machine.duckdb}; the machine was ${r.machine.busyBeforeRunPercent}% busy before the run.

| phase | calls | applied in | calls/s |
| --- | ---: | ---: | ---: |
| renames (an anonymous user with events signs up under a new id) | ${r.renames.calls} | ${r.renames.ms} ms | ${r.renames.perSecond.toFixed(0)} |
| moves (two users with events become one) | ${r.moves.calls} | ${r.moves.ms} ms | ${r.moves.perSecond.toFixed(0)} |
| plain DuckDB: \`UPDATE events SET user_id = person\` for all ${r.renames.calls + r.moves.calls} links | | ${Math.round(r.plainUpdateMs)} ms | |

| DAU over the whole range, links applied | p50 | p95 | p99 |
| --- | ---: | ---: | ---: |
| /stats/dau | ${r.dau.service.p50} ms | ${r.dau.service.p95} ms | ${r.dau.service.p99} ms |
| plain DuckDB, \`count(DISTINCT coalesce(person, user_id))\` with the links joined | ${r.dau.plain.p50} ms | ${r.dau.plain.p95} ms | ${r.dau.plain.p99} ms |
| ratio | ${ratio(r.dau.service.p50, r.dau.plain.p50)} | ${ratio(r.dau.service.p95, r.dau.plain.p95)} | ${ratio(r.dau.service.p99, r.dau.plain.p99)} |

Answers: ${r.correct ? 'every day equal to plain SQL' : `MISMATCH: ${r.problems.join('; ')}`}.
`
}
