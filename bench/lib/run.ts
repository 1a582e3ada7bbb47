import { join } from 'node:path'
import { DuckDbReplica } from '../../src/analytics/duckdb-replica.ts'
import { loadConfig } from '../../src/config.ts'
import { createLogger } from '../../src/logger.ts'
import {
  BASELINE_TABLES,
  COPY_TABLE,
  copyBaseline,
  EVENT_COLUMNS,
  singleInsertLatency,
  toCopyChunks,
  unnestBaseline,
} from './baseline.ts'
import { type CheckResult, checkExactlyOnce, type Expected } from './check.ts'
import { writeEventsCsv } from './csv-file.ts'
import { type BenchEvent, toRequestBodies } from './dataset.ts'
import { type Engine, openPglite, openPostgres } from './engine.ts'
import { type FreshnessResult, MARKER_TYPE, measureFreshness } from './freshness.ts'
import { type IngestResult, measureIngest } from './ingest.ts'
import { describeMachine } from './machine.ts'
import type { BenchOptions } from './options.ts'
import { type DatasetShape, exportEventsCsv, PlainDuckDb } from './plain-duckdb.ts'
import {
  type QueryTiming,
  statsQueries,
  timeDuckDb,
  timeHttp,
  timePlainDuckDb,
  timePostgres,
} from './queries.ts'
import { generateEvents } from './realistic.ts'
import type { BenchReport } from './report.ts'
import type { Sandbox } from './sandbox.ts'
import { seedData, waitReplicaBuilt } from './seeded.ts'
import { type ProcessUsage, Service, type ServiceOptions } from './service.ts'
import type { Percentiles } from './stats.ts'

export type Progress = (message: string) => void
export type RunResult = Omit<
  BenchReport,
  'ratios' | 'startedAt' | 'serviceSource' | 'settings' | 'benchPeakRssMb'
>

/**
 * The benchmark the issue describes: data in (over HTTP, or seeded in SQL),
 * freshness, every /stats query over HTTP, then with the service stopped the
 * raw engines on the same data and the exactly-once check.
 */
