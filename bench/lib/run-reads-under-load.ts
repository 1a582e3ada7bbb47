import { EVENT_COLUMNS, toCopyChunks } from './baseline.ts'
import { type Engine, openPostgres } from './engine.ts'
import { describeMachine } from './machine.ts'
import type { BenchOptions } from './options.ts'
import { statsQueries } from './queries.ts'
import { measureReadsUnderLoad } from './reads-under-load.ts'
import type { Progress, RunResult } from './run.ts'
import { checkAfterStop, deleteOneEvent, restoreReused, serviceOptionsFor } from './run.ts'
import type { Sandbox } from './sandbox.ts'
import { seedData, waitReplicaBuilt } from './seeded.ts'
import { Service } from './service.ts'

/** the seeded events as they were before the load, then every posted one: what the store must hold */
const EXPECTED_TABLE = 'bench_expected_events'
const DAY_MS = 86_400_000
// The replica folds its rollups after a build; at 10M rows that takes a while.
const IDLE_TIMEOUT_MS = 600_000

/**
 * --reads-under-load: seed (or reuse) PostgreSQL, let the service build its
 * replica and go idle, time every query idle and then under load
 * (reads-under-load.ts), then check every seeded and posted event exactly once.
 */
export async function runReadsUnderLoadBench(
  options: BenchOptions,
  sandbox: Sandbox,
  progress: Progress,
  busyBefore: number,
): Promise<RunResult> {
  const serviceOptions = serviceOptionsFor(options, sandbox)
  const databaseUrl = sandbox.databaseUrl!
  const data = await seedData(options, databaseUrl, progress)
  const queries = statsQueries(data.lastDay, 'realistic')
  const engine = openPostgres(databaseUrl, 2)
  try {
    await snapshotExpected(engine)

    progress(`starting the service: queue mode, ${options.workers} worker process(es)`)
    const startedAt = performance.now()
    const service = await Service.start({ ...serviceOptions, waitIdle: false })
    let seed, load, processes
    try {
      seed = await waitReplicaBuilt(service, startedAt, data, databaseUrl, options.redisUrl)
      progress(
        `replica built from ${data.count} rows in ${(seed.replicaBuildMs / 1000).toFixed(1)} s; waiting for the service to go idle`,
      )
      await Promise.race([service.waitIdle(IDLE_TIMEOUT_MS), service.crashed])
      load = await measureReadsUnderLoad(
        service,
        {
          queries,
          // The seed's users, in its days: the load adds to the same population and ranges the queries read.
          events: {
            users: options.users,
            days: options.days,
            ids: options.ids,
            endMs: Math.min(Date.parse(`${data.lastDay}T00:00:00Z`) + DAY_MS, Date.now() - 60_000),
            userPrefix: 'user-',
          },
          loadEvents: options.loadEvents,
          loadRuns: options.loadRuns,
          idleRuns: options.runs,
          batch: options.batch,
          concurrency: options.concurrency,
          storedBefore: data.count,
          databaseUrl,
          redisUrl: options.redisUrl,
        },
        progress,
      )
      processes = await service.usage()
    } finally {
      await service.stop()
    }

    const machine = await describeMachine(engine, options.redisUrl, busyBefore)
    if (options.injectMissingEvent) await deleteOneEvent(engine, progress)
    await engine.copyIn(EXPECTED_TABLE, EVENT_COLUMNS, toCopyChunks(load.posted))
    const check = await checkAfterStop(
      engine,
      serviceOptions,
      { table: EXPECTED_TABLE, compareContent: true, count: data.count + load.posted.length },
      progress,
      'every seeded and posted event',
    )
    if (sandbox.reused) await restoreReused(engine, load.posted, [EXPECTED_TABLE])
    return {
      machine,
      lastDay: data.lastDay,
      seed,
      readsUnderLoad: load.result,
      startup: { firstMs: service.startupMs },
      processes,
      correctness: { ...check, answers: [] },
    }
  } finally {
    await engine.close()
  }
}

/** The store's events before the service starts: the posted ones are added to it after the load. */
async function snapshotExpected(engine: Engine): Promise<void> {
  // A reused database (--database) may keep one from a run that was interrupted.
  await engine.query(`DROP TABLE IF EXISTS ${EXPECTED_TABLE}`)
  await engine.query(
    `CREATE TABLE ${EXPECTED_TABLE} AS SELECT ${EVENT_COLUMNS.join(', ')} FROM events`,
  )
}