export async function runBench(
  options: BenchOptions,
  sandbox: Sandbox,
  progress: Progress,
  busyBefore: number,
): Promise<RunResult> {
  const serviceOptions = serviceOptionsFor(options, sandbox)
  const data: Data = options.seedSql
    ? {
        events: undefined,
        bodies: [],
        ...(await seedData(options, sandbox.databaseUrl!, progress)),
      }
    : generateData(options, progress)
  if (sandbox.reused && !options.seedSql) await assertEmpty(sandbox.databaseUrl!)
  const queries = statsQueries(data.lastDay, options.dataset)

  progress(
    `starting the service: ${options.mode} mode${options.workers ? `, ${options.workers} worker process(es)` : ''}`,
  )
  const startedAt = performance.now()
  // With --seed-sql the start-up is the replica build, which is what is measured: do not wait for it to go idle.
  const service = await Service.start({ ...serviceOptions, waitIdle: !options.seedSql })
  let ingest: IngestResult | undefined
  let seed: BenchReport['seed']
  let freshness: FreshnessResult
  let http: Awaited<ReturnType<typeof timeHttp>>
  let processes: ProcessUsage[]
  let restartMs: number | undefined
  try {
    if (data.events) {
      progress(`sending ${data.bodies.length} requests from ${options.concurrency} clients`)
      ingest = await measureIngest(
        service,
        options.mode,
        sandbox.databaseUrl,
        options.mode === 'embedded' ? undefined : options.redisUrl,
        data.bodies,
        options.concurrency,
      )
      progress(
        `stored at ${Math.round(ingest.storedEventsPerSecond)} events/s; queryable after ${(ingest.queryableDurationMs / 1000).toFixed(1)} s`,
      )
    } else {
      seed = await waitReplicaBuilt(
        service,
        startedAt,
        data,
        sandbox.databaseUrl!,
        options.redisUrl,
      )
      progress(
        `replica built from ${data.count} rows in ${(seed.replicaBuildMs / 1000).toFixed(1)} s`,
      )
    }
    progress(`freshness: ${options.markers} markers`)
    freshness = await Promise.race([
      measureFreshness(service.baseUrl, options.markers, options.mode === 'queue' ? 202 : 201),
      service.crashed,
    ])
    progress(`timing ${queries.length} /stats queries over HTTP, ${options.runs} runs each`)
    http = await Promise.race([timeHttp(service.baseUrl, queries, options.runs), service.crashed])
    processes = await service.usage()
  } finally {
    await service.stop()
  }
  if (options.mode === 'embedded') {
    // What a laptop user waits for after a reboot: opening the store and replica as they now are.
    const again = await Service.start({ ...serviceOptions, waitIdle: false })
    restartMs = again.startupMs
    await again.stop()
  }

  const engine =
    options.mode === 'embedded'
      ? await openPglite(sandbox.dataDir)
      : openPostgres(sandbox.databaseUrl!, options.concurrency)
  try {
    const machine = await describeMachine(
      engine,
      options.mode === 'embedded' ? undefined : options.redisUrl,
      busyBefore,
    )
    if (options.injectMissingEvent) await deleteOneEvent(engine, progress)
    let raw: NonNullable<BenchReport['ingest']>['raw'] | undefined
    let expected: Expected
    if (data.events) {
      progress('raw engine: COPY, then INSERT … unnest')
      raw = {
        copy: await copyBaseline(engine, data.events),
        unnest: await unnestBaseline(engine, data.events, options.batch, options.concurrency),
      }
      // The COPY table holds every event as sent; with the markers it is everything the service accepted.
      await engine.copyIn(COPY_TABLE, EVENT_COLUMNS, toCopyChunks(freshness.markers))
      expected = {
        table: COPY_TABLE,
        compareContent: true,
        count: data.events.length + freshness.markers.length,
      }
    } else {
      expected = {
        count: data.count + freshness.markers.length,
        markerIds: freshness.markers.map((m) => m.event_id),
      }
    }
    const rawFreshness = await singleInsertLatency(engine, options.markers)

    const replica = await openReplica(serviceOptions)
    let duckdb: Percentiles[]
    let check: CheckResult
    try {
      progress('timing the same query functions on the replica file, directly')
      duckdb = await timeDuckDb(replica, queries, options.runs)
      progress('checking: every accepted event exactly once, in PostgreSQL and in the replica')
      check = await checkExactlyOnce(engine, replica, expected)
    } finally {
      replica.close()
    }
    const answersOf = http.map((h) => h.answer)
    const { shape, timings: plainTimings } = await plainDuckDbBaseline(
      options,
      serviceOptions,
      sandbox,
      data,
      freshness.markers,
      queries,
      answersOf,
      progress,
    )
    progress(`plain SQL on ${engine.kind}: ${options.pgRuns} runs per query`)
    const pg = await timePostgres(engine, queries, options.pgRuns, answersOf, (name, p) =>
      progress(`  ${name}: p50 ${p.p50} ms`),
    )
    const timings: QueryTiming[] = queries.map((q, i) => ({
      name: q.name,
      path: q.path,
      http: http[i]!.http,
      duckdb: duckdb[i]!,
      ...plainTimings[i]!,
      ...pg[i]!,
    }))
    const answers = [
      ...timings
        .filter((t) => !t.samePlainDuckdbAnswer)
        .map(
          (t) => `/stats answers ${t.name} differently from plain SQL on the plain DuckDB table`,
        ),
      ...timings
        .filter((t) => !t.sameAnswer)
        .map((t) => `/stats answers ${t.name} differently from plain SQL on ${engine.kind}`),
    ]
    for (const a of answers) progress(`MISMATCH: ${a}`)
    if (sandbox.reused) await restoreReused(engine, freshness.markers)
    return {
      machine,
      dataset: { kind: options.dataset, ids: options.ids, shape },
      lastDay: data.lastDay,
      ...(ingest && raw ? { ingest: { ...ingest, raw } } : {}),
      ...(seed ? { seed } : {}),
      freshness: { ms: freshness.ms, raw: rawFreshness, markers: freshness.markers.length },
      queries: timings,
      startup: { firstMs: service.startupMs, ...(restartMs === undefined ? {} : { restartMs }) },
      processes,
      correctness: { ...check, ok: check.ok && answers.length === 0, answers },
    }
  } finally {
    await engine.close()
  }
}

// Property paths whose distinct values the report counts, per data set.
export const SHAPE_PATHS = {
  realistic: [
    'path',
    'session',
    'referrer',
    'utm_source',
    'utm_campaign',
    'country',
    'browser',
    '$.device.os',
    '$.device.type',
    'amount',
    'n',
    'logged_in',
  ],
  friendly: ['country', 'plan', 'page', 'element', 'referrer', 'query_length', 'amount'],
}

/**
 * The events the service holds (sent, or seeded, and the markers) in one
 * plain DuckDB table: its shape measured, and every query asked of it.
 */
async function plainDuckDbBaseline(
  options: BenchOptions,
  serviceOptions: ServiceOptions,
  sandbox: Sandbox,
  data: Data,
  markers: readonly BenchEvent[],
  queries: ReturnType<typeof statsQueries>,
  answers: readonly unknown[],
  progress: Progress,
): Promise<{ shape: DatasetShape; timings: Awaited<ReturnType<typeof timePlainDuckDb>> }> {
  const csv = join(sandbox.dataDir, 'plain-events.csv')
  const started = performance.now()
  if (data.events) await writeEventsCsv(csv, [...data.events, ...markers])
  else await exportEventsCsv(sandbox.databaseUrl!, csv)
  const plain = await PlainDuckDb.load(
    join(sandbox.dataDir, 'plain.duckdb'),
    csv,
    loadConfig(serviceOptions.extraEnv).analytics,
  )
  try {
    progress(
      `plain DuckDB table loaded from ${csv} in ${((performance.now() - started) / 1000).toFixed(1)} s; measuring the data set's shape`,
    )
    const shape = await plain.shape(SHAPE_PATHS[options.dataset])
    progress(`  ${JSON.stringify(shape)}`)
    progress(`plain SQL on the plain DuckDB table: ${options.runs} runs per query`)
    return { shape, timings: await timePlainDuckDb(plain, queries, options.runs, answers) }
  } finally {
    plain.close()
  }
}

export function serviceOptionsFor(options: BenchOptions, sandbox: Sandbox): ServiceOptions {
  return {
    mode: options.mode,
    workers: options.workers,
    databaseUrl: sandbox.databaseUrl,
    redisUrl: options.redisUrl,
    redisPrefix: sandbox.redisPrefix,
    dataDir: sandbox.dataDir,
    duckdbPath: join(sandbox.dataDir, 'analytics.duckdb'),
    extraEnv: options.serviceEnv,
  }
}

/** The exactly-once check (check.ts) of the store and of the replica file, once the service has stopped. */
export async function checkAfterStop(
  engine: Engine,
  serviceOptions: ServiceOptions,
  expected: Expected,
  progress: Progress,
  what = 'every accepted event',
): Promise<CheckResult> {
  const replica = await openReplica(serviceOptions)
  try {
    progress(`checking: ${what} exactly once, in PostgreSQL and in the replica`)
    return await checkExactlyOnce(engine, replica, expected)
  } finally {
    replica.close()
  }
}

/** The replica file, opened here once the service has stopped, with the service's DuckDB limits. */
export function openReplica(s: ServiceOptions): Promise<DuckDbReplica> {
  return DuckDbReplica.open(s.duckdbPath, loadConfig(s.extraEnv).analytics, createLogger('warn'))
}

type Data =
  | {
      events: BenchEvent[]
      bodies: Array<{ body: string; count: number }>
      lastDay: string
      count: number
      seededMs?: undefined
    }
  | { events: undefined; bodies: []; lastDay: string; count: number; seededMs: number | undefined }

function generateData(options: BenchOptions, progress: Progress): Data {
  progress(
    `generating ${options.events} ${options.dataset} events (ids ${options.ids}) for ${options.users} users over ${options.days} days`,
  )
  const events = generateEvents(options)
  // The latest ISO time: strings, which Math.max cannot compare.
  const lastDay = events
    // biome-ignore lint/complexity/useMathMinMax: these are strings
    .reduce((max, e) => (e.occurred_at > max ? e.occurred_at : max), '')
    .slice(0, 10)
  return { events, bodies: toRequestBodies(events, options.batch), lastDay, count: events.length }
}

async function assertEmpty(databaseUrl: string): Promise<void> {
  const engine = openPostgres(databaseUrl, 1)
  try {
    const n = Number((await engine.query<{ n: string }>('SELECT count(*) AS n FROM events'))[0]!.n)
    if (n > 0)
      throw new Error(`--database without --seed-sql needs an empty events table; it holds ${n}`)
  } finally {
    await engine.close()
  }
}

/** --inject-missing-event: what a lost write looks like, for the test that proves the check sees it. */
export async function deleteOneEvent(engine: Engine, progress: Progress): Promise<void> {
  // The latest event: it falls inside every query's range, so plain SQL on the
  // store must then answer differently; an arbitrary row could lie outside them all.
  const [row] = await engine.query<{ event_id: string }>(
    `DELETE FROM events WHERE event_id = (
       SELECT event_id FROM events WHERE event_type <> $1 ORDER BY occurred_at DESC, event_id LIMIT 1
     ) RETURNING event_id::text`,
    [MARKER_TYPE],
  )
  progress(`--inject-missing-event: deleted event ${row?.event_id} from the store`)
}

/** A database given with --database is left as found: without the run's tables and the events it added. */
export async function restoreReused(
  engine: Engine,
  added: readonly BenchEvent[],
  tables: readonly string[] = BASELINE_TABLES,
): Promise<void> {
  for (const table of tables) await engine.query(`DROP TABLE IF EXISTS ${table}`)
  await engine.query('DELETE FROM events WHERE event_id = ANY($1::uuid[])', [
    added.map((m) => m.event_id),
  ])
}
